"""ClusterWindow: everything an analysis reads about one cluster over one window, as a store hands it over.

One read per command (`Store.window`), in typed, frozen records: the usage (UsageFrame), the nodes with their
lifetimes, and per workload its labels, replicas, annotations, HPA, PDBs and container order. Collected
clusters have all of it; imported history has usage only, and every other part is empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy stays out of `upid --help` and `storage status`
    import numpy as np

    from upid.analysis.frame import UsageFrame

WorkloadKey = tuple[str, str, str]  # namespace, kind, name
ContainerKey = tuple[str, str, str, str]  # namespace, kind, workload, container


@dataclass(frozen=True)
class Node:
    """A node as last collected; CPU in cores, memory in bytes, times in UNIX seconds (None: not recorded)."""

    name: str
    cpu_capacity: float = 0.0
    memory_capacity: float = 0.0
    cpu_allocatable: float | None = None
    memory_allocatable: float | None = None
    instance_type: str | None = None
    region: str | None = None
    zone: str | None = None
    capacity_type: str | None = None  # on-demand or spot
    provider_id: str | None = None
    first_seen: int | None = None
    last_seen: int | None = None


@dataclass(frozen=True)
class Hpa:
    name: str
    min_replicas: int | None
    resources: tuple[str, ...]  # the resources it scales on: cpu, memory


@dataclass(frozen=True)
class Pdb:
    name: str
    min_available: str | None = None  # an int or a percentage, as the PDB spells it
    max_unavailable: str | None = None
    disruptions_allowed: int | None = None


@dataclass(frozen=True)
class Workload:
    """What a collect recorded of one workload; the defaults are what an imported workload has."""

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    replicas: int | None = None
    hpa: Hpa | None = None
    pdbs: tuple[Pdb, ...] = ()
    containers: tuple[str, ...] = ()  # the pod template's container order


NO_WORKLOAD = Workload()


@dataclass(frozen=True)
class Events:
    """What happened to the window's containers, besides usage (collected clusters only)."""

    oom_kills: Mapping[ContainerKey, tuple[int, ...]] = field(default_factory=dict)  # UNIX seconds
    restarts: Mapping[ContainerKey, int] = field(default_factory=dict)  # restarts within the window
    containers_per_pod: Mapping[WorkloadKey, int] = field(default_factory=dict)
    pod_nodes: Mapping[int, Mapping[int, str]] = field(default_factory=dict)  # container index -> pod index -> node
    pod_names: Mapping[int, Mapping[int, str]] = field(default_factory=dict)  # container index -> pod index -> pod


@dataclass(frozen=True)
class Scope:
    """Which workloads a window holds: namespaces (None: all) and kubectl's equality-based label selector."""

    namespaces: tuple[str, ...] | None = None
    selector: str | None = None
    resolution: str = "raw"  # raw samples, or "hour": the hourly rollups (long windows)


@dataclass(frozen=True)
class Hours:
    """Beside a window read from hourly rollups (its usage holds one sample per pod-hour, the hour's means): each
    pod-hour's sample count and exact peaks, and the histograms the strategies and backtests merge."""

    count: np.ndarray  # per usage sample: the samples rolled up in that pod-hour
    cpu_peak: np.ndarray  # cores
    memory_peak: np.ndarray  # bytes
    cuts: Mapping[int, int]  # container index -> the backtest's cut (UNIX seconds), as backtest.backtest_cut
    cpu: Mapping[tuple[int, int, int], np.ndarray]  # (container, pod, 0 fit / 1 replay) -> counts per CPU bucket
    memory: Mapping[int, np.ndarray]  # container -> counts per memory bucket over the window, every pod


@dataclass(frozen=True)
class ClusterWindow:
    usage: UsageFrame
    nodes: tuple[Node, ...] = ()
    workloads: Mapping[WorkloadKey, Workload] = field(default_factory=dict)
    events: Events = field(default_factory=Events)
    hours: Hours | None = None  # when read from hourly rollups

    @property
    def cluster(self) -> str:
        return self.usage.cluster

    @property
    def start(self) -> int:
        return self.usage.start

    @property
    def end(self) -> int:
        return self.usage.end

    def workload(self, key: WorkloadKey) -> Workload:
        return self.workloads.get(key, NO_WORKLOAD)
