"""What a collection records besides samples: cluster identity, nodes, workloads, autoscalers, budgets.

Plain dataclasses shared by the cluster layer (which fills them) and the store (which keeps them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from upid.samples import SampleBatch


@dataclass(frozen=True)
class Identity:
    uid: str
    context: str | None
    server: str
    version: str
    distribution: str  # eks, gke, aks, openshift, k3s, kind, minikube, docker-desktop, generic
    provider: str | None  # aws, gcp, azure, or None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class NodeRecord:
    name: str
    cpu_capacity: float
    memory_capacity: float
    cpu_allocatable: float
    memory_allocatable: float
    instance_type: str | None
    region: str | None
    zone: str | None
    capacity_type: str | None
    provider_id: str | None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkloadRecord:
    namespace: str
    kind: str
    name: str
    replicas: int | None
    annotations: dict[str, str]
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Collection:
    identity: Identity
    at: int
    batch: SampleBatch
    nodes: list[NodeRecord]
    workloads: list[WorkloadRecord]
    hpas: list[dict[str, Any]]
    pdbs: list[dict[str, Any]]
    statuses: list[dict[str, Any]]  # per series: restarts, last termination, phase, qos
    counters: list[tuple[int, int, float, float, float]]  # series_idx, ts, cpu_ns, rx, tx
    sources: dict[str, int] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    pods: int = 0

    def inventory_json(self) -> dict[str, Any]:
        """Everything but the samples, as JSON-able data (for the spool)."""
        return {
            "identity": self.identity.to_dict(),
            "at": self.at,
            "nodes": [asdict(n) for n in self.nodes],
            "workloads": [asdict(w) for w in self.workloads],
            "hpas": self.hpas,
            "pdbs": self.pdbs,
            "statuses": self.statuses,
            "counters": [list(c) for c in self.counters],
            "pods": self.pods,
            "sources": self.sources,
        }

    @classmethod
    def from_inventory_json(cls, doc: dict[str, Any], batch: SampleBatch) -> Collection:
        return cls(
            identity=Identity(**doc["identity"]),
            at=doc["at"],
            batch=batch,
            nodes=[NodeRecord(**n) for n in doc["nodes"]],
            workloads=[WorkloadRecord(**w) for w in doc["workloads"]],
            hpas=doc["hpas"],
            pdbs=doc["pdbs"],
            statuses=doc["statuses"],
            counters=[tuple(c) for c in doc["counters"]],  # type: ignore[misc]
            sources=doc["sources"],
            pods=doc["pods"],
        )
