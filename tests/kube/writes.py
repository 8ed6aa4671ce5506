"""The write side of the test API server: PATCH of workloads and of their scale subresource, as the real
API server does it. Three patch types (strategic merge, JSON merge, JSON patch), `?dryRun=All`,
optimistic concurrency (a stale `metadata.resourceVersion` in the patch is a 409), and the result
written back into the model, so that the next GET, list or collect sees it."""

from __future__ import annotations

import copy
from typing import Any

from kube import objects as o
from kube.model import Cluster, Workload

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "ports": "containerPort"}


PLURALS = {
    "Deployment": "deployments.apps",
    "StatefulSet": "statefulsets.apps",
    "DaemonSet": "daemonsets.apps",
    "CronJob": "cronjobs.batch",
}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    return spec["template"]["spec"]


class PatchError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def strategic_merge(target: Any, patch: Any) -> Any:
    """Maps merge key by key (null deletes); lists of containers merge by name; other lists are replaced."""
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif key in MERGE_KEYS and isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = _merge_list(out[key], value, MERGE_KEYS[key])
        else:
            out[key] = strategic_merge(out.get(key), value)
    return out


def _merge_list(items: list[Any], patch: list[Any], key: str) -> list[Any]:
    out = copy.deepcopy(items)
    for p in patch:
        i = next((n for n, item in enumerate(out) if item.get(key) == p.get(key)), None)
        if i is None:
            out.append(copy.deepcopy(p))
        else:
            out[i] = strategic_merge(out[i], p)
    return out


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: as a strategic merge without list merging."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def json_patch(target: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902: add, replace, remove and test (a failed test is a 422, as in the API server)."""
    doc = copy.deepcopy(target)
    for op in ops:
        *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        node = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.get(part)
            if node is None:
                raise PatchError(
                    422, "Invalid", f"jsonpatch {op['op']} operation does not apply: doc is missing path: {op['path']}"
                )
        kind = op["op"]
        if kind == "test":
            actual = node[int(last)] if isinstance(node, list) else node.get(last)
            if actual != op["value"]:
                raise PatchError(422, "Invalid", f"testing value {op['path']} failed: test operation failed")
        elif kind in ("add", "replace"):
            if kind == "replace" and isinstance(node, dict) and last not in node:
                raise PatchError(
                    422, "Invalid", f"jsonpatch replace operation does not apply: doc is missing key: {op['path']}"
                )
            if isinstance(node, list):
                node[int(last)] = op["value"]
            else:
                node[last] = op["value"]
        elif kind == "remove":
            if isinstance(node, list):
                del node[int(last)]
            else:
                node.pop(last, None)
    return doc


def _apply(current: dict[str, Any], content_type: str, body: Any) -> dict[str, Any]:
    if content_type == STRATEGIC:
        return strategic_merge(current, body)
    if content_type == MERGE:
        return merge_patch(current, body)
    if content_type == JSON_PATCH:
        return json_patch(current, body)
    raise PatchError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        f"{JSON_PATCH}, {MERGE}, {STRATEGIC}",
    )


def patch(
    c: Cluster, w: Workload, content_type: str, body: Any, dry_run: bool, subresource: str = ""
) -> dict[str, Any]:
    """Patch a workload (or its scale); the new object, written back to the model unless a dry run."""
    current = o.scale(c, w) if subresource == "scale" else o.workload(c, w)
    wanted = _rv(body, content_type)
    if wanted is not None and wanted != current["metadata"]["resourceVersion"]:
        raise PatchError(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {PLURALS[w.kind]} "{w.name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
        )
    new = _apply(current, content_type, body)
    _check(new, subresource)
    if dry_run:
        return new
    if subresource == "scale":
        w.replicas = int(new["spec"]["replicas"])
    else:
        if "replicas" in new["spec"]:
            w.replicas = int(new["spec"]["replicas"])
        w.annotations = dict(new["metadata"].get("annotations") or {})
        for container in pod_spec(new)["containers"]:
            w.resources[container["name"]] = container.get("resources") or {}
    c.written(w)
    return o.scale(c, w) if subresource == "scale" else o.workload(c, w)


def _rv(body: Any, content_type: str) -> str | None:
    if content_type == JSON_PATCH:
        return next(
            (str(op["value"]) for op in body if op["op"] == "test" and op["path"] == "/metadata/resourceVersion"), None
        )
    return (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None


def _check(obj: dict[str, Any], subresource: str) -> None:
    """What validation would refuse: negative replicas, a request above its limit."""
    from upid.units import parse_quantity

    if int(obj["spec"].get("replicas", 0)) < 0:
        raise PatchError(422, "Invalid", "spec.replicas: Invalid value: must be greater than or equal to 0")
    if subresource == "scale":
        return
    for i, container in enumerate(pod_spec(obj)["containers"]):
        resources = container.get("resources") or {}
        for name, request in (resources.get("requests") or {}).items():
            limit = (resources.get("limits") or {}).get(name)
            if limit is not None and parse_quantity(request) > parse_quantity(limit):
                raise PatchError(
                    422,
                    "Invalid",
                    f'spec.template.spec.containers[{i}].resources.requests: Invalid value: "{request}": '
                    f"must be less than or equal to {name} limit of {limit}",
                )
