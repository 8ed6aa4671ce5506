"""From findings to a plan: which workloads to change, to what, and which findings the safety rules refuse.

Pure: a RightsizingReport and idle items in (with what the store knows of each workload: HPA, PDBs,
annotations), a Plan out. Nothing here talks to a cluster; `upid.workflows.optimize` applies plans.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from upid.analysis.idle import IdleItem
from upid.analysis.rightsizing import SEVERITIES, RightsizingReport, Row
from upid.analysis.savings import Finding
from upid.analysis.window import NO_WORKLOAD, Workload
from upid.optimize import safety
from upid.optimize.safety import SafetyPolicy

RESOURCE_KEYS = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")
Values = dict[str, float | None]
Key = tuple[str, str, str]  # namespace, kind, name


@dataclass(frozen=True)
class ContainerChange:
    name: str
    before: Values
    after: Values

    @property
    def changed(self) -> list[str]:
        return [k for k in RESOURCE_KEYS if self.after.get(k) != self.before.get(k)]


@dataclass(frozen=True)
class Change:
    namespace: str
    kind: str
    name: str
    action: str  # rightsize | scale-to-zero
    containers: tuple[ContainerChange, ...] = ()
    replicas_before: int | None = None
    replicas_after: int | None = None
    monthly_savings: float = 0.0
    confidence: float | None = None
    severity: str | None = None
    risk: dict[str, Any] | None = None

    @property
    def key(self) -> Key:
        return (self.namespace, self.kind, self.name)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name}"


@dataclass(frozen=True)
class Skip:
    namespace: str
    kind: str
    name: str
    container: str | None
    action: str
    rule: str
    reason: str
    monthly_savings: float = 0.0  # what the refused change would have saved (none for a part an HPA holds)


@dataclass(frozen=True)
class PlanOptions:
    only: str | None = None  # rightsize | idle
    min_savings: float = 0.0  # a month, in the report's currency
    min_severity: str = "good"  # rightsizing rows below it are left out
    safety: SafetyPolicy = field(default_factory=SafetyPolicy)


@dataclass
class Plan:
    cluster: str
    start: int
    end: int
    strategy: str
    currency: str
    changes: list[Change]
    skipped: list[Skip]
    below_threshold: int = 0  # changes left out by --min-savings or --severity
    below_threshold_savings: float = 0.0
    sleep: dict[Key, float] = field(default_factory=dict)  # workloads to sleep on a schedule: not optimize's job
    not_applicable: float = 0.0  # findings with nothing to change or scale (no replicas, values as they are)
    left_out: float = 0.0  # findings of the kind --only leaves out

    @property
    def monthly_savings(self) -> float:
        return round(sum(c.monthly_savings for c in self.changes), 2)

    def reconciliation(self) -> dict[str, float]:
        """The plan's savings and what is not in it, adding up to analyze's savings a month (to the cent)."""
        skipped = round(sum(s.monthly_savings for s in self.skipped if s.rule != "hpa"), 2)  # hpa: beyond analyze
        parts = {
            "plan": self.monthly_savings,
            "skipped": skipped,
            "sleep_schedules": round(sum(self.sleep.values()), 2),
            "below_threshold": round(self.below_threshold_savings, 2),
            "nothing_to_change": round(self.not_applicable, 2),
            "left_out_by_only": round(self.left_out, 2),
        }
        return {**parts, "total": round(sum(parts.values()), 2)}


def _after(row: Row) -> Values:
    """The values a container gets: the recommendation where there is one, else what it has. A CPU limit
    is only set when recommended, and raised to the new request when it would be below it."""
    u, r = row.usage, row.recommendation
    after: Values = {
        "cpu_request": r.cpu_request if r.cpu_request is not None else u.cpu_request,
        "cpu_limit": r.cpu_limit if r.cpu_limit is not None else u.cpu_limit,
        "memory_request": r.memory_request if r.memory_request is not None else u.memory_request,
        "memory_limit": r.memory_limit if r.memory_limit is not None else u.memory_limit,
    }
    for kind in ("cpu", "memory"):
        request, limit = after[f"{kind}_request"], after[f"{kind}_limit"]
        if request is not None and limit is not None and limit < request:
            after[f"{kind}_limit"] = request
    return after


def _values(row: Row) -> Values:
    u = row.usage
    return {
        "cpu_request": u.cpu_request,
        "cpu_limit": u.cpu_limit,
        "memory_request": u.memory_request,
        "memory_limit": u.memory_limit,
    }


def _keep_only(before: Values, after: Values, blocked: set[str]) -> Values:
    """Leave the resources in `blocked` (cpu, memory) as they are."""
    return {k: (before[k] if k.split("_")[0] in blocked else v) for k, v in after.items()}


Saving = Callable[[Row, Values], float]  # what a container saves a month with these values


def _whole(row: Row, after: Values) -> float:
    return row.monthly_savings


class _Builder:
    def __init__(
        self,
        workloads: Mapping[Key, Workload],
        options: PlanOptions,
        saving: Saving = _whole,
    ) -> None:
        self.workloads, self.options, self.saving = workloads, options, saving
        self.skipped: list[Skip] = []
        self.not_applicable = 0.0

    def workload(self, key: Key) -> Workload:
        return self.workloads.get(key, NO_WORKLOAD)

    def refuse(
        self, key: Key, container: str | None, action: str, rule: str, reason: str | None, savings: float = 0.0
    ) -> bool:
        if reason:
            self.skipped.append(Skip(*key, container, action, rule, reason, round(savings, 2)))
        return bool(reason)

    def workload_refused(self, key: Key, action: str, savings: float) -> bool:
        policy = self.options.safety
        return self.refuse(
            key, None, action, "protected-namespace", safety.protected_namespace(key[0], policy), savings
        ) or self.refuse(key, None, action, "excluded", safety.excluded(self.workload(key).annotations), savings)

    def rightsize(self, key: Key, rows: list[Row]) -> Change | None:
        guard = self.workload(key)
        blocked = safety.hpa_resources(guard, self.options.safety)
        # per container: the values it would get and what they save; a resource an HPA scales on is kept as
        # it is (analyze recommends nothing for it either), so only the rest counts
        plans = []
        for row in rows:
            before, wanted = _values(row), _after(row)
            after = _keep_only(before, wanted, blocked)
            part = row.monthly_savings if after == wanted else self.saving(row, after) if after != before else 0.0
            plans.append((row, before, wanted, after, part))
        whole = sum(p[-1] for p in plans)
        if self.workload_refused(key, "rightsize", whole):
            return None
        if self.refuse(key, None, "rightsize", "pdb", safety.pdb_rollout(key[1], guard), whole):
            return None
        containers, kept, amounts = [], [], []
        for row, before, wanted, after, part in plans:
            name = row.usage.container
            if after != wanted:  # what --allow-hpa would add; not part of analyze's savings
                held = ", ".join(sorted(blocked))
                self.refuse(key, name, "rightsize", "hpa", f"an HPA scales on {held}: {held} left as is",
                            row.monthly_savings - part)  # fmt: skip
            if after == before:
                self.not_applicable += part
                continue
            hours = (row.usage.last - row.usage.first) / 3600
            why = safety.history(hours, self.options.safety)
            if self.refuse(key, name, "rightsize", "history", why, part):
                continue
            why = safety.risk(row.risk, self.options.safety)
            if self.refuse(key, name, "rightsize", "risk", why, part):
                continue
            containers.append(ContainerChange(name, before, after))
            kept.append(row)
            amounts.append(part)
        if not kept:
            return None
        shortfalls = [r.risk.cpu_shortfall for r in kept if r.risk and r.risk.cpu_shortfall is not None]
        return Change(
            *key,
            action="rightsize",
            containers=tuple(containers),
            monthly_savings=round(sum(amounts), 2),
            confidence=min(
                (r.recommendation.confidence for r in kept if r.recommendation.confidence is not None), default=None
            ),
            severity=max((r.severity for r in kept), key=SEVERITIES.index),
            risk={
                "cpu_shortfall": max(shortfalls) if shortfalls else None,
                "oom_count": sum(r.risk.oom_count or 0 for r in kept if r.risk),
            },
        )

    def scale_to_zero(self, item: IdleItem, monthly: float) -> Change | None:
        key = (item.namespace, item.workload_kind, item.workload)
        if self.workload_refused(key, "scale-to-zero", monthly):
            return None
        guard = self.workload(key)
        for rule, reason in (
            ("not-scalable", safety.scalable(item.workload_kind)),
            ("hpa", safety.hpa_scale_down(guard, self.options.safety)),
            ("pdb", safety.pdb_scale_down(guard)),
            ("history", safety.history(item.idle_hours or 0.0, self.options.safety)),
            ("confidence", safety.idle_confidence(item.confidence, self.options.safety)),
        ):
            if self.refuse(key, None, "scale-to-zero", rule, reason, monthly):
                return None
        if not item.replicas:
            self.not_applicable += monthly
            return None
        return Change(
            *key,
            action="scale-to-zero",
            replicas_before=item.replicas,
            replicas_after=0,
            monthly_savings=monthly,
            confidence=item.confidence,
        )


def build_plan(
    report: RightsizingReport,
    idle: list[IdleItem],
    found: dict[Key, Finding],
    workloads: Mapping[Key, Workload],
    options: PlanOptions,
    saving: Saving = _whole,
) -> Plan:
    """`saving`: what a container saves with the values a change gives it (for a change an HPA keeps partly);
    `found`: each workload's one finding (upid/analysis/savings.py), so that the plan and what it leaves
    out add up to analyze's savings; `workloads`: each workload's annotations, HPA and PDBs, as collected
    (ClusterWindow.workloads). A workload idle on a schedule is neither resized nor scaled:
    its sleep schedule is `upid idle -o kube-green`'s."""
    builder = _Builder(workloads, options, saving)
    changes: list[Change] = []
    sleeping: set[Key] = set()
    sleep: dict[Key, float] = {}
    left_out = 0.0
    for item in idle:
        key = (item.namespace, item.workload_kind, item.workload)
        if item.excluded is not None:
            continue
        finding = found.get(key)
        amount = finding.monthly_savings if finding else 0.0
        sleeping.add(key)
        if item.schedule is not None:
            sleep[key] = amount
        elif options.only in (None, "idle"):
            change = builder.scale_to_zero(item, amount)
            changes.extend([change] if change else [])
        else:
            left_out += amount
    per_workload: dict[Key, list[Row]] = defaultdict(list)
    for row in report.rows:
        u = row.usage
        per_workload[(u.namespace, u.workload_kind, u.workload)].append(row)
    for key, rows in sorted(per_workload.items()):
        if key in sleeping:
            continue
        if options.only in (None, "rightsize"):
            change = builder.rightsize(key, rows)
            changes.extend([change] if change else [])
        else:
            left_out += sum(r.monthly_savings for r in rows)
    floor = SEVERITIES.index(options.min_severity)
    kept = [
        c
        for c in changes
        if (c.severity is None or SEVERITIES.index(c.severity) >= floor)
        and (c.monthly_savings >= options.min_savings if options.min_savings > 0 else True)
    ]
    return Plan(
        cluster=report.cluster,
        start=report.start,
        end=report.end,
        strategy=report.strategy,
        currency=report.currency,
        changes=sorted(kept, key=lambda c: -c.monthly_savings),
        skipped=builder.skipped,
        below_threshold=len(changes) - len(kept),
        below_threshold_savings=sum(c.monthly_savings for c in changes) - sum(c.monthly_savings for c in kept),
        sleep=sleep,
        not_applicable=builder.not_applicable,
        left_out=left_out,
    )
