"""What each workload can save a month, counted once, in the money model of upid/analysis/cost.py.

Every workload gets one finding, and every view (analyze, idle, optimize, the report) sums the same findings:

- `idle` (no sign of work through the window): scaling it to zero saves its whole current monthly cost;
- `sleep` (idle on a recurring window): sleeping on the schedule saves that share of the week of it;
- `rightsize` (the rest): the sum of its containers' savings at the recommended requests.

A workload that is idle is never resized too, so the totals never count one workload twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from upid.analysis.cost import Pricing, covered_hours, monthly_cost
from upid.analysis.history import ContainerHistory
from upid.analysis.idle import IdleItem
from upid.analysis.rightsizing import RightsizingReport

Workload = tuple[str, str, str]  # namespace, kind, name
KINDS = ("rightsize", "idle", "sleep")


@dataclass(frozen=True)
class Finding:
    workload: Workload
    kind: str  # rightsize | idle | sleep
    monthly_savings: float  # the sum of its containers' (each rounded to the cent)


Container = tuple[str, str, str, str]  # namespace, kind, workload, container


def share_saved(item: IdleItem) -> float:
    """The share of its cost an idle workload saves: all of it, or its schedule's share of the week."""
    return item.schedule.hours_per_week / (7 * 24) if item.schedule else 1.0


def current_monthly(containers: list[ContainerHistory], pricing: Pricing) -> dict[Container, float]:
    """Each container's current monthly cost, rounded to the cent, as analyze's rows have it."""
    hours = covered_hours(containers)
    return {
        h.key: monthly_cost(h, h.current.get("cpu_request"), h.current.get("memory_request"), pricing, hours)
        for h in containers
    }


def idle_monthly(item: IdleItem, current: dict[Container, float]) -> float:
    """What scaling an idle workload to zero (or sleeping it on its schedule) saves a month."""
    key, share = (item.namespace, item.workload_kind, item.workload), share_saved(item)
    return round(sum(round(cost * share, 2) for c, cost in current.items() if c[:3] == key), 2)


def counted(report: RightsizingReport, idle: list[IdleItem]) -> dict[Container, tuple[str, float]]:
    """Per container: the kind of its workload's finding, and what that finding counts for it."""
    asleep = {(i.namespace, i.workload_kind, i.workload): i for i in idle if i.excluded is None}
    out = {}
    for r in report.rows:
        u = r.usage
        item = asleep.get((u.namespace, u.workload_kind, u.workload))
        key = (u.namespace, u.workload_kind, u.workload, u.container)
        if item is None:
            out[key] = ("rightsize", r.monthly_savings)
        else:
            current = (r.monthly_cost or {}).get("current", 0.0)
            out[key] = ("sleep" if item.schedule else "idle", round(current * share_saved(item), 2))
    return out


def findings(report: RightsizingReport, idle: list[IdleItem]) -> dict[Workload, Finding]:
    """One finding per workload of the report; `idle` must come from the same containers."""
    out: dict[Workload, Finding] = {}
    for key, (kind, value) in counted(report, idle).items():
        before = out.get(key[:3])
        out[key[:3]] = Finding(key[:3], kind, round((before.monthly_savings if before else 0.0) + value, 2))
    return out


def totals(found: dict[Workload, Finding]) -> dict[str, float]:
    """Monthly savings by kind of finding, and their total (sums of the rounded findings)."""
    out = {kind: round(sum(f.monthly_savings for f in found.values() if f.kind == kind), 2) for kind in KINDS}
    out["total"] = round(sum(out[k] for k in KINDS), 2)
    return out
