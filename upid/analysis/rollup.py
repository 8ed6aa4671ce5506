"""Hourly rollups of a series: count, sum and max, and a mergeable histogram of the values, so that a quantile
over any window is a merge of hourly rows instead of a pass over raw samples (#20).

The histogram is the VPA recommender's: exponential buckets, each 5 % wider than the one before. A quantile is read
back as np.percentile's linear interpolation between the two order statistics around it, each the midpoint of its
bucket, so it is within ~2.5 % of the exact value; the max is kept exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

HOUR = 3600


@dataclass(frozen=True)
class Buckets:
    """Bucket i covers [start(i), start(i + 1)), start(i) = first x (ratio^i - 1) / (ratio - 1)."""

    first: float  # the width of the first bucket
    ratio: float = 1.05
    most: float = 1e12  # values above go to the last bucket

    @property
    def count(self) -> int:
        return int(math.ceil(math.log(1 + self.most * (self.ratio - 1) / self.first) / math.log(self.ratio))) + 1

    def index(self, values: np.ndarray) -> np.ndarray:
        v = np.maximum(np.asarray(values, dtype=np.float64), 0.0)
        i = np.floor(np.log1p(v * (self.ratio - 1) / self.first) / math.log(self.ratio)).astype(np.int64)
        i += v >= self.start(i + 1)  # the logarithm's rounding, at a bucket's edge
        i -= v < self.start(i)
        return np.clip(i, 0, self.count - 1)

    def start(self, i: np.ndarray | int) -> np.ndarray:
        return self.first * (np.power(self.ratio, np.asarray(i, dtype=np.float64)) - 1) / (self.ratio - 1)

    def middle(self, i: np.ndarray | int) -> np.ndarray:
        middle: np.ndarray = (self.start(i) + self.start(np.asarray(i) + 1)) / 2
        return middle


CPU_BUCKETS = Buckets(first=0.001, most=1e4)  # cores: 1 millicore, then +5 % (the VPA starts at 10m)
MEMORY_BUCKETS = Buckets(first=2**20, most=1e13)  # bytes: 1 MiB, then +5 % (the VPA: 10 MB)


@dataclass(frozen=True)
class Rollup:
    """One series' hours: per hour its count, sum and max, and its histogram as sparse (hour, bucket, count)."""

    hours: np.ndarray  # hour numbers (UNIX seconds // 3600), sorted
    count: np.ndarray
    total: np.ndarray
    peak: np.ndarray
    cells: np.ndarray  # int64 rows of (hour position, bucket, count), sorted by hour position then bucket


def roll_up(ts: np.ndarray, values: np.ndarray, buckets: Buckets) -> Rollup:
    """The hourly rollup of one series (`ts` in UNIX seconds, any order)."""
    hour = np.asarray(ts, dtype=np.int64) // HOUR
    hours, where = np.unique(hour, return_inverse=True)
    count = np.bincount(where, minlength=len(hours))
    total = np.bincount(where, weights=values, minlength=len(hours))
    peak = np.full(len(hours), -np.inf)
    np.maximum.at(peak, where, values)
    key = where * buckets.count + buckets.index(values)
    cells, n = np.unique(key, return_counts=True)
    rows = np.column_stack([cells // buckets.count, cells % buckets.count, n]).astype(np.int64)
    return Rollup(hours, count, total, peak, rows)


def quantile(rollup: Rollup, q: float, buckets: Buckets, hours: slice | None = None) -> float:
    """The q-th percentile (0..100) of the values of the hours in `hours` (positions; all by default), read back
    as the midpoint of the bucket it falls in."""
    cells = rollup.cells
    if hours is not None:
        lo, hi, _ = hours.indices(len(rollup.hours))
        cells = cells[(cells[:, 0] >= lo) & (cells[:, 0] < hi)]
    if not len(cells):
        return float("nan")
    return quantile_of(np.bincount(cells[:, 1], weights=cells[:, 2], minlength=buckets.count), q, buckets)


def quantile_of(per_bucket: np.ndarray, q: float, buckets: Buckets) -> float:
    """The q-th percentile (0..100) of a histogram (counts per bucket), each value read as its bucket's midpoint."""
    cumulative = np.cumsum(per_bucket)
    if not len(cumulative) or cumulative[-1] <= 0:
        return float("nan")
    # np.percentile's linear rule on the order statistics, each read as its bucket's midpoint
    pos = q / 100 * (float(cumulative[-1]) - 1)
    below, above = math.floor(pos), math.ceil(pos)
    low = float(buckets.middle(int(np.searchsorted(cumulative, below + 1))))
    high = float(buckets.middle(int(np.searchsorted(cumulative, above + 1))))
    return low + (high - low) * (pos - below)


def peak(rollup: Rollup, hours: slice | None = None) -> float:
    """The exact max over the hours (positions)."""
    values = rollup.peak if hours is None else rollup.peak[hours]
    return float(values.max()) if len(values) else float("nan")
