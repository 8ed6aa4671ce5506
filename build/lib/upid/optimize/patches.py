"""A change as Kubernetes understands it: API paths, strategic merge patches, JSON patches, kubectl commands,
and a kustomization for GitOps. Pure functions of a Change; quantities are exact (millicores, Mi)."""

from __future__ import annotations

from typing import Any

from upid.optimize.plan import Change, ContainerChange
from upid.optimize.safety import ORIGINAL_REPLICAS
from upid.units import cpu_quantity, memory_quantity

API = {
    "Deployment": ("apps/v1", "deployments"),
    "StatefulSet": ("apps/v1", "statefulsets"),
    "DaemonSet": ("apps/v1", "daemonsets"),
    "CronJob": ("batch/v1", "cronjobs"),
}
FIELDS = {  # value key -> (requests|limits, resource name)
    "cpu_request": ("requests", "cpu"),
    "cpu_limit": ("limits", "cpu"),
    "memory_request": ("requests", "memory"),
    "memory_limit": ("limits", "memory"),
}


def object_path(namespace: str, kind: str, name: str, subresource: str = "") -> str:
    version, plural = API[kind]
    base = "/api" if version == "v1" else "/apis"
    return f"{base}/{version}/namespaces/{namespace}/{plural}/{name}" + (f"/{subresource}" if subresource else "")


def quantity(key: str, value: float) -> str:
    return cpu_quantity(value) if key.startswith("cpu") else memory_quantity(value)


def _template_path(kind: str) -> list[str]:
    return ["spec", "jobTemplate", "spec", "template", "spec"] if kind == "CronJob" else ["spec", "template", "spec"]


def _nest(path: list[str], leaf: Any) -> dict[str, Any]:
    doc: Any = leaf
    for part in reversed(path):
        doc = {part: doc}
    return doc


def containers_patch(kind: str, containers: list[dict[str, Any]]) -> dict[str, Any]:
    """`containers` placed where the kind keeps its pod template (a CronJob: under its jobTemplate)."""
    return _nest(_template_path(kind), {"containers": containers})


def resources_patch(c: ContainerChange) -> dict[str, Any]:
    """{"requests": {...}, "limits": {...}} with the keys that change; null removes one."""
    out: dict[str, dict[str, Any]] = {}
    for key in c.changed:
        section, resource = FIELDS[key]
        value = c.after[key]
        out.setdefault(section, {})[resource] = None if value is None else quantity(key, value)
    return out


def strategic_merge(change: Change, resource_version: str | None = None) -> dict[str, Any]:
    """The body of the PATCH that makes the change on the workload itself. For a scale to zero that is
    the annotation keeping the original replicas (the replicas go through the scale subresource)."""
    if change.action == "scale-to-zero":
        doc: dict[str, Any] = {"metadata": {"annotations": {ORIGINAL_REPLICAS: str(change.replicas_before)}}}
    else:
        containers = [{"name": c.name, "resources": resources_patch(c)} for c in change.containers]
        doc = containers_patch(change.kind, containers)
        doc["metadata"] = {}
    if resource_version:
        doc["metadata"]["resourceVersion"] = resource_version
    if not doc["metadata"]:
        del doc["metadata"]
    return doc


def scale(replicas: int, resource_version: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"spec": {"replicas": replicas}}
    if resource_version:
        doc["metadata"] = {"resourceVersion": resource_version}
    return doc


def gitops_patch(change: Change) -> dict[str, Any]:
    """A self-contained strategic merge patch file for kustomize: the object's identity plus the change
    (for a scale to zero, `spec.replicas: 0` in the manifest, as a GitOps repository records it)."""
    version, _ = API[change.kind]
    body = strategic_merge(change)
    if change.action == "scale-to-zero":
        body["spec"] = {"replicas": 0}
    meta = {"name": change.name, "namespace": change.namespace, **body.pop("metadata", {})}
    return {"apiVersion": version, "kind": change.kind, "metadata": meta, **body}


def json_patch(change: Change, order: list[str]) -> list[dict[str, Any]]:
    """RFC 6902 operations (`kubectl patch --type=json`). Containers are addressed by index, from `order`
    (the pod template's container order as collected); a `test` of each name guards against a wrong one."""
    if change.action == "scale-to-zero":
        return [
            {
                "op": "add",
                "path": "/metadata/annotations/" + ORIGINAL_REPLICAS.replace("/", "~1"),
                "value": str(change.replicas_before),
            },
            {"op": "replace", "path": "/spec/replicas", "value": 0},
        ]
    ops: list[dict[str, Any]] = []
    base = "/" + "/".join(_template_path(change.kind)) + "/containers"
    for c in change.containers:
        i = order.index(c.name) if c.name in order else len(ops)
        ops.append({"op": "test", "path": f"{base}/{i}/name", "value": c.name})
        for section, values in resources_patch(c).items():
            had = any(c.before.get(k) is not None for k, (s, _) in FIELDS.items() if s == section)
            if not had:
                ops.append({"op": "add", "path": f"{base}/{i}/resources/{section}", "value": values})
                continue
            for resource, value in values.items():
                path = f"{base}/{i}/resources/{section}/{resource}"
                ops.append(
                    {"op": "remove", "path": path} if value is None else {"op": "add", "path": path, "value": value}
                )
    return ops


def kubectl(change: Change, context: str | None = None) -> list[str]:
    """The equivalent kubectl commands."""
    target = f"{change.kind.lower()}/{change.name}"
    prefix = "kubectl" + (f" --context {context}" if context else "") + f" -n {change.namespace}"
    if change.action == "scale-to-zero":
        return [
            f"{prefix} annotate {target} {ORIGINAL_REPLICAS}={change.replicas_before} --overwrite",
            f"{prefix} scale {target} --replicas=0",
        ]
    out = []
    for c in change.containers:
        parts = resources_patch(c)
        flags = []
        for section in ("requests", "limits"):
            values = {k: v for k, v in parts.get(section, {}).items() if v is not None}
            if values:
                flags.append(f"--{section}=" + ",".join(f"{k}={v}" for k, v in sorted(values.items())))
        if flags:
            out.append(f"{prefix} set resources {target} -c {c.name} " + " ".join(flags))
    return out


def kustomization(files: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "patches": [{"path": f} for f in files],
    }
