"""install/kubernetes: valid manifests, and a ClusterRole that grants what collect uses and nothing else."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import REPO
from kube.server import LISTS

validate = pytest.importorskip("kubernetes_validate")
MANIFESTS = REPO / "install" / "kubernetes"


def _docs() -> list[dict]:
    return [d for f in sorted(MANIFESTS.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


def test_manifests_validate() -> None:
    docs = _docs()
    assert {d["kind"] for d in docs} >= {
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "CronJob",
        "PersistentVolumeClaim",
    }
    for doc in docs:
        validate.validate(doc, "1.33.0", strict=True)


def role_grants(name: str = "upid-collector") -> set[tuple[str, str, str]]:
    role = next(d for d in _docs() if d["kind"] == "ClusterRole" and d["metadata"]["name"] == name)
    return {
        (g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]
    }


def _used(requests: list[str]) -> set[tuple[str, str, str]]:
    used = set()
    for req in requests:
        path = req.split("?")[0]
        if path == "/version":
            continue
        if re.fullmatch(r"/api/v1/nodes/[^/]+/proxy/stats/summary", path):
            used.add(("", "nodes/proxy", "get"))
        elif re.fullmatch(r"/api/v1/namespaces/[^/]+", path):
            used.add(("", "namespaces", "get"))
        else:
            path = re.sub(r"/namespaces/[^/]+/", "/", path)
            group, resource = LISTS[path]
            used.add((group, resource, "list"))
    return used


def test_the_role_grants_what_collect_uses_read_only(upid, kube) -> None:
    kube.behaviour.hpa_for.add(kube.cluster.workloads[0].name)
    assert upid("storage", "collect", "--kubeconfig", kube.kubeconfig).code == 0
    kube.behaviour.denied.add("nodes/proxy")  # the metrics-server path too
    assert upid("storage", "collect", "--kubeconfig", kube.kubeconfig).code == 0
    granted, used = role_grants(), _used(kube.server.requests)
    assert used <= granted, used - granted
    assert {v for _, _, v in granted} == {"get", "list"}
    unused = {(g, r) for g, r, _ in granted} - {(g, r) for g, r, _ in used}
    assert not unused, unused
