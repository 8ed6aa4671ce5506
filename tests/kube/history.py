"""Past usage of the test cluster as a canonical import file: the history a collected cluster would have
built up over days, so that `analyze` and `optimize` have enough of it (the samples follow the same real
trace the test API server serves)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kube.model import STEP, Cluster
from upid.units import parse_quantity


def write_history(c: Cluster, path: Path, days: float = 2.0) -> Path:
    """Samples every 5 minutes over the `days` before the cluster's clock, for every owned pod."""
    rows = []
    steps = int(days * 86400 // STEP)
    for pod in c.pods:
        if not pod.owner_kind:
            continue
        w = pod.workload
        for container in w.containers:
            res = w.resources[container]
            req, lim = res.get("requests") or {}, res.get("limits") or {}
            values = [parse_quantity(v) if v is not None else None for v in
                      (req.get("cpu"), lim.get("cpu"), req.get("memory"), lim.get("memory"))]  # fmt: skip
            for k in range(-steps, 0):
                cpu, mem = c.usage(pod, container, step=k)
                rows.append(
                    (c.now + k * STEP, w.namespace, pod.name, container, w.kind, w.name, cpu, int(mem), *values)
                )
    names = [
        "timestamp", "namespace", "pod", "container", "workload_kind", "workload", "cpu_cores", "memory_bytes",
        "cpu_request_cores", "cpu_limit_cores", "memory_request_bytes", "memory_limit_bytes",
    ]  # fmt: skip
    pq.write_table(pa.table({n: list(col) for n, col in zip(names, zip(*rows, strict=True), strict=True)}), path)
    return path
