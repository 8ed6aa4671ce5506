"""`upid top`: usage history per pod, workload, namespace or node, bucketed by hour or day, like `kubectl top`
over the stored history. Pure: a window in, rows out.

- A group's usage at a moment is the sum over its series (container x pod) of their samples on the sampling
  grid (the median interval between a series' samples); a series without a sample at that moment adds nothing.
- Per bucket: the minimum, mean, 95th percentile and maximum of those sums.
- Trend: the least-squares line through the bucket means, as growth per day, with its R2.
- Anomalies: buckets whose mean is far from its own kind: the same hour of day (by hour) or every day (by day),
  by the modified z-score of Iglewicz and Hoaglin (0.6745 (x - median) / MAD), flagged above 3.5 with at least
  5 buckets to compare with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from upid.analysis.history import segment_percentiles
from upid.analysis.window import ClusterWindow

KEY_NAMES = {  # scope -> the labels that name one of its groups
    "pods": ("namespace", "workload_kind", "workload", "pod"),
    "workloads": ("namespace", "workload_kind", "workload"),
    "namespaces": ("namespace",),
    "nodes": ("node",),
}
SCOPES = tuple(KEY_NAMES)
BUCKETS = {"hour": 3600, "day": 86400}
Z_LIMIT = 3.5  # Iglewicz and Hoaglin's cut for the modified z-score
Z_SCALE = 0.6745  # makes the MAD comparable to a standard deviation for normal data
MIN_REFERENCE = 5


@dataclass(frozen=True)
class Trend:
    per_day: float | None  # growth of the bucket means per day, in the resource's unit
    r2: float | None  # how well the line fits them (0..1); None with fewer than 3 buckets or a flat series


@dataclass(frozen=True)
class Series:
    """One resource of one group: per bucket (start, min, mean, p95, max), its trend and anomalous buckets."""

    starts: np.ndarray
    low: np.ndarray
    mean: np.ndarray
    p95: np.ndarray
    high: np.ndarray
    trend: Trend
    anomalies: tuple[int, ...]  # bucket starts, UNIX seconds


@dataclass(frozen=True)
class Row:
    key: tuple[str, ...]
    cpu: Series
    memory: Series
    series: int  # container x pod series summed


@dataclass
class TopReport:
    cluster: str
    start: int
    end: int
    scope: str
    by: str
    step: int  # the sampling grid, seconds
    key_names: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)
    unplaced: int = 0  # samples left out: (nodes) a pod with no recorded node


def sampling_step(series: np.ndarray, ts: np.ndarray) -> int:
    """The median interval between consecutive samples of one series, in whole seconds (300 with none)."""
    order = np.lexsort((ts, series))
    s, t = series[order], ts[order]
    same = s[1:] == s[:-1]
    gaps = np.diff(t)[same]
    gaps = gaps[gaps > 0]
    return max(1, int(round(float(np.median(gaps))))) if len(gaps) else 300


def _keys(window: ClusterWindow, scope: str) -> tuple[np.ndarray, np.ndarray, list[tuple[str, ...]]]:
    """Each series' group (-1: left out), each sample's series (a dense index of its container and pod) and
    the groups' keys."""
    frame, events = window.usage, window.events
    c = frame.containers
    ci, pi = frame.container_idx.astype(np.int64), frame.pod_idx.astype(np.int64)
    packed, inverse = np.unique(ci * (1 << 32) + pi, return_inverse=True)  # one int64 sort, not a 2-D unique
    inverse = inverse.reshape(-1)
    names: list[tuple[str, ...] | None] = []
    for a, b in zip(packed >> 32, packed & 0xFFFFFFFF, strict=True):
        ns, kind, workload = str(c["namespace"][a]), str(c["workload_kind"][a]), str(c["workload"][a])
        if scope == "pods":
            pod = events.pod_names.get(int(a), {}).get(int(b))
            names.append((ns, kind, workload, pod) if pod is not None else None)
        elif scope == "workloads":
            names.append((ns, kind, workload))
        elif scope == "namespaces":
            names.append((ns,))
        else:
            node = events.pod_nodes.get(int(a), {}).get(int(b))
            names.append((node,) if node else None)
    known = sorted({n for n in names if n is not None})
    index = {n: i for i, n in enumerate(known)}
    per_pair = np.array([index[n] if n is not None else -1 for n in names], dtype=np.int64)
    return per_pair, inverse, known


def _trend(starts: np.ndarray, means: np.ndarray) -> Trend:
    if len(means) < 3:
        return Trend(None, None)
    days = (starts - starts[0]) / 86400.0
    slope, intercept = np.polyfit(days, means, 1)
    total = float(((means - means.mean()) ** 2).sum())
    if total <= 0:
        return Trend(0.0, None)
    residual = float(((means - (slope * days + intercept)) ** 2).sum())
    return Trend(float(slope), max(0.0, 1.0 - residual / total))


def _anomalies(starts: np.ndarray, means: np.ndarray, bucket: int) -> tuple[int, ...]:
    """The buckets whose modified z-score against the same hour of day (by hour) or every day (by day) is above
    Z_LIMIT, where that hour has MIN_REFERENCE buckets and a spread; all hours at once."""
    kinds = (starts % 86400) // 3600 if bucket < 86400 else np.zeros(len(starts), dtype=np.int64)
    order = np.argsort(kinds, kind="stable")
    values = means[order]
    _, first, counts = np.unique(kinds[order], return_index=True, return_counts=True)
    part = np.repeat(np.arange(len(first)), counts)
    median = np.repeat(segment_percentiles(values, part, 50), counts)
    mad = np.repeat(segment_percentiles(np.abs(values - median), part, 50), counts)
    judged = (np.repeat(counts, counts) >= MIN_REFERENCE) & (mad > 0)
    z = Z_SCALE * (values - median) / np.where(judged, mad, 1.0)
    return tuple(sorted(int(s) for s in starts[order][judged & (np.abs(z) > Z_LIMIT)]))


def _series(grid: np.ndarray, totals: np.ndarray, bucket: int) -> Series:
    """Bucket statistics of one group's totals on the grid (grid sorted)."""
    starts, first, counts = np.unique((grid // bucket) * bucket, return_index=True, return_counts=True)
    low, high = np.minimum.reduceat(totals, first), np.maximum.reduceat(totals, first)
    mean = np.add.reduceat(totals, first) / counts
    p95 = segment_percentiles(totals, np.repeat(np.arange(len(first)), counts), 95)
    return Series(starts, low, mean, p95, high, _trend(starts, mean), _anomalies(starts, mean, bucket))


def top(window: ClusterWindow, scope: str, by: str) -> TopReport:
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    frame = window.usage
    bucket = BUCKETS[by]
    per_series, series, known = _keys(window, scope)
    step = sampling_step(series, frame.ts.astype(np.int64, copy=False)) if len(frame.ts) else 300
    report = TopReport(frame.cluster, frame.start, frame.end, scope, by, step, KEY_NAMES[scope])
    group = per_series[series]
    keep = group >= 0
    report.unplaced = int(len(keep) - keep.sum())
    if not keep.any():
        return report
    whole = report.unplaced == 0

    def pick(a: np.ndarray) -> np.ndarray:
        return a if whole else a[keep]  # no copies when every sample counts

    grid = pick(frame.ts).astype(np.int64, copy=False) // step * step
    g, sid = pick(group), pick(series)
    del group
    # one value per series and grid point (their mean), then the group's sum at each grid point; keys packed
    # into one int64 (group, grid point, series), built in place, so that each np.unique is a plain sort
    origin = int(grid.min())
    n_t, n_s = (int(grid.max()) - origin) // step + 1, len(per_series)
    packed = g * n_t
    packed += (grid - origin) // step
    packed *= n_s
    packed += sid
    del grid, g, sid
    cell_key, first_pass = np.unique(packed, return_inverse=True)
    del packed
    count = np.bincount(first_pass)
    values = {
        k: np.bincount(first_pass, weights=pick(v)) / count for k, v in (("cpu", frame.cpu), ("memory", frame.memory))
    }
    del first_pass, count
    group_time, second = np.unique(cell_key // n_s, return_inverse=True)
    sums = {k: np.bincount(second, weights=v, minlength=len(group_time)) for k, v in values.items()}
    cell_group, cell_time = group_time // n_t, (group_time % n_t) * step + origin
    members = np.bincount(per_series[per_series >= 0], minlength=len(known))  # every series has samples here
    bounds = np.searchsorted(cell_group, np.arange(len(known) + 1))  # sorted by group, then time: the packed key
    for i, key in enumerate(known):
        if bounds[i] == bounds[i + 1]:
            continue
        mine = slice(bounds[i], bounds[i + 1])
        t = cell_time[mine]
        report.rows.append(
            Row(key, _series(t, sums["cpu"][mine], bucket), _series(t, sums["memory"][mine], bucket), int(members[i]))
        )
    return report
