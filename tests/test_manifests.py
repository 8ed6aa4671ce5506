"""install/kubernetes: valid manifests, and a ClusterRole that grants what collect uses and nothing else."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml
from conftest import REPO
from kube.server import LISTS

validate = pytest.importorskip("kubernetes_validate")
MANIFESTS = REPO / "install" / "kubernetes"
OVERLAYS = ("standalone", "fleet")
K8S = "1.33.0"


def rendered(overlay: str) -> list[dict]:
    """`kubectl kustomize` of an overlay (Debian's kubernetes-client, or any kubectl): the objects it applies."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        if os.environ.get("UPID_REQUIRE_KUBECTL"):
            pytest.fail("UPID_REQUIRE_KUBECTL is set but kubectl is not installed (apt-get install kubernetes-client)")
        pytest.skip("no kubectl here (.ci/run installs kubernetes-client)")
    out = subprocess.run(
        [kubectl, "kustomize", str(MANIFESTS / "overlays" / overlay)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def _docs() -> list[dict]:
    loose = [d for f in sorted(MANIFESTS.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    base = [d for f in sorted((MANIFESTS / "base").glob("*.yaml")) if f.name != "kustomization.yaml"
            for d in yaml.safe_load_all(f.read_text()) if d]  # fmt: skip
    return loose + base


def _pods(docs: list[dict]) -> list[dict]:
    specs = []
    for d in docs:
        if d["kind"] == "Deployment":
            specs.append(d["spec"]["template"]["spec"])
        elif d["kind"] == "CronJob":
            specs.append(d["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return specs


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_renders_and_validates_strictly(overlay: str) -> None:
    docs = rendered(overlay)
    for doc in docs:
        validate.validate(doc, K8S, strict=True)
    kinds = [d["kind"] for d in docs]
    assert {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "NetworkPolicy"} <= set(kinds)
    namespace = next(d for d in docs if d["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(d["metadata"].get("namespace", "upid") == "upid" for d in docs)
    for pod in _pods(docs):  # Pod Security "restricted", and a root filesystem nobody writes
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 65532
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["serviceAccountName"] == "upid"
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
            assert c["image"].startswith("ghcr.io/upid/upid:") and not c["image"].endswith(":latest")
            assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"])


def test_standalone_is_one_serve_that_owns_its_volume() -> None:
    docs = rendered("standalone")
    assert not [d for d in docs if d["kind"] == "CronJob"]  # nothing else mounts the ReadWriteOnce volume
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
    assert deploy["spec"]["replicas"] == 1 and deploy["spec"]["strategy"]["type"] == "Recreate"
    (c,) = deploy["spec"]["template"]["spec"]["containers"]
    assert c["args"][0] == "serve" and "--auth=kubernetes" in c["args"] and "--collect-every=5m" in c["args"]
    if "--trust-loopback" in c["args"]:  # then no sidecar proxy may share the pod's loopback
        assert deploy["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz" and c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    claims = [v["persistentVolumeClaim"]["claimName"] for v in deploy["spec"]["template"]["spec"]["volumes"]
              if "persistentVolumeClaim" in v]  # fmt: skip
    (pvc,) = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    assert claims == [pvc["metadata"]["name"]] and pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    delegator = next(
        d for d in docs if d["kind"] == "ClusterRoleBinding" and d["roleRef"]["name"] == "system:auth-delegator"
    )
    assert delegator["subjects"] == [{"kind": "ServiceAccount", "name": "upid", "namespace": "upid"}]
    reader = next(d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == "upid-reader")
    from upid.server.auth import GROUP

    assert reader["rules"] == [{"apiGroups": [GROUP], "resources": ["reports", "exports"], "verbs": ["get"]}]


def test_fleet_collects_into_postgresql_with_the_secret() -> None:
    docs = rendered("fleet")
    assert not [d for d in docs if d["kind"] in ("Deployment", "PersistentVolumeClaim")]
    (job,) = [d for d in docs if d["kind"] == "CronJob"]
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    (c,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert env["UPID_STORE"]["valueFrom"]["secretKeyRef"] == {"name": "upid-postgres", "key": "url"}
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "upid-postgres", "key": "password"}
    ports = {p["port"] for d in docs if d["kind"] == "NetworkPolicy" for r in d["spec"]["egress"] for p in r["ports"]}
    assert 5432 in ports


def test_loose_manifests_validate_and_cluster_rbac_prints_the_base(upid) -> None:
    for doc in _docs():
        validate.validate(doc, K8S, strict=True)
    r = upid("cluster", "rbac")
    assert r.code == 0 and r.out == (MANIFESTS / "base" / "rbac.yaml").read_text()


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
