"""`upid optimize`'s plan, from the store alone: no cluster access (imported history works too)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from upid.analysis.cost import monthly_cost
from upid.analysis.idle import IdlePolicy, detect
from upid.analysis.rightsizing import Row, rightsize
from upid.analysis.savings import findings
from upid.optimize.plan import Plan, PlanOptions, build_plan
from upid.store.base import Store
from upid.workflows.analyze import AnalysisRequest, read


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    container_order: dict[tuple[str, str, str], list[str]]  # the pod template's order, where collected


def make_plan(store: Store, request: AnalysisRequest, options: PlanOptions, idle_policy: IdlePolicy) -> PlanResult:
    r = read(store, request)
    frame, rates = r.frame, r.pricing
    # Every resource gets a recommendation here, also the one an HPA scales on: whether upid may set it
    # is the plan's safety rule (--allow-hpa), not the strategy's.
    containers = [replace(h, hpa_resources=frozenset()) for h in r.containers]
    report = rightsize(frame, request.strategy, request.cpu_limit, rates, containers, request.severity)
    idle = detect(containers, frame.end, idle_policy)
    by_key = {h.key: h for h in containers}
    hours = report.covered_hours  # the monthly figures' divisor, as rightsize computed it

    def saving(row: Row, after: dict[str, float | None]) -> float:
        u = row.usage
        h = by_key[(u.namespace, u.workload_kind, u.workload, u.container)]
        changed = monthly_cost(h, after["cpu_request"], after["memory_request"], rates, hours)
        return round((row.monthly_cost or {}).get("current", 0.0) - changed, 2)

    plan = build_plan(report, idle, findings(report, idle), r.window.workloads, options, saving)
    order = {key: list(w.containers) for key, w in r.window.workloads.items()}
    return PlanResult(plan, order)
