"""ContainerHistory: one workload container's usage and context, what every strategy takes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from upid.analysis.frame import CONTAINER_KEY, RESOURCE_KEYS
from upid.analysis.window import ClusterWindow


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

    @property
    def samples(self) -> int:
        return len(self.ts)

    @property
    def span_hours(self) -> float:
        return float(self.ts[-1] - self.ts[0]) / 3600 if len(self.ts) else 0.0

    def _keep(self, keep: np.ndarray, kills: tuple[int, ...]) -> ContainerHistory:
        return replace(
            self,
            ts=self.ts[keep],
            cpu=self.cpu[keep],
            memory=self.memory[keep],
            pod=self.pod[keep],
            network=None if self.network is None else self.network[keep],
            oom_kills=kills,
        )

    def until(self, end: int) -> ContainerHistory:
        return self._keep(self.ts <= end, tuple(t for t in self.oom_kills if t <= end))

    def after(self, start: int) -> ContainerHistory:
        return self._keep(self.ts > start, tuple(t for t in self.oom_kills if t > start))


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
            )
        )
    return out
