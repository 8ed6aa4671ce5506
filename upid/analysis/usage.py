"""Usage statistics per workload container, against its requests and limits."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from upid.analysis.frame import CONTAINER_KEY, RESOURCE_KEYS, UsageFrame
from upid.analysis.history import ContainerHistory
from upid.analysis.rollup import CPU_BUCKETS, quantile_of


@dataclass(frozen=True)
class ContainerUsage:
    namespace: str
    workload_kind: str
    workload: str
    container: str
    pods: int
    samples: int
    first: int
    last: int
    cpu_p50: float  # cores; percentiles interpolate linearly, as Prometheus' quantile_over_time does
    cpu_p95: float
    cpu_max: float
    memory_p95: float  # bytes
    memory_max: float
    cpu_request: float | None
    cpu_limit: float | None
    memory_request: float | None
    memory_limit: float | None


@dataclass(frozen=True)
class UsageReport:
    cluster: str
    start: int
    end: int
    containers: list[ContainerUsage]

    @property
    def samples(self) -> int:
        return sum(c.samples for c in self.containers)


def _resource(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def summarize(frame: UsageFrame) -> UsageReport:
    """One ContainerUsage per workload container with samples in the frame."""
    out: list[ContainerUsage] = []
    for c, part in frame.groups():
        cpu, mem = frame.cpu[part], frame.memory[part]
        cpu_p50, cpu_p95 = np.percentile(cpu, [50, 95])
        namespace, kind, workload, container = (str(frame.containers[k][c]) for k in CONTAINER_KEY)
        cpu_request, cpu_limit, memory_request, memory_limit = (
            _resource(frame.containers[k][c]) for k in RESOURCE_KEYS
        )
        out.append(
            ContainerUsage(
                namespace=namespace,
                workload_kind=kind,
                workload=workload,
                container=container,
                pods=int(frame.pod_idx[part].max()) + 1,
                samples=int(part.stop - part.start),
                first=int(frame.ts[part].min()),
                last=int(frame.ts[part].max()),
                cpu_p50=float(cpu_p50),
                cpu_p95=float(cpu_p95),
                cpu_max=float(cpu.max()),
                memory_p95=float(np.percentile(mem, 95)),
                memory_max=float(mem.max()),
                cpu_request=cpu_request,
                cpu_limit=cpu_limit,
                memory_request=memory_request,
                memory_limit=memory_limit,
            )
        )
    return UsageReport(cluster=frame.cluster, start=frame.start, end=frame.end, containers=out)


def rolled_up(usage: ContainerUsage, h: ContainerHistory) -> ContainerUsage:
    """A container's statistics from its hourly rollups (its frame holds pod-hour means): percentiles from the
    merged histograms, maxima exact, samples as measured."""
    if h.hourly is None:
        return usage
    cpu = np.sum(list(h.hourly.cpu_histograms["all"].values()), axis=0)
    cpu_max = float(h.hourly.cpu_peak.max())
    p50, p95 = (min(quantile_of(cpu, q, CPU_BUCKETS), cpu_max) for q in (50, 95))
    return replace(
        usage,
        samples=h.samples,
        cpu_p50=p50,
        cpu_p95=p95,
        cpu_max=cpu_max,
        memory_p95=h.memory_percentile(95),
        memory_max=float(h.hourly.memory_peak.max()),
    )
