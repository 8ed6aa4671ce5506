"""upid: the default strategy, built on what KRR and the VPA leave out, and measured against them on
real traces (docs/rightsizing.md).

CPU: the p95 of usage, the highest over pods (no rule tried on the Bitbrains evaluation beat it on both
savings and shortfall; see the docs). Memory: the peak over pods plus a headroom of min(1 GiB, the peak):
working sets move by absolute amounts, so small containers get proportionally more room and large ones less
than KRR's flat 15 %; never above a current limit that was never hit (it was enough). After an OOM kill the
limit is at least 1.25 x the limit that was hit (KRR's opt-in OOM rule, on by default here). A clear
upward trend of the daily peaks is projected a week ahead. Floors and rounding as KRR. The headroom was
chosen on one month of the Bitbrains trace and reported on the other (docs/rightsizing.md).
"""

from __future__ import annotations

import numpy as np

from upid.analysis.history import ContainerHistory
from upid.analysis.strategies.base import (
    MIB,
    Recommendation,
    Strategy,
    hpa_reason,
    per_pod_max,
    round_cpu,
    round_memory,
)

DAY = 86400


def daily_peaks(ts: np.ndarray, memory: np.ndarray) -> np.ndarray:
    days = (ts - ts[0]) // DAY  # sorted, as a history's times are
    first = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    return np.maximum.reduceat(memory, first)


def growth_per_day(ts: np.ndarray, memory: np.ndarray) -> float:
    """Bytes per day the daily peaks grow by, when they clearly do (R^2 >= 0.6 over >= 5 days), else 0."""
    peaks = daily_peaks(ts, memory)
    if len(peaks) < 5:
        return 0.0
    x = np.arange(len(peaks), dtype=float)
    slope, intercept = np.polyfit(x, peaks, 1)
    residual = peaks - (slope * x + intercept)
    total = ((peaks - peaks.mean()) ** 2).sum()
    r2 = 1 - (residual**2).sum() / total if total > 0 else 0.0
    return float(slope) if slope > 0 and r2 >= 0.6 else 0.0


class Upid(Strategy):
    name = "upid"

    def __init__(
        self,
        cpu_percentile: float = 95.0,
        headroom: float = 0.0,  # the memory rule was chosen on July and reported on August (bench/rightsizing.py)
        absolute_headroom: float = 1024 * MIB,
        headroom_cap: float = 1.0,
        oom_factor: float = 1.25,
        horizon_days: float = 7.0,
        min_change: float = 0.0,
    ) -> None:
        self.cpu_percentile = cpu_percentile
        self.headroom, self.absolute_headroom, self.headroom_cap = headroom, absolute_headroom, headroom_cap
        self.oom_factor = oom_factor
        self.horizon_days = horizon_days
        self.min_change = min_change

    def memory(self, h: ContainerHistory) -> float:
        peak = per_pod_max(h.memory_peaks, h.pod)
        peak += growth_per_day(h.ts, h.memory_peaks) * self.horizon_days
        value = peak + max(self.headroom * peak, min(self.absolute_headroom, self.headroom_cap * peak))
        limit = float(h.current.get("memory_limit") or 0)
        if h.oom_kills and limit:
            return max(value, self.oom_factor * limit)
        if limit and value >= (1 - self.min_change) * limit:
            # no OOM kill at the current limit: it was enough, and a limit above it buys nothing; nor does a cut
            # smaller than `min_change` of it (the VPA updater's 10 % rule), which only adds risk
            return limit
        return value

    def recommend(self, h: ContainerHistory) -> Recommendation:
        missing = self.enough_data(h)
        if missing:
            return Recommendation(None, None, None, None, 0.0, missing)
        cpu_reason, mem_reason = hpa_reason(h, "cpu"), hpa_reason(h, "memory")
        cpu = None if cpu_reason else round_cpu(h.cpu_percentile(self.cpu_percentile))
        memory = None if mem_reason else round_memory(self.memory(h))
        confidence = min(1.0, h.span_hours / (7 * 24))
        return Recommendation(cpu, None, memory, memory, round(confidence, 3), cpu_reason or mem_reason)
