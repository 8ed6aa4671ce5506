"""The stable JSON document of `upid analyze` (docs/json-output.md). CPU in cores, memory in bytes, null unset."""

from __future__ import annotations

from collections import Counter
from typing import Any

from upid.analysis.cost import Prices, Pricing, as_pricing
from upid.analysis.idle import IdleItem
from upid.analysis.rightsizing import RightsizingReport, Row
from upid.analysis.severity import KRR_SEVERITIES, SEVERITIES
from upid.analysis.strategies import Recommendation
from upid.analysis.usage import ContainerUsage
from upid.units import iso

SCHEMA_VERSION = 1


def _bytes(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def _current(c: ContainerUsage) -> dict[str, Any]:
    return {
        "cpu_request": c.cpu_request,
        "cpu_limit": c.cpu_limit,
        "memory_request": _bytes(c.memory_request),
        "memory_limit": _bytes(c.memory_limit),
    }


def _recommended(r: Recommendation) -> dict[str, Any]:
    return {
        "cpu_request": r.cpu_request,
        "cpu_limit": r.cpu_limit,
        "memory_request": _bytes(r.memory_request),
        "memory_limit": _bytes(r.memory_limit),
    }


def container_record(cluster: str, row: Row) -> dict[str, Any]:
    c, r = row.usage, row.recommendation
    return {
        "cluster": cluster,
        "namespace": c.namespace,
        "workload_kind": c.workload_kind,
        "workload": c.workload,
        "container": c.container,
        "current": _current(c),
        "recommended": _recommended(r),
        "usage": {
            "cpu_p50": round(c.cpu_p50, 6),
            "cpu_p95": round(c.cpu_p95, 6),
            "cpu_max": round(c.cpu_max, 6),
            "memory_p95": _bytes(c.memory_p95),
            "memory_max": _bytes(c.memory_max),
            "pods": c.pods,
            "samples": c.samples,
            "first": iso(c.first),
            "last": iso(c.last),
        },
        "confidence": r.confidence,
        "severity": row.severity,
        "severity_reason": row.severity_reason,
        "krr_severity": row.krr_severity,
        "risk": row.risk,
        "monthly_cost": row.monthly_cost,
        "monthly_savings": row.monthly_savings,
        "reason": r.reason,
    }


def _total(rows: list[Row], current: str, recommended: str) -> dict[str, float]:
    """Requests summed over the containers with a recommendation for that resource."""
    sized = [r for r in rows if getattr(r.recommendation, recommended) is not None]
    return {
        "current": round(sum(getattr(r.usage, current) or 0.0 for r in sized), 3),
        "recommended": round(sum(getattr(r.recommendation, recommended) for r in sized), 3),
    }


def idle_record(cluster: str, item: IdleItem, prices: Prices | Pricing | None = None) -> dict[str, Any]:
    record = {
        "cluster": cluster,
        "namespace": item.namespace,
        "workload_kind": item.workload_kind,
        "workload": item.workload,
        "kind": item.kind,
        "replicas": item.replicas,
        "idle_since": iso(item.idle_since),
        "idle_hours": item.idle_hours,
        "sleep_hours_per_week": item.schedule.hours_per_week if item.schedule else None,
        "confidence": item.confidence,
        "signals": item.signals,
        "schedule": item.schedule.to_dict() if item.schedule else None,
        "savings": {"cpu_cores": item.savings["cpu_cores"], "memory_bytes": int(item.savings["memory_bytes"])},
        "monthly_savings": None if item.excluded else idle_monthly(item, prices),
    }
    if item.excluded:
        record["excluded"] = item.excluded
    if item.note:
        record["note"] = item.note
    return record


def idle_monthly(item: IdleItem, prices: Prices | Pricing | None) -> float:
    """What sleeping the workload saves a month (its requests, times the share of the week asleep), at the
    rates of the node it runs on when known."""
    rates = as_pricing(prices).of((item.namespace, item.workload_kind, item.workload))
    return round(rates.monthly(item.savings["cpu_cores"], item.savings["memory_bytes"]), 2)


def savings_summary(report: RightsizingReport, idle: list[IdleItem], prices: Prices | Pricing) -> dict[str, Any]:
    """Monthly money, each saving counted once: a workload that is idle is saved as idle, not resized too."""
    asleep = {(i.namespace, i.workload_kind, i.workload) for i in idle if not i.excluded}
    resized = [r for r in report.rows if (r.usage.namespace, r.usage.workload_kind, r.usage.workload) not in asleep]
    rightsizing = round(sum(r.monthly_savings for r in resized), 2)
    sleeping = round(sum(idle_monthly(i, prices) for i in idle if not i.excluded), 2)
    return {
        "currency": report.currency,
        "monthly_cost": {
            "current": round(sum((r.monthly_cost or {}).get("current", 0.0) for r in report.rows), 2),
            "recommended": round(sum((r.monthly_cost or {}).get("recommended", 0.0) for r in report.rows), 2),
        },
        "monthly_savings": {"rightsizing": rightsizing, "idle": sleeping, "total": round(rightsizing + sleeping, 2)},
    }


def analysis_document(
    report: RightsizingReport, idle: list[IdleItem] | None = None, prices: Prices | Pricing | None = None
) -> dict[str, Any]:
    rows, idle = report.rows, idle or []
    pricing = as_pricing(prices or report.pricing, report.currency)
    severities, krr = Counter(r.severity for r in rows), Counter(r.krr_severity for r in rows)
    return {
        "schema_version": SCHEMA_VERSION,
        "cluster": report.cluster,
        "window": {"start": iso(report.start), "end": iso(report.end)},
        "strategy": report.strategy,
        "recommendations": [container_record(report.cluster, r) for r in rows],
        "idle": [idle_record(report.cluster, i, pricing) for i in idle if not i.excluded],
        "summary": {
            "containers": len(rows),
            "workloads": len({(r.usage.namespace, r.usage.workload_kind, r.usage.workload) for r in rows}),
            "samples": report.samples,
            "score": report.score,
            "grade": report.grade,
            "severity": {s: severities.get(s, 0) for s in SEVERITIES},
            "krr_severity": {s: krr.get(s, 0) for s in KRR_SEVERITIES},
            "cpu_request_cores": _total(rows, "cpu_request", "cpu_request"),
            "memory_request_bytes": {k: int(v) for k, v in _total(rows, "memory_request", "memory_request").items()},
            "backtest_ooms": sum((r.risk or {}).get("oom_count") or 0 for r in rows),
            **savings_summary(report, idle, pricing),
        },
    }
