"""UsageFrame: the input of every analysis, as a store hands it over."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONTAINER_KEY = ("namespace", "workload_kind", "workload", "container")
RESOURCE_KEYS = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")


@dataclass
class UsageFrame:
    """Usage of the workload containers of one cluster over the window (start, end], in UNIX seconds.

    `containers` holds one entry per workload container (the CONTAINER_KEY columns) and its current
    requests/limits (RESOURCE_KEYS: CPU in cores, memory in bytes, NaN when unset), taken from the
    latest change among its pods. Samples are sorted by container, then time; `container_idx` points
    into `containers` and `pod_idx` numbers the pods within each container.
    """

    cluster: str
    start: int
    end: int
    containers: dict[str, np.ndarray]
    container_idx: np.ndarray
    pod_idx: np.ndarray
    ts: np.ndarray
    cpu: np.ndarray  # cores
    memory: np.ndarray  # bytes
    network: np.ndarray | None = None  # bytes/s received + sent by the pod (NaN: not measured)

    @property
    def container_count(self) -> int:
        return len(self.containers.get("namespace", ()))

    def groups(self) -> list[tuple[int, slice]]:
        """(container index, slice of its samples) for every container that has samples."""
        idx = self.container_idx
        if not len(idx):
            return []
        starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
        ends = np.r_[starts[1:], len(idx)]
        return [(int(idx[a]), slice(int(a), int(b))) for a, b in zip(starts, ends, strict=True)]
