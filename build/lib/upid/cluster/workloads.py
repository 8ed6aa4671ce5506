"""A workload as it is now on the cluster: what `optimize` compares with its plan and records in its audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from upid.cluster.api import Api, NotFound
from upid.errors import ClusterError
from upid.optimize.patches import FIELDS, object_path
from upid.optimize.safety import ORIGINAL_REPLICAS
from upid.units import parse_quantity


@dataclass(frozen=True)
class Live:
    resource_version: str
    replicas: int | None
    annotation: str | None  # upid.io/original-replicas
    containers: dict[str, dict[str, float | None]]  # name -> cpu_request, cpu_limit, memory_request, memory_limit

    def snapshot(self, containers: list[str] | None = None) -> dict[str, Any]:
        """The values the audit trail keeps (and a rollback restores)."""
        names = self.containers if containers is None else containers
        return {
            "replicas": self.replicas,
            "annotations": {ORIGINAL_REPLICAS: self.annotation},
            "containers": {n: self.containers.get(n) for n in names},
        }


def parse_live(obj: dict[str, Any]) -> Live:
    spec = obj.get("spec") or {}
    template = (spec.get("jobTemplate") or {}).get("spec", spec) if obj.get("kind") == "CronJob" else spec
    containers = {}
    for c in ((template.get("template") or {}).get("spec") or {}).get("containers") or []:
        resources = c.get("resources") or {}
        containers[c["name"]] = {
            key: (parse_quantity(v) if (v := (resources.get(section) or {}).get(name)) is not None else None)
            for key, (section, name) in FIELDS.items()
        }
    meta = obj.get("metadata") or {}
    return Live(
        resource_version=str(meta.get("resourceVersion", "")),
        replicas=spec.get("replicas"),
        annotation=(meta.get("annotations") or {}).get(ORIGINAL_REPLICAS),
        containers=containers,
    )


def read(api: Api, namespace: str, kind: str, name: str) -> Live | None:
    """None when the workload no longer exists."""
    try:
        return parse_live(api.get(object_path(namespace, kind, name)))
    except NotFound:
        return None


def cluster_uid(api: Api) -> str:
    """The kube-system namespace UID: the identity upid gives a cluster when it collects it."""
    try:
        return str(api.get("/api/v1/namespaces/kube-system")["metadata"]["uid"])
    except NotFound:
        raise ClusterError("the cluster has no kube-system namespace: cannot tell which cluster it is") from None


def sleeping(api: Api, namespaces: list[str] | None) -> list[tuple[str, str, str, Live]]:
    """(namespace, kind, name, live) of the Deployments and StatefulSets carrying upid.io/original-replicas:
    the ones `wake` brings back. (List items carry no kind: it comes from the list.)"""
    out = []
    for kind, plural in (("Deployment", "deployments"), ("StatefulSet", "statefulsets")):
        paths = (
            [f"/apis/apps/v1/namespaces/{ns}/{plural}" for ns in namespaces]
            if namespaces
            else [f"/apis/apps/v1/{plural}"]
        )
        for path in paths:
            for obj in api.list(path):
                meta = obj.get("metadata") or {}
                if ORIGINAL_REPLICAS in (meta.get("annotations") or {}):
                    out.append((meta["namespace"], kind, meta["name"], parse_live({**obj, "kind": kind})))
    return out
