"""The stable JSON document of `upid analyze` (docs/json-output.md). CPU in cores, memory in bytes, null unset."""

from __future__ import annotations

from collections import Counter
from typing import Any

from upid.analysis.idle import IdleItem
from upid.analysis.rightsizing import RightsizingReport, Row
from upid.analysis.savings import counted, findings, totals
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


def container_record(cluster: str, row: Row, finding: tuple[str, float] | None = None) -> dict[str, Any]:
    """`finding`: the kind of its workload's finding and what it counts for this container (savings.py)."""
    c, r = row.usage, row.recommendation
    kind, value = finding or ("rightsize", row.monthly_savings)
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
        "risk": row.risk.to_dict() if row.risk else None,
        "monthly_cost": row.monthly_cost,
        "monthly_savings": row.monthly_savings,
        "finding": kind,
        "counted_monthly_savings": value,
        "reason": r.reason,
    }


def _total(rows: list[Row], current: str, recommended: str) -> dict[str, float]:
    """Requests summed over the containers with a recommendation for that resource."""
    sized = [r for r in rows if getattr(r.recommendation, recommended) is not None]
    return {
        "current": round(sum(getattr(r.usage, current) or 0.0 for r in sized), 3),
        "recommended": round(sum(getattr(r.recommendation, recommended) for r in sized), 3),
    }


def idle_record(cluster: str, item: IdleItem, monthly: float | None) -> dict[str, Any]:
    """`monthly`: what it saves a month (savings.idle_monthly); None for an excluded workload."""
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
        "monthly_savings": None if item.excluded else monthly,
    }
    if item.excluded:
        record["excluded"] = item.excluded
    if item.note:
        record["note"] = item.note
    return record


def savings_summary(report: RightsizingReport, idle: list[IdleItem]) -> dict[str, Any]:
    """Monthly money, each workload counted once (savings.py); every figure a sum of the rounded rows."""
    by_kind = totals(findings(report, idle))
    return {
        "currency": report.currency,
        "covered_hours": round(report.covered_hours, 2),
        "priced_by": "nodes" if report.pricing and report.pricing.nodes else "unit prices",
        "monthly_cost": {
            "current": round(sum((r.monthly_cost or {}).get("current", 0.0) for r in report.rows), 2),
            "recommended": round(sum((r.monthly_cost or {}).get("recommended", 0.0) for r in report.rows), 2),
        },
        "monthly_savings": {
            "rightsizing": by_kind["rightsize"],
            "idle": by_kind["idle"],
            "sleep": by_kind["sleep"],
            "total": by_kind["total"],
        },
    }


def analysis_document(report: RightsizingReport, idle: list[IdleItem] | None = None) -> dict[str, Any]:
    rows, idle = report.rows, idle or []
    per_container = counted(report, idle)
    workloads = findings(report, idle)
    severities, krr = Counter(r.severity for r in rows), Counter(r.krr_severity for r in rows)
    return {
        "schema_version": SCHEMA_VERSION,
        "cluster": report.cluster,
        "window": {"start": iso(report.start), "end": iso(report.end)},
        "strategy": report.strategy,
        "recommendations": [container_record(report.cluster, r, per_container[_key(r)]) for r in rows],
        "idle": [idle_record(report.cluster, i, _found(workloads, i)) for i in idle if not i.excluded],
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
            "backtest_ooms": sum((r.risk.oom_count or 0) if r.risk else 0 for r in rows),
            **savings_summary(report, idle),
        },
    }


def _key(row: Row) -> tuple[str, str, str, str]:
    u = row.usage
    return (u.namespace, u.workload_kind, u.workload, u.container)


def _found(workloads: dict[tuple[str, str, str], Any], item: IdleItem) -> float | None:
    found = workloads.get((item.namespace, item.workload_kind, item.workload))
    return found.monthly_savings if found else None
