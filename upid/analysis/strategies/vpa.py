"""vpa: the Kubernetes VPA recommender's target and bounds (kubernetes/autoscaler, see FIELD_NOTES).

Decaying histograms (half-life 24 h) with exponential buckets growing 5 %: CPU from 0.01 core, memory
from 10 MB. CPU: every sample, constant weight. Memory: one peak per pod per 24 h, the last 8 days;
an OOM kill adds max(used + 100 MiB, used x 1.2). Target = p90 x 1.15; lower bound = p50 x 1.15 x
(1 + 0.001/conf)^-2; upper bound = p95 x 1.15 x (1 + 1/conf), conf = min(history days, samples / 1440).
A percentile is the end of its bucket, as in the VPA. Pod floor 25m / 250 MB split across containers.
Reported as Goldilocks' Guaranteed profile: request = limit = target (no CPU limit, as the others).
"""

from __future__ import annotations

import math

import numpy as np

from upid.analysis.history import ContainerHistory
from upid.analysis.strategies.base import MIB, Recommendation, Strategy, hpa_reason, round_cpu, round_memory

HALF_LIFE = 24 * 3600
DAY = 24 * 3600


class Histogram:
    """The VPA's exponential histogram: bucket i starts at first * (ratio^i - 1) / (ratio - 1)."""

    def __init__(self, first: float, maximum: float, ratio: float = 1.05) -> None:
        self.first, self.ratio = first, ratio
        self.buckets = int(math.ceil(math.log(maximum * (ratio - 1) / first + 1, ratio))) + 1

    def start(self, i: np.ndarray | int) -> np.ndarray | float:
        return self.first * (np.power(self.ratio, i) - 1) / (self.ratio - 1)

    def percentile(self, values: np.ndarray, weights: np.ndarray, q: float) -> float:
        if not len(values) or weights.sum() <= 0:
            return 0.0
        idx = np.floor(np.log(np.maximum(values, 0) * (self.ratio - 1) / self.first + 1) / math.log(self.ratio))
        idx = np.clip(idx.astype(int), 0, self.buckets - 1)
        totals = np.bincount(idx, weights=weights, minlength=self.buckets)
        bucket = int(np.searchsorted(np.cumsum(totals), q * totals.sum()))
        bucket = min(bucket, self.buckets - 1)
        return float(self.start(bucket + 1 if bucket < self.buckets - 1 else bucket))


CPU_HISTOGRAM = Histogram(0.01, 1000.0)
MEMORY_HISTOGRAM = Histogram(1e7, 1e12)


class Vpa(Strategy):
    name = "vpa"
    margin = 0.15

    def _decay(self, ts: np.ndarray, end: int) -> np.ndarray:
        return np.power(2.0, (ts - end) / HALF_LIFE)

    def _memory_peaks(self, h: ContainerHistory, end: int) -> tuple[np.ndarray, np.ndarray]:
        recent = h.ts > end - 8 * DAY
        ts, mem, pod = h.ts[recent], h.memory[recent], h.pod[recent]
        day = (end - ts) // DAY
        peaks, times = [], []
        for key in np.unique(day * 100_000 + pod):
            sel = (day * 100_000 + pod) == key
            peaks.append(mem[sel].max())
            times.append(ts[sel].max())
        used = max(h.current.get("memory_request") or 0.0, float(h.memory.max()))
        for t in h.oom_kills:
            peaks.append(max(used + 100 * MIB, used * 1.2))
            times.append(t)
        return np.asarray(peaks, dtype=float), np.asarray(times, dtype=float)

    def estimates(self, h: ContainerHistory) -> dict[str, float]:
        """Target and bounds before floors and rounding, and the VPA's confidence."""
        end = int(h.ts[-1])
        conf = max(min(h.span_hours / 24, h.samples / 1440), 1e-6)  # a single sample: no confidence at all
        w = self._decay(h.ts, end)
        peaks, times = self._memory_peaks(h, end)
        mw = self._decay(times, end)
        m = 1 + self.margin
        out = {"confidence": conf}
        for name, values, weights, hist in (("cpu", h.cpu, w, CPU_HISTOGRAM), ("memory", peaks, mw, MEMORY_HISTOGRAM)):
            out[f"{name}_target"] = hist.percentile(values, weights, 0.90) * m
            out[f"{name}_lower"] = hist.percentile(values, weights, 0.50) * m * (1 + 0.001 / conf) ** -2
            out[f"{name}_upper"] = hist.percentile(values, weights, 0.95) * m * (1 + 1 / conf)
        return out

    def recommend(self, h: ContainerHistory) -> Recommendation:
        if h.samples == 0:
            return Recommendation(None, None, None, None, 0.0, "no samples")
        if h.hourly is not None:  # its decaying histograms weigh each raw sample by its own age
            return Recommendation(None, None, None, None, 0.0, "the vpa strategy needs raw samples (--resolution raw)")
        e = self.estimates(h)
        per = max(1, h.containers_in_pod)
        cpu_reason, mem_reason = hpa_reason(h, "cpu"), hpa_reason(h, "memory")
        cpu = None if cpu_reason else round_cpu(e["cpu_target"], floor=0.025 / per)
        memory = None if mem_reason else round_memory(e["memory_target"], floor=250e6 / per)
        return Recommendation(cpu, None, memory, memory, min(1.0, e["confidence"] / 7), cpu_reason or mem_reason)
