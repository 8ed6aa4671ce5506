"""The `-o json` documents of the read commands (docs/json-output.md, docs/schemas/), built here once: the CLI
prints them and `upid serve` returns them, so the API's answer is the command's document by construction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from upid.units import iso

if TYPE_CHECKING:
    from upid.analysis.budget import BudgetStatus
    from upid.analysis.capacity import Trend
    from upid.analysis.cost import CostReport
    from upid.analysis.forecast import Forecast
    from upid.analysis.frame import UsageFrame
    from upid.analysis.top import TopReport
    from upid.store.base import StoreStatus
    from upid.workflows.analyze import IdleResult
    from upid.workflows.forecast import ForecastReport


def idle_document(result: IdleResult, min_idle_seconds: int) -> dict[str, Any]:
    from upid.analysis.document import idle_record

    frame, items = result.frame, result.items
    flagged = [i for i in items if not i.excluded]
    return {
        "cluster": frame.cluster,
        "window": {"start": iso(frame.start), "end": iso(frame.end)},
        "min_idle_hours": min_idle_seconds / 3600,
        "idle": [idle_record(frame.cluster, i, result.monthly(i)) for i in flagged],
        "excluded": [idle_record(frame.cluster, i, None) for i in items if i.excluded],
        "summary": {
            "workloads": len(flagged),
            "cpu_cores": round(sum(i.savings["cpu_cores"] for i in flagged), 3),
            "memory_bytes": int(sum(i.savings["memory_bytes"] for i in flagged)),
            "monthly_savings": round(sum(result.monthly(i) for i in flagged), 2),
            "currency": result.pricing.currency,
        },
    }


def cost_groups(frame: UsageFrame, report: CostReport, currency: str) -> list[dict[str, Any]]:
    """One record per group: the document's groups, with the cluster and the grouping (the rows of -o csv)."""
    return [
        {
            "cluster": frame.cluster,
            "by": report.by,
            "period": report.period,
            "currency": currency,
            "group": g.key,
            "cpu_cost": round(g.cpu_cost, 2),
            "memory_cost": round(g.memory_cost, 2),
            "cost": round(g.cost, 2),
            "efficiency": None if g.efficiency is None else round(g.efficiency, 3),
        }
        for g in report.groups
    ]


def cost_document(
    frame: UsageFrame, report: CostReport, currency: str, budgets: Sequence[BudgetStatus] = ()
) -> dict[str, Any]:
    idle = report.idle_cost
    return {
        "cluster": frame.cluster,
        "window": {"start": iso(frame.start), "end": iso(frame.end)},
        "by": report.by,
        "period": report.period,
        "covered_hours": round(report.covered_hours, 2),
        "currency": currency,
        "groups": [
            {k: r[k] for k in ("group", "cpu_cost", "memory_cost", "cost", "efficiency")}
            for r in cost_groups(frame, report, currency)
        ],
        "nodes": [
            {
                "name": n.name,
                "capacity_type": n.capacity_type,
                "hours": n.hours,
                "cpu_cores": n.cpu_cores,
                "memory_bytes": int(n.memory_bytes),
                "cost": round(n.cost, 2),
                "price": n.price,
            }
            for n in report.nodes
        ],
        "summary": {
            "workload_cost": round(report.workload_cost, 2),
            "node_cost": None if report.node_cost is None else round(report.node_cost, 2),
            "idle_cost": None if idle is None else round(idle, 2),
        },
        "budgets": [b.to_dict() for b in budgets],
    }


def forecast_document(report: ForecastReport) -> dict[str, Any]:
    frame = report.frame
    return {
        "cluster": frame.cluster,
        "window": {"start": iso(frame.start), "end": iso(frame.end)},
        "horizon_hours": report.horizon_hours,
        "forecasts": [forecast_record(frame.cluster, f) for f in report.forecasts],
        "capacity": [_trend(t) for t in report.capacity],
    }


def forecast_record(cluster: str, f: Forecast) -> dict[str, Any]:
    namespace, kind, workload, container = f.key
    integer = f.resource == "memory"
    value = (lambda v: int(round(v))) if integer else (lambda v: round(float(v), 4))
    return {
        "cluster": cluster,
        "namespace": namespace,
        "workload_kind": kind,
        "workload": workload,
        "container": container,
        "resource": f.resource,
        "points": [
            {"timestamp": iso((f.first_hour + i) * 3600), "p50": value(a), "p90": value(b)}
            for i, (a, b) in enumerate(zip(f.p50, f.p90, strict=True))
        ],
        "backtest": {"mase": f.mase, "p90_coverage": f.p90_coverage, "model_mase": f.model_mase},
        "model": f.model,
        "note": f.note,
    }


def _trend(t: Trend) -> dict[str, Any]:
    value = (lambda v: int(round(v))) if t.resource == "memory" else (lambda v: round(v, 4))
    return {
        "scope": t.scope,
        "name": t.name or None,
        "resource": t.resource,
        "days": t.days,
        "usage": value(t.usage),
        "usage_per_day": value(t.usage_per_day),
        "requests": value(t.requests),
        "requests_per_day": value(t.requests_per_day),
        "allocatable": None if t.allocatable is None else value(t.allocatable),
        "days_until_usage_full": t.days_until_usage_full,
        "days_until_requests_full": t.days_until_requests_full,
    }


def status_document(st: StoreStatus) -> dict[str, Any]:
    per_sample = st.size_bytes / st.samples if st.samples else None
    return {
        "path": str(st.path),
        "schema_version": st.schema_version,
        "size_bytes": st.size_bytes,
        "samples": st.samples,
        "bytes_per_sample": round(per_sample, 3) if per_sample else None,
        "spooled_batches": st.spooled_batches,
        "clusters": [
            {"cluster": c.name, "series": c.series, "samples": c.samples, "first": iso(c.first), "last": iso(c.last)}
            for c in st.clusters
        ],
    }


def _round(resource: str, values: Any) -> list[float | int]:
    if resource == "memory":
        return [int(round(float(v))) for v in values]
    return [round(float(v), 4) for v in values]


def top_document(report: TopReport) -> dict[str, Any]:
    """`upid top -o json`: per group, per bucket min/mean/p95/max of CPU (cores) and memory (bytes), the trend
    and the anomalous buckets."""

    def resource(name: str, s: Any) -> dict[str, Any]:
        per_day = s.trend.per_day
        return {
            "buckets": [
                {"start": iso(int(t)), "min": a, "mean": b, "p95": c, "max": d}
                for t, a, b, c, d in zip(
                    s.starts, *(_round(name, v) for v in (s.low, s.mean, s.p95, s.high)), strict=True
                )
            ],
            "trend": {
                "per_day": None
                if per_day is None
                else (int(round(per_day)) if name == "memory" else round(per_day, 5)),
                "r2": None if s.trend.r2 is None else round(s.trend.r2, 3),
            },
            "anomalies": [iso(t) for t in s.anomalies],
        }

    return {
        "cluster": report.cluster,
        "window": {"start": iso(report.start), "end": iso(report.end)},
        "scope": report.scope,
        "by": report.by,
        "step_seconds": report.step,
        "unplaced_samples": report.unplaced,
        "rows": [
            {
                **dict(zip(report.key_names, row.key, strict=True)),
                "series": row.series,
                "cpu": resource("cpu", row.cpu),
                "memory": resource("memory", row.memory),
            }
            for row in report.rows
        ],
    }
