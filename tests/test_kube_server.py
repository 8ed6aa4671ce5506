"""The test API server cannot drift from the real API: its objects validate against the Kubernetes
schemas, and its metrics and kubelet documents have the shapes of real captures."""

from __future__ import annotations

import json

import pytest
from conftest import REPO
from kube import objects as o
from kube.model import Cluster

validate = pytest.importorskip("kubernetes_validate")
FIXTURES = REPO / "tests" / "fixtures"
VERSION = "1.33.0"


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    c = Cluster(pods=40, nodes=4)
    c.advance(600)
    return c


def _all_objects(c: Cluster) -> list[dict]:
    out = [o.namespace(c, n) for n in c.namespaces] + [o.node(c, n) for n in c.node_names]
    out += [o.workload(c, w) for w in c.workloads] + [o.pod(c, p) for p in c.pods]
    out += [x for group in o.intermediates(c).values() for x in group]
    out += [o.hpa(c, c.workloads[0]), o.pdb(c, c.workloads[0])]
    return out


def test_every_object_validates_against_the_kubernetes_schema(cluster: Cluster) -> None:
    objects = _all_objects(cluster)
    assert {x["kind"] for x in objects} >= {
        "Namespace",
        "Node",
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "CronJob",
        "ReplicaSet",
        "Job",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    for obj in objects:
        try:
            validate.validate(obj, VERSION, strict=True)
        except validate.ValidationError as e:  # pragma: no cover - the message is the point
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {e.message}")


def _shape(value: object) -> object:
    """The structure of a JSON value: key sets of objects, the shape of a list's first item."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def _keys_within(ours: object, real: object, path: str = "") -> list[str]:
    """Keys our documents use that the real ones do not have, or whose types differ."""
    if isinstance(ours, dict) and isinstance(real, dict):
        out = []
        for k, v in ours.items():
            if k not in real:
                out.append(f"{path}.{k} not in the real document")
            else:
                out += _keys_within(v, real[k], f"{path}.{k}")
        return out
    if isinstance(ours, list) and isinstance(real, list) and ours and real:
        return _keys_within(ours[0], real[0], path + "[]")
    if type(ours) is not type(real) and {type(ours), type(real)} - {int, float}:
        return [f"{path}: {ours} vs {real}"]
    return []


def test_pod_metrics_have_the_shape_of_metrics_server(cluster: Cluster) -> None:
    real = json.loads((FIXTURES / "gke-pod-metrics.json").read_text())["items"][1]
    ours = o.pod_metrics(cluster, cluster.pods[1])
    real["metadata"].pop("selfLink")
    real["metadata"]["labels"] = ours["metadata"]["labels"]  # newer metrics-servers copy the pod labels
    assert _keys_within(_shape(ours), _shape(real)) == []
    assert ours["containers"][0]["usage"]["cpu"].endswith("n") and ours["containers"][0]["usage"]["memory"].endswith(
        "Ki"
    )


def test_kubelet_summary_has_the_shape_of_the_kubelet(cluster: Cluster) -> None:
    real = json.loads((FIXTURES / "kubelet-stats-summary.json").read_text())
    ours = o.summary(cluster, cluster.node_names[0])
    real_pod = next(p for p in real["pods"] if p.get("network"))
    assert _keys_within(_shape(ours["pods"][0]), _shape(real_pod)) == []
    assert set(ours["node"]) <= set(real["node"])


def test_pods_carry_what_the_real_kubelet_pod_list_carries(cluster: Cluster) -> None:
    real = json.loads((FIXTURES / "kubelet-pods-requests-limits.json").read_text())["items"][0]
    ours = o.pod(cluster, cluster.pods[0])
    for section in ("metadata", "spec", "status"):
        missing = {
            "name",
            "namespace",
            "uid",
            "ownerReferences",
            "containers",
            "nodeName",
            "phase",
            "containerStatuses",
            "qosClass",
        } & set(real[section]) - set(ours[section])
        assert not missing, (section, missing)
    assert set(ours["status"]["containerStatuses"][0]) >= set(real["status"]["containerStatuses"][0]) - {"started"}
