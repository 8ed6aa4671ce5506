"""The stable JSON document of `upid analyze` (docs/json-output.md). CPU in cores, memory in bytes, null unset."""

from __future__ import annotations

from typing import Any

from upid.analysis.usage import ContainerUsage, UsageReport
from upid.units import iso

SCHEMA_VERSION = 1


def _bytes(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def _resources(c: ContainerUsage) -> dict[str, Any]:
    return {
        "cpu_request": c.cpu_request,
        "cpu_limit": c.cpu_limit,
        "memory_request": _bytes(c.memory_request),
        "memory_limit": _bytes(c.memory_limit),
    }


def container_record(cluster: str, c: ContainerUsage) -> dict[str, Any]:
    return {
        "cluster": cluster,
        "namespace": c.namespace,
        "workload_kind": c.workload_kind,
        "workload": c.workload,
        "container": c.container,
        "current": _resources(c),
        "recommended": None,
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
        "confidence": None,
        "severity": None,
        "risk": None,
        "reason": None,
    }


def analysis_document(report: UsageReport) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "cluster": report.cluster,
        "window": {"start": iso(report.start), "end": iso(report.end)},
        "strategy": None,
        "recommendations": [container_record(report.cluster, c) for c in report.containers],
        "idle": [],
        "summary": {
            "containers": len(report.containers),
            "workloads": len({(c.namespace, c.workload_kind, c.workload) for c in report.containers}),
            "samples": report.samples,
        },
    }
