"""A container's usage over the window in a fixed number of time buckets, for charts.

Each bucket holds the mean and the peak of the per-pod values in it, so the peak stays comparable with
the per-pod request and limit however many pods ran. Empty buckets are None (a gap, not a zero).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from upid.analysis.history import ContainerHistory


def _per_bucket(bucket: np.ndarray, values: np.ndarray, count: int) -> tuple[list[float | None], list[float | None]]:
    ok = ~np.isnan(values)
    bucket, values = bucket[ok], values[ok]
    n = np.bincount(bucket, minlength=count)
    total = np.bincount(bucket, weights=values, minlength=count)
    peak = np.full(count, -np.inf)
    np.maximum.at(peak, bucket, values)
    mean = [float(total[i] / n[i]) if n[i] else None for i in range(count)]
    return mean, [float(peak[i]) if n[i] else None for i in range(count)]


def bucketed(history: ContainerHistory, start: int, end: int, buckets: int = 168) -> dict[str, Any]:
    """{"start", "step", "cpu_mean", "cpu_max", "memory_mean", "memory_max"}: `buckets` equal buckets over
    (start, end]; CPU in cores, memory in bytes."""
    step = max(1, -(-(end - start) // buckets))
    index = np.clip((history.ts - start - 1) // step, 0, buckets - 1).astype(np.int64)
    cpu_mean, cpu_max = _per_bucket(index, history.cpu.astype(float), buckets)
    mem_mean, mem_max = _per_bucket(index, history.memory.astype(float), buckets)
    return {
        "start": int(start),
        "step": int(step),
        "cpu_mean": cpu_mean,
        "cpu_max": cpu_max,
        "memory_mean": mem_mean,
        "memory_max": mem_max,
    }
