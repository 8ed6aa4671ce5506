"""ContainerHistory: one workload container's usage and context, what every strategy takes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from upid.analysis.frame import CONTAINER_KEY, RESOURCE_KEYS
from upid.analysis.rollup import CPU_BUCKETS, MEMORY_BUCKETS, quantile_of
from upid.analysis.window import ClusterWindow, Hours

PARTS = ("all", "fit", "replay")  # a rolled-up history's CPU histograms: the window, and the backtest's two parts


@dataclass(frozen=True)
class Hourly:
    """What a history read from hourly rollups carries besides its arrays. Each sample of such a history is one
    pod-hour: `ts` the hour's start, cpu/memory/network the hour's means. Here: each pod-hour's sample count and
    exact peaks, and the CPU histograms (counts per bucket of rollup.CPU_BUCKETS) per pod, for the whole window
    and for the backtest's fit (ts <= cut) and replay parts, and the memory histogram of the window."""

    count: np.ndarray  # samples in each pod-hour
    cpu_peak: np.ndarray  # cores
    memory_peak: np.ndarray  # bytes
    cpu_histograms: dict[str, dict[int, np.ndarray]]  # part -> pod -> counts per bucket
    memory_histogram: np.ndarray  # counts per bucket of rollup.MEMORY_BUCKETS, every pod, the whole window
    cut: int  # UNIX seconds: the backtest's cut the parts are split at
    part: str | None = "all"  # which histograms describe this history (None: a cut the rollups were not split at)

    def keep(self, keep: np.ndarray, part: str | None) -> Hourly:
        return replace(self, count=self.count[keep], cpu_peak=self.cpu_peak[keep],
                       memory_peak=self.memory_peak[keep], part=part)  # fmt: skip

    def histograms(self) -> dict[int, np.ndarray]:
        if self.part is None:
            raise ValueError("a rolled-up history has CPU histograms only for its window and the backtest's cut")
        return self.cpu_histograms[self.part]


@dataclass(frozen=True)
class ContainerHistory:
    key: tuple[str, str, str, str]  # namespace, workload_kind, workload, container
    ts: np.ndarray  # UNIX seconds, sorted
    cpu: np.ndarray  # cores
    memory: np.ndarray  # bytes
    pod: np.ndarray  # pod index within the workload
    current: dict[str, float | None]  # cpu_request, cpu_limit, memory_request, memory_limit
    oom_kills: tuple[int, ...] = ()  # times of OOMKilled terminations
    hpa_resources: frozenset[str] = frozenset()  # resources an HPA scales this workload on
    containers_in_pod: int = 1
    network: np.ndarray | None = None  # bytes/s, NaN where not measured
    restarts: int = 0  # restarts seen in the window (collected clusters)
    annotations: dict[str, str] = field(default_factory=dict)
    replicas: int | None = None
    nodes: dict[int, str] = field(default_factory=dict)  # pod index -> node (collected clusters)
    hourly: Hourly | None = None  # read from hourly rollups: each sample is a pod-hour (see Hourly)

    @property
    def samples(self) -> int:
        """Samples of usage measured (a rolled-up history's are counted in its hours)."""
        return int(self.hourly.count.sum()) if self.hourly is not None else len(self.ts)

    @property
    def memory_peaks(self) -> np.ndarray:
        """Memory per sample for peak rules (per pod-hour, its exact max, when rolled up)."""
        return self.hourly.memory_peak if self.hourly is not None else self.memory

    @property
    def cpu_peaks(self) -> np.ndarray:
        return self.hourly.cpu_peak if self.hourly is not None else self.cpu

    def cpu_percentile(self, q: float) -> float:
        """The q-th percentile of each pod's CPU, the highest over pods (KRR's per-pod queries); from the pods'
        merged hourly histograms when rolled up (never above the pod's exact peak)."""
        if self.hourly is None:
            return float(max(np.percentile(self.cpu[self.pod == p], q) for p in present(self.pod)))
        peaks = {int(p): float(self.hourly.cpu_peak[self.pod == p].max()) for p in present(self.pod)}
        histograms = self.hourly.histograms()
        return max(min(quantile_of(histograms[p], q, CPU_BUCKETS), peak) for p, peak in peaks.items())

    def memory_percentile(self, q: float) -> float:
        if self.hourly is None:
            return float(np.percentile(self.memory, q))
        return min(quantile_of(self.hourly.memory_histogram, q, MEMORY_BUCKETS), float(self.hourly.memory_peak.max()))

    def cpu_above(self, request: float) -> tuple[float, float]:
        """(the share of CPU demand above `request`, the share of samples above it); from the histograms when
        rolled up (each value its bucket's midpoint; the demand itself exact from the hours' sums)."""
        if self.hourly is None:
            demand = float(self.cpu.sum())
            above = float(np.maximum(self.cpu - request, 0).sum())
            return (above / demand if demand > 0 else 0.0), float((self.cpu > request).mean()) if len(self.cpu) else 0.0
        counts = np.sum(list(self.hourly.histograms().values()), axis=0)
        middle = CPU_BUCKETS.middle(np.arange(len(counts)))
        demand = float((self.cpu * self.hourly.count).sum())
        above = float((np.maximum(middle - request, 0) * counts).sum())
        total = float(counts.sum())
        return (min(1.0, above / demand) if demand > 0 else 0.0), (float(counts[middle > request].sum()) / total
                                                                    if total else 0.0)  # fmt: skip

    @property
    def span_hours(self) -> float:
        return float(self.ts[-1] - self.ts[0]) / 3600 if len(self.ts) else 0.0

    def _keep(self, keep: np.ndarray, kills: tuple[int, ...], part: str | None) -> ContainerHistory:
        return replace(
            self,
            hourly=None if self.hourly is None else self.hourly.keep(keep, part),
            ts=self.ts[keep],
            cpu=self.cpu[keep],
            memory=self.memory[keep],
            pod=self.pod[keep],
            network=None if self.network is None else self.network[keep],
            oom_kills=kills,
        )

    def until(self, end: int) -> ContainerHistory:
        part = "fit" if self.hourly is not None and end == self.hourly.cut else None
        return self._keep(self.ts <= end, tuple(t for t in self.oom_kills if t <= end), part)

    def after(self, start: int) -> ContainerHistory:
        part = "replay" if self.hourly is not None and start == self.hourly.cut else None
        return self._keep(self.ts > start, tuple(t for t in self.oom_kills if t > start), part)


def unique_sorted(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(ts, return_inverse=True) for sorted ts (a history's are), by a diff: numpy 2 takes a hashing
    path for np.unique that is ~100x slower on these arrays."""
    starts = np.r_[True, ts[1:] != ts[:-1]] if len(ts) else np.zeros(0, bool)
    return ts[starts], np.cumsum(starts) - 1


def present(small: np.ndarray) -> np.ndarray:
    """The distinct values, sorted, of an array of small non-negative integers (pod indices, day numbers):
    np.unique's result by a bincount (numpy 2's np.unique hashes, ~100x slower on these)."""
    return np.flatnonzero(np.bincount(small)) if len(small) else np.zeros(0, dtype=np.int64)


def segment_percentiles(values: np.ndarray, segment: np.ndarray, q: float) -> np.ndarray:
    """The q-th percentile (linear interpolation, as np.percentile) of `values` within each run of equal
    `segment` ids (non-negative, grouped), in one sort instead of a call per segment."""
    if not len(values):
        return np.zeros(0)
    order = np.lexsort((values, segment))
    v, seg = values[order], segment[order]
    starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    counts = np.diff(np.r_[starts, len(v)])
    pos = starts + (q / 100) * (counts - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, starts + counts - 1)
    out: np.ndarray = v[lo] + (v[hi] - v[lo]) * (pos - lo)
    return out


def _value(v: object) -> float | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)  # type: ignore[arg-type]


def histories(window: ClusterWindow) -> list[ContainerHistory]:
    """One ContainerHistory per workload container with samples in the window."""
    frame, events = window.usage, window.events
    out = []
    for c, part in frame.groups():
        hourly = None if window.hours is None else _hourly(window.hours, c, part, frame.pod_idx[part])
        ns, kind, workload, container = (str(frame.containers[k][c]) for k in CONTAINER_KEY)
        key = (ns, kind, workload, container)
        recorded = window.workload((ns, kind, workload))
        out.append(
            ContainerHistory(
                key=key,
                ts=frame.ts[part],
                cpu=frame.cpu[part],
                memory=frame.memory[part],
                pod=frame.pod_idx[part],
                current={k: _value(frame.containers[k][c]) for k in RESOURCE_KEYS},
                oom_kills=events.oom_kills.get(key, ()),
                hpa_resources=frozenset(recorded.hpa.resources) if recorded.hpa else frozenset(),
                containers_in_pod=events.containers_per_pod.get((ns, kind, workload), 1),
                network=None if frame.network is None else frame.network[part],
                restarts=events.restarts.get(key, 0),
                annotations=dict(recorded.annotations),
                replicas=recorded.replicas,
                nodes=dict(events.pod_nodes.get(c, {})),
                hourly=hourly,
            )
        )
    return out


def _hourly(hours: Hours, c: int, part: slice, pods: np.ndarray) -> Hourly:
    """Container `c`'s part of a window read from rollups (its samples: `part` of the frame)."""
    from upid.analysis.rollup import CPU_BUCKETS, MEMORY_BUCKETS

    none = np.zeros(CPU_BUCKETS.count)
    histograms: dict[str, dict[int, np.ndarray]] = {name: {} for name in PARTS}
    for p in present(pods):
        fit, replay = hours.cpu.get((c, int(p), 0), none), hours.cpu.get((c, int(p), 1), none)
        histograms["fit"][int(p)], histograms["replay"][int(p)] = fit, replay
        histograms["all"][int(p)] = fit + replay
    memory = hours.memory.get(c, np.zeros(MEMORY_BUCKETS.count))
    return Hourly(hours.count[part], hours.cpu_peak[part], hours.memory_peak[part], histograms, memory, hours.cuts[c])
