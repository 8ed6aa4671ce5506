"""Risk measured on the cluster's own history: fit a strategy on the earlier part of the window, replay the
later part against its recommendation."""

from __future__ import annotations

from typing import Any

import numpy as np

from upid.analysis.history import ContainerHistory, present
from upid.analysis.strategies.base import Strategy
from upid.units import iso

FIT_SHARE = 2 / 3


def _crossings(h: ContainerHistory, limit: float) -> int:
    """Times memory went above the limit (each would have been an OOM kill), counted per pod."""
    count = 0
    for p in present(h.pod):
        above = h.memory[h.pod == p] > limit
        count += int(above[0]) + int(np.count_nonzero(above[1:] & ~above[:-1]))
    return count


def backtest(strategy: Strategy, h: ContainerHistory) -> dict[str, Any] | None:
    """None when the history is too short to split; else the replay's shortfall and OOM counts."""
    if h.samples < 2:
        return None
    cut = int(h.ts[0] + (h.ts[-1] - h.ts[0]) * FIT_SHARE)
    fit, replay = h.until(cut), h.after(cut)
    if not replay.samples:
        return None
    rec = strategy.recommend(fit)
    risk: dict[str, Any] = {
        "fit_until": iso(cut),
        "replayed_hours": round(replay.span_hours, 1),
        "replayed_samples": replay.samples,
        "cpu_shortfall": None,
        "cpu_samples_above": None,
        "oom": None,
        "oom_count": None,
    }
    if rec.cpu_request is not None:
        demand = float(replay.cpu.sum())
        above = np.maximum(replay.cpu - rec.cpu_request, 0).sum()
        risk["cpu_shortfall"] = round(float(above) / demand, 4) if demand > 0 else 0.0
        risk["cpu_samples_above"] = round(float((replay.cpu > rec.cpu_request).mean()), 4)
    if rec.memory_limit is not None:
        crossings = _crossings(replay, rec.memory_limit)
        risk["oom"], risk["oom_count"] = crossings > 0, crossings
    if rec.cpu_request is None and rec.memory_limit is None:
        risk["reason"] = rec.reason
    return risk
