"""The test cluster's objects, shaped like the real captures in ../shared/data/k8s-fixtures.

Usage of every container follows a real trace: the Bitbrains VMs of upid's bundled demo sample (the
same public data, 5-minute resolution), each pod playing one VM from its own offset, scaled so that the
VM's provisioned size maps onto the pod's request. Nothing random: the same layout gives the same cluster.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np

from upid.workflows.demo import sample_path

STEP = 300  # the trace's resolution, seconds
CREATED = "2026-10-01T00:00:00Z"

# requests/limits of real GKE kube-system deployments (libcloud-gke-2021/_apis_apps_v1_deployments.json)
RESOURCE_SHAPES = [
    {"requests": {"cpu": "100m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}},  # kube-dns
    {"requests": {"cpu": "43m", "memory": "55Mi"}, "limits": {"cpu": "43m", "memory": "55Mi"}},  # metrics-server
    {"requests": {"cpu": "10m", "memory": "20Mi"}, "limits": {"cpu": "10m", "memory": "20Mi"}},  # l7-default-backend
    {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
    {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "500m", "memory": "1Gi"}},  # cassandra-0
    {"requests": {"cpu": "1", "memory": "2Gi"}},
]
KINDS = ("Deployment", "Deployment", "Deployment", "StatefulSet", "DaemonSet", "CronJob")


def _uid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(map(str, parts))))


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Trace:
    """CPU (share of provisioned cores) and memory (share of provisioned memory) per VM and 5-minute step."""

    def __init__(self) -> None:
        con = duckdb.connect()
        rows = con.execute(f"""SELECT pod, list(cpu_cores / cpu_request_cores ORDER BY timestamp),
                                      list(memory_bytes / memory_request_bytes ORDER BY timestamp)
                               FROM '{sample_path()}' WHERE cpu_cores IS NOT NULL
                               GROUP BY pod ORDER BY pod""").fetchall()
        self.cpu = [np.clip(np.asarray(r[1], dtype=float), 0, 4) for r in rows]
        self.memory = [np.clip(np.asarray(r[2], dtype=float), 0.01, 1.5) for r in rows]

    def at(self, vm: int, step: int) -> tuple[float, float]:
        series = self.cpu[vm % len(self.cpu)]
        i = step % len(series)
        return float(series[i]), float(self.memory[vm % len(self.memory)][i % len(self.memory[vm % len(self.memory)])])


@dataclass
class Workload:
    namespace: str
    kind: str
    name: str
    replicas: int
    shape: dict[str, Any]
    containers: list[str]
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # per container; from `shape` at first
    idle: bool = False  # uses (almost) nothing: what idle detection must find
    rv: int = 0  # resourceVersion after the last write to it; 0: never written (then it follows the clock)

    def __post_init__(self) -> None:
        if not self.resources:
            self.resources = {c: copy.deepcopy(self.shape) for c in self.containers}


@dataclass
class Pod:
    namespace: str
    name: str
    workload: Workload
    owner_kind: str  # the direct owner: ReplicaSet, StatefulSet, DaemonSet, Job, or "" for a bare pod
    owner_name: str
    node: str
    vm: int  # which trace series it plays
    offset: int
    restarts: int = 0
    oom_at: str | None = None


class Cluster:
    """The state the server answers from; `advance` moves its clock (and so every pod's usage)."""

    def __init__(
        self,
        pods: int = 40,
        nodes: int = 4,
        namespaces: int = 3,
        start: int = 1_790_000_000,
        name: str = "test",
        provider: str = "gke",
    ) -> None:
        self.name, self.provider = name, provider
        self.start, self.now = start, start
        self.trace = Trace()
        self.node_names = [f"gke-{name}-default-pool-{i:04d}" for i in range(nodes)]
        self.namespaces = ["kube-system", "default"] + [f"team-{i}" for i in range(namespaces)]
        self.workloads: list[Workload] = []
        self.pods: list[Pod] = []
        self.cpu_ns: dict[tuple[str, str], float] = {}  # cumulative core-nanoseconds per (pod, container)
        self.net: dict[str, tuple[float, float]] = {}
        self.revision = 2_000_000  # the etcd revision: every write takes the next one
        self._build(pods)

    def _build(self, target: int) -> None:
        i = 0
        while len(self.pods) < target:
            ns = self.namespaces[2 + i % (len(self.namespaces) - 2)] if i % 7 else "kube-system"
            kind = KINDS[i % len(KINDS)]
            name = f"app-{i}"
            containers = ["app"] if i % 4 else ["app", "sidecar"]
            replicas = 1 if kind in ("CronJob", "DaemonSet") else 1 + i % 3
            w = Workload(
                ns,
                kind,
                name,
                replicas,
                RESOURCE_SHAPES[i % len(RESOURCE_SHAPES)],
                containers,
                {"app": name, "tier": "web" if i % 2 else "batch"},
            )
            self.workloads.append(w)
            count = len(self.node_names) if kind == "DaemonSet" else replicas
            for r in range(min(count, target - len(self.pods))):
                owner_kind, owner, pod_name = {
                    "Deployment": ("ReplicaSet", f"{name}-5d8f7c9b4", f"{name}-5d8f7c9b4-{r:05d}"),
                    "StatefulSet": ("StatefulSet", name, f"{name}-{r}"),
                    "DaemonSet": ("DaemonSet", name, f"{name}-{r:05d}"),
                    "CronJob": ("Job", f"{name}-29012345", f"{name}-29012345-{r:05d}"),
                }[kind]
                n = len(self.pods)
                self.pods.append(
                    Pod(
                        ns,
                        pod_name,
                        w,
                        owner_kind,
                        owner,
                        self.node_names[n % len(self.node_names)],
                        vm=n,
                        offset=(n * 37) % 2000,
                    )
                )
            i += 1
        self.pods_by_node: dict[str, list[Pod]] = {}
        for p in self.pods:
            self.pods_by_node.setdefault(p.node, []).append(p)
        bare = self.pods[-1]
        bare.owner_kind, bare.owner_name = "", ""  # one bare pod, owned by nobody
        self.pods[0].restarts, self.pods[0].oom_at = 2, _time(self.start - 600)

    def workload(self, namespace: str, kind: str, name: str) -> Workload | None:
        return next((w for w in self.workloads if (w.namespace, w.kind, w.name) == (namespace, kind, name)), None)

    def written(self, w: Workload) -> None:
        """Someone (upid, or another client in a test) wrote to the workload: it gets a new resourceVersion."""
        self.revision += 1
        w.rv = self.revision

    # -- time and usage --------------------------------------------------------------------------

    @property
    def step(self) -> int:
        return (self.now - self.start) // STEP

    def usage(self, pod: Pod, container: str, step: int | None = None) -> tuple[float, float]:
        """(cores, bytes) a container uses at a step: the trace scaled to the container's request."""
        cpu_share, mem_share = self.trace.at(
            pod.vm + (container != "app"), pod.offset + (self.step if step is None else step)
        )
        req = pod.workload.shape["requests"]
        from upid.units import parse_quantity

        if pod.workload.idle:
            return 0.0, 0.3 * parse_quantity(req["memory"])
        return cpu_share * parse_quantity(req["cpu"]), mem_share * parse_quantity(req["memory"])

    def advance(self, seconds: int = STEP) -> None:
        """Move the clock; kubelet counters integrate the usage of every step passed."""
        for _ in range(seconds // STEP):
            for pod in self.pods:
                for c in pod.workload.containers:
                    cores, _ = self.usage(pod, c)
                    key = (pod.name, c)
                    self.cpu_ns[key] = self.cpu_ns.get(key, 0.0) + cores * STEP * 1e9
                rx, tx = self.net.get(pod.name, (0.0, 0.0))
                busy = 0 if pod.workload.idle else pod.vm % 5
                self.net[pod.name] = (rx + 2048.0 * STEP * busy, tx + 1024.0 * STEP * busy)
            self.now += STEP
