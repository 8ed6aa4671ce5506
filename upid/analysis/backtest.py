"""Risk measured on the cluster's own history: fit a strategy on the earlier part of the window, replay the
later part against its recommendation."""

from __future__ import annotations

from dataclasses import asdict, dataclass
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
        above = h.memory_peaks[h.pod == p] > limit  # rolled up: an hour whose peak crossed (runs of hours count once)
        count += int(above[0]) + int(np.count_nonzero(above[1:] & ~above[:-1]))
    return count


@dataclass(frozen=True)
class Backtest:
    """A recommendation fitted on the first two thirds of the window, replayed on the last third."""

    fit_until: str  # ISO time of the cut
    replayed_hours: float
    replayed_samples: int
    cpu_shortfall: float | None = None  # share of the replayed CPU demand above the recommended request
    cpu_samples_above: float | None = None  # share of the replayed samples above it
    oom: bool | None = None  # would a pod's memory have crossed the recommended limit
    oom_count: int | None = None  # how many times: each an OOM kill
    reason: str | None = None  # why neither CPU nor memory could be replayed

    def to_dict(self) -> dict[str, Any]:
        """The `risk` of the JSON documents (docs/json-output.md)."""
        out = {k: v for k, v in asdict(self).items() if k != "reason"}
        return {**out, "reason": self.reason} if self.reason is not None else out


def backtest_cut(first: int, last: int) -> int:
    """Where a history from `first` to `last` (UNIX seconds) is split: fit up to it, replay after."""
    return int(first + (last - first) * FIT_SHARE)


def backtest(strategy: Strategy, h: ContainerHistory) -> Backtest | None:
    """None when the history is too short to split; else the replay's shortfall and OOM counts."""
    if h.samples < 2:
        return None
    cut = backtest_cut(int(h.ts[0]), int(h.ts[-1]))
    fit, replay = h.until(cut), h.after(cut)
    if not replay.samples:
        return None
    rec = strategy.recommend(fit)
    shortfall = above_share = oom = count = None
    if rec.cpu_request is not None:
        short, above = replay.cpu_above(rec.cpu_request)
        shortfall, above_share = round(short, 4), round(above, 4)
    if rec.memory_limit is not None:
        count = _crossings(replay, rec.memory_limit)
        oom = count > 0
    return Backtest(
        fit_until=iso(cut) or "",
        replayed_hours=round(replay.span_hours, 1),
        replayed_samples=replay.samples,
        cpu_shortfall=shortfall,
        cpu_samples_above=above_share,
        oom=oom,
        oom_count=count,
        reason=rec.reason if rec.cpu_request is None and rec.memory_limit is None else None,
    )
