"""Kubernetes objects (parsed JSON) -> upid's records. Pure functions: no I/O, no client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from upid.inventory import NodeRecord, WorkloadRecord
from upid.units import parse_quantity

Obj = dict[str, Any]

CAPACITY_TYPE_LABELS = {  # label -> {value: capacity type}
    "eks.amazonaws.com/capacityType": {"SPOT": "spot", "ON_DEMAND": "on-demand"},
    "karpenter.sh/capacity-type": {"spot": "spot", "on-demand": "on-demand"},
    "cloud.google.com/gke-spot": {"true": "spot"},
    "cloud.google.com/gke-preemptible": {"true": "spot"},
    "kubernetes.azure.com/scalesetpriority": {"spot": "spot", "regular": "on-demand"},
}


@dataclass(frozen=True)
class ContainerRecord:
    name: str
    cpu_request: float | None
    cpu_limit: float | None
    memory_request: float | None
    memory_limit: float | None
    restarts: int
    last_termination_reason: str | None
    last_termination_at: str | None


@dataclass(frozen=True)
class PodRecord:
    namespace: str
    name: str
    node: str | None
    phase: str | None
    qos: str | None
    owner_kind: str  # the top-level workload: Deployment, StatefulSet, DaemonSet, CronJob, Job, ..., or Pod
    owner_name: str
    containers: list[ContainerRecord]


def _quantity(resources: Obj, kind: str, name: str) -> float | None:
    value = (resources.get(kind) or {}).get(name)
    return parse_quantity(value) if value is not None else None


def parse_node(obj: Obj) -> NodeRecord:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    labels = meta.get("labels") or {}
    capacity, allocatable = status.get("capacity") or {}, status.get("allocatable") or {}
    capacity_type = None
    for label, values in CAPACITY_TYPE_LABELS.items():
        if labels.get(label) in values:
            capacity_type = values[labels[label]]
            break
    return NodeRecord(
        name=meta["name"],
        cpu_capacity=parse_quantity(capacity.get("cpu", 0)),
        memory_capacity=parse_quantity(capacity.get("memory", 0)),
        cpu_allocatable=parse_quantity(allocatable.get("cpu", capacity.get("cpu", 0))),
        memory_allocatable=parse_quantity(allocatable.get("memory", capacity.get("memory", 0))),
        instance_type=labels.get("node.kubernetes.io/instance-type") or labels.get("beta.kubernetes.io/instance-type"),
        region=labels.get("topology.kubernetes.io/region") or labels.get("failure-domain.beta.kubernetes.io/region"),
        zone=labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone"),
        capacity_type=capacity_type or ("on-demand" if labels.get("node.kubernetes.io/instance-type") else None),
        provider_id=(obj.get("spec") or {}).get("providerID"),
        labels=labels,
    )


def owner_entry(obj: Obj) -> tuple[tuple[str, str], tuple[str, str] | None]:
    """A ReplicaSet or Job -> ((namespace, name), (kind, name) of its controller or None)."""
    meta = obj.get("metadata") or {}
    ref = _controller(meta)
    return (meta.get("namespace", ""), meta["name"]), ((ref["kind"], ref["name"]) if ref else None)


def _controller(meta: Obj) -> Obj | None:
    refs = meta.get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), refs[0] if refs else None)


def resolve_owner(meta: Obj, owners: dict[tuple[str, str], tuple[str, str]]) -> tuple[str, str]:
    """Pod -> ReplicaSet -> Deployment, Job -> CronJob, StatefulSet, DaemonSet; a bare pod owns itself."""
    ref = _controller(meta)
    if not ref:
        return "Pod", meta["name"]
    kind, name = ref["kind"], ref["name"]
    namespace = meta.get("namespace", "")
    for _ in range(3):  # ReplicaSet -> Deployment, Job -> CronJob (and a custom controller above them)
        parent = owners.get((namespace, name)) if kind in ("ReplicaSet", "Job") else None
        if not parent:
            break
        kind, name = parent
    return kind, name


def parse_pod(obj: Obj, owners: dict[tuple[str, str], tuple[str, str]]) -> PodRecord:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    statuses = {s.get("name"): s for s in status.get("containerStatuses") or []}
    containers = []
    for c in spec.get("containers") or []:
        resources = c.get("resources") or {}
        st = statuses.get(c["name"]) or {}
        terminated = ((st.get("lastState") or {}).get("terminated")) or {}
        containers.append(
            ContainerRecord(
                name=c["name"],
                cpu_request=_quantity(resources, "requests", "cpu"),
                cpu_limit=_quantity(resources, "limits", "cpu"),
                memory_request=_quantity(resources, "requests", "memory"),
                memory_limit=_quantity(resources, "limits", "memory"),
                restarts=int(st.get("restartCount") or 0),
                last_termination_reason=terminated.get("reason"),
                last_termination_at=terminated.get("finishedAt"),
            )
        )
    kind, name = resolve_owner(meta, owners)
    return PodRecord(
        namespace=meta.get("namespace", ""),
        name=meta["name"],
        node=spec.get("nodeName"),
        phase=status.get("phase"),
        qos=status.get("qosClass"),
        owner_kind=kind,
        owner_name=name,
        containers=containers,
    )


def parse_workload(obj: Obj, kind: str) -> WorkloadRecord:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    replicas = spec.get("replicas")
    if kind == "DaemonSet":
        replicas = (obj.get("status") or {}).get("desiredNumberScheduled")
    return WorkloadRecord(
        namespace=meta.get("namespace", ""),
        kind=kind,
        name=meta["name"],
        replicas=int(replicas) if replicas is not None else None,
        annotations=meta.get("annotations") or {},
        labels=meta.get("labels") or {},
    )


def parse_hpa(obj: Obj) -> dict[str, Any]:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    target = spec.get("scaleTargetRef") or {}
    names = {(m.get("resource") or {}).get("name") for m in spec.get("metrics") or [] if m.get("type") == "Resource"}
    resources = sorted(str(n) for n in names if n)
    return {
        "namespace": meta.get("namespace", ""),
        "name": meta["name"],
        "target_kind": target.get("kind"),
        "target_name": target.get("name"),
        "min_replicas": spec.get("minReplicas", 1),
        "max_replicas": spec.get("maxReplicas"),
        "resources": resources,
        "current_replicas": (obj.get("status") or {}).get("currentReplicas"),
    }


def parse_pdb(obj: Obj) -> dict[str, Any]:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    return {
        "namespace": meta.get("namespace", ""),
        "name": meta["name"],
        "min_available": _int_or_str(spec.get("minAvailable")),
        "max_unavailable": _int_or_str(spec.get("maxUnavailable")),
        "selector": (spec.get("selector") or {}).get("matchLabels") or {},
        "disruptions_allowed": (obj.get("status") or {}).get("disruptionsAllowed"),
    }


def _int_or_str(value: Any) -> str | None:
    return None if value is None else str(value)
