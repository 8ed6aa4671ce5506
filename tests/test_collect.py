"""`upid storage collect` against the test API server: the real kubernetes client, HTTP and JSON."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from kube.model import STEP
from kube.server import Fault, write_kubeconfig

from upid.errors import ExitCode


def collect(upid, kube, *args: object):
    return upid("storage", "collect", "--kubeconfig", kube.kubeconfig, *args)


def query(upid, sql: str) -> list[list]:
    r = upid("storage", "query", sql, "-o", "json")
    assert r.code == 0, r.err
    return r.json()["rows"]


def test_a_collect_records_pods_workloads_nodes_and_usage(upid, kube) -> None:
    r = collect(upid, kube)
    assert r.code == 0, r.err
    assert r.out == ""  # silent for cron unless asked
    c = kube.cluster
    containers = sum(len(p.workload.containers) for p in c.pods)
    assert query(upid, "SELECT count(*), count(DISTINCT pod) FROM usage") == [[containers, len(c.pods)]]
    assert query(upid, "SELECT DISTINCT source FROM usage") == [["kubelet-summary"]]
    kinds = {tuple(row) for row in query(upid, "SELECT DISTINCT workload_kind, workload FROM usage")}
    for p in c.pods:
        expected = (p.workload.kind, p.workload.name) if p.owner_kind else ("Pod", p.name)
        assert expected in kinds, expected
    nodes = query(upid, "SELECT name, instance_type, region, capacity_type FROM nodes ORDER BY name")
    assert [n[0] for n in nodes] == sorted(c.node_names)
    assert {n[3] for n in nodes} == {"spot", "on-demand"} and {n[2] for n in nodes} == {"us-central1"}
    oom = query(
        upid,
        "SELECT s.pod, c.restarts, c.last_termination_reason FROM container_status c "
        "JOIN series s USING (series_id) WHERE c.last_termination_reason IS NOT NULL",
    )
    assert oom == [[c.pods[0].name, 2, "OOMKilled"]]
    identity = query(upid, "SELECT uid, context, distribution, provider, version FROM cluster_identity")
    assert identity[0][1:] == ["test", "gke", "gcp", "v1.33.5-gke.1000"] and len(identity[0][0]) == 36
    requests = query(upid, "SELECT count(*) FROM resources WHERE cpu_request_m IS NOT NULL")
    assert requests == [[containers]]


def test_kubelet_counters_give_exact_averages_between_collections(upid, kube) -> None:
    c = kube.cluster
    assert collect(upid, kube).code == 0
    before = c.step
    c.advance(3 * STEP)
    assert collect(upid, kube).code == 0
    pod = c.pods[3]
    expected = np.mean([c.usage(pod, "app", step=s)[0] for s in range(before, c.step)])
    rows = query(upid, f"SELECT cpu_cores FROM usage WHERE pod = '{pod.name}' AND container = 'app' ORDER BY timestamp")
    assert len(rows) == 2
    assert rows[1][0] == pytest.approx(expected, abs=0.0011)  # stored at 1 millicore
    assert rows[0][0] == pytest.approx(c.usage(pod, "app", step=before)[0], abs=0.0011)  # first: the kubelet's rate
    rx = query(
        upid,
        f"SELECT network_rx_bytes_per_s FROM usage WHERE pod = '{pod.name}' AND container = 'app' ORDER BY timestamp",
    )
    assert rx[0][0] is None and rx[1][0] == pytest.approx(2048.0 * (pod.vm % 5), abs=1)


def test_metrics_server_when_nodes_proxy_is_forbidden_and_no_duplicates(upid, kube) -> None:
    kube.behaviour.denied.add("nodes/proxy")
    r = collect(upid, kube)
    assert r.code == 0, r.err
    assert "not allowed to get nodes/proxy" in r.err
    assert query(upid, "SELECT DISTINCT source FROM usage") == [["metrics-server"]]
    pod = kube.cluster.pods[5]
    cores, mem = kube.cluster.usage(pod, "app")
    row = query(upid, f"SELECT cpu_cores, memory_bytes FROM usage WHERE pod = '{pod.name}' AND container = 'app'")
    assert row[0][0] == pytest.approx(cores, abs=0.0011) and row[0][1] == pytest.approx(mem, abs=1024)
    count = query(upid, "SELECT count(*) FROM usage")
    r = collect(upid, kube, "-o", "json")  # metrics-server has not refreshed: nothing new to store
    assert r.json()["collections"][0]["written"] == 0
    assert query(upid, "SELECT count(*) FROM usage") == count


def test_many_collects_then_analyze_show_the_evolving_usage(upid, kube) -> None:
    c = kube.cluster
    for _ in range(6):
        assert collect(upid, kube).code == 0
        c.advance(2 * STEP)
    doc = upid("analyze", "-o", "json").json()
    pod = c.pods[10]
    rec = next(x for x in doc["recommendations"] if x["workload"] == pod.workload.name and x["container"] == "app")
    assert rec["usage"]["samples"] == 6 * sum(1 for p in c.pods if p.workload is pod.workload)
    assert rec["usage"]["cpu_max"] > rec["usage"]["cpu_p50"] >= 0
    assert rec["current"]["cpu_request"] is not None


def test_namespace_and_selector_filters(upid, kube) -> None:
    assert collect(upid, kube, "-n", "team-1", "-l", "tier=web").code == 0
    rows = query(upid, "SELECT DISTINCT namespace, workload FROM usage")
    expected = {
        (p.namespace, p.workload.name if p.owner_kind else p.name)
        for p in kube.cluster.pods
        if p.namespace == "team-1" and p.workload.labels["tier"] == "web"
    }
    assert {tuple(r) for r in rows} == expected and expected
    assert any("/api/v1/namespaces/team-1/pods" in r and "labelSelector=tier=web" in r for r in kube.server.requests)


def test_pagination_and_an_expired_continue_token(upid, tmp_path) -> None:
    from kube.model import Cluster
    from kube.server import KubeServer

    with KubeServer(Cluster(pods=1100, nodes=3)) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kc", {"big": server.url})
        server.behaviour.faults.append(Fault(path="^/api/v1/pods$", query="continue=", status=410))
        r = upid("storage", "collect", "--kubeconfig", kubeconfig)
        assert r.code == 0, r.err
        pod_requests = [q for q in server.requests if q.startswith("/api/v1/pods")]
        assert sum("continue=" in q for q in pod_requests) == 3  # 410 on page 2, then a full relist of 3 pages
        assert all("limit=500" in q for q in pod_requests)
    assert query(upid, "SELECT count(DISTINCT pod) FROM usage") == [[1100]]


def test_429_with_retry_after_and_a_503_are_retried(upid, kube) -> None:
    kube.behaviour.faults += [
        Fault(path="^/api/v1/pods$", status=429, retry_after=1),
        Fault(path="^/api/v1/nodes$", status=503),
    ]
    r = collect(upid, kube)
    assert r.code == 0, r.err
    assert sum(q.startswith("/api/v1/pods") for q in kube.server.requests) == 2


def test_a_hanging_api_times_out_with_kubectls_words(upid, kube) -> None:
    kube.behaviour.faults.append(Fault(path="^/api/v1/nodes$", delay=1.5, times=10))
    r = collect(upid, kube, "--request-timeout", "1s")
    assert r.code == ExitCode.CLUSTER_UNREACHABLE
    assert r.err.startswith("error: Unable to connect to the server: 127.0.0.1:") and "timed out after 1s" in r.err
    assert not Path(os.environ["UPID_HOME"], "upid.duckdb").exists() or query(upid, "SELECT count(*) FROM usage") == [
        [0]
    ]


def test_unreachable_server(upid, tmp_path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "kc", {"gone": f"http://127.0.0.1:{port}"})
    r = upid("storage", "collect", "--kubeconfig", kubeconfig)
    assert r.code == ExitCode.CLUSTER_UNREACHABLE
    assert r.err.strip() == (
        f"error: The connection to the server 127.0.0.1:{port} was refused - did you specify the right host or port?"
    )


@pytest.mark.parametrize(
    "content, message",
    [
        ("not: [valid", "Error in configuration"),
        ("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n", "Error in configuration"),
    ],
)
def test_broken_kubeconfig(upid, tmp_path, content: str, message: str) -> None:
    path = tmp_path / "kc"
    path.write_text(content)
    r = upid("storage", "collect", "--kubeconfig", path)
    assert r.code == ExitCode.KUBECONFIG and message in r.err and len(r.err.strip().splitlines()) == 1


def test_missing_kubeconfig_and_unknown_context(upid, kube, tmp_path) -> None:
    r = upid("storage", "collect", "--kubeconfig", tmp_path / "nope")
    assert r.code == ExitCode.KUBECONFIG and "does not exist" in r.err
    r = collect(upid, kube, "--context", "prod")
    assert r.code == ExitCode.KUBECONFIG and 'context "prod" does not exist' in r.err


def test_unauthorized(upid, kube, tmp_path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kc", {"test": kube.server.url}, token="wrong")
    r = upid("storage", "collect", "--kubeconfig", kubeconfig)
    assert r.code == ExitCode.UNAUTHORIZED
    assert r.err.strip() == "error: You must be logged in to the server (Unauthorized)"


def test_forbidden_names_the_verb_and_resource(upid, kube) -> None:
    kube.behaviour.denied.add("pods")
    r = collect(upid, kube)
    assert r.code == ExitCode.FORBIDDEN
    assert (
        'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:upid:upid" cannot list '
        'resource "pods" in API group ""' in r.err
    )


def test_no_usage_source_at_all(upid, kube) -> None:
    kube.behaviour.denied.add("nodes/proxy")
    kube.behaviour.metrics_installed = False
    r = collect(upid, kube)
    assert r.code == ExitCode.METRICS_UNAVAILABLE
    assert "metrics.k8s.io API is not installed" in r.err


def test_metrics_api_absent_but_kubelet_allowed(upid, kube) -> None:
    kube.behaviour.metrics_installed = False
    assert collect(upid, kube).code == 0
    assert query(upid, "SELECT DISTINCT source FROM usage") == [["kubelet-summary"]]


def test_forbidden_metrics_falls_back_to_the_kubelet(upid, kube) -> None:
    kube.behaviour.denied.add("metrics.k8s.io/pods")
    assert collect(upid, kube).code == 0


def test_hpas_and_pdbs_are_recorded(upid, kube) -> None:
    w = kube.cluster.workloads[1]
    kube.behaviour.hpa_for.add(w.name)
    kube.behaviour.pdb_for.add(w.name)
    assert collect(upid, kube).code == 0
    assert query(upid, "SELECT name, target_kind, resources, min_replicas FROM hpas") == [[w.name, w.kind, ["cpu"], 1]]
    assert query(upid, "SELECT name, min_available FROM pdbs") == [[w.name, "1"]]
    replicas = query(upid, f"SELECT replicas FROM workloads WHERE name = '{w.name}'")
    assert replicas == [[w.replicas]]


def test_all_contexts_and_identity_survives_a_context_rename(upid, kube, tmp_path) -> None:
    from kube.model import Cluster
    from kube.server import KubeServer

    with KubeServer(Cluster(pods=10, nodes=2, name="other")) as other:
        both = write_kubeconfig(tmp_path / "both", {"test": kube.server.url, "other": other.url})
        r = upid("storage", "collect", "--kubeconfig", both, "--all-contexts", "-o", "json")
        assert r.code == 0, r.err
        assert {c["cluster"] for c in r.json()["collections"]} == {"test", "other"}
    renamed = write_kubeconfig(tmp_path / "renamed", {"prod": kube.server.url})
    kube.cluster.advance(STEP)
    r = upid("storage", "collect", "--kubeconfig", renamed, "-o", "json")
    assert r.json()["collections"][0]["cluster"] == "test"  # same kube-system UID: same cluster, same history
    assert query(upid, "SELECT context FROM cluster_identity JOIN clusters USING (cluster_id) WHERE name = 'test'") == [
        ["prod"]
    ]


def test_overlapping_collects_never_both_write(upid, kube, home: Path) -> None:
    home.mkdir(mode=0o700, exist_ok=True)
    with open(home / "collect-test.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        r = collect(upid, kube)
    assert r.code == 0 and "another collect of test is running; skipped" in r.err
    assert not kube.server.requests or all(q in ("/version",) for q in kube.server.requests)


def test_collect_imports_no_scikit_learn_scipy_or_pyarrow(kube, home: Path) -> None:
    from conftest import process_env

    code = (
        "import sys\nfrom upid.cli.app import main\n"
        f"rc = main(['storage', 'collect', '--kubeconfig', {str(kube.kubeconfig)!r}])\n"
        "print(rc, sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy', 'pyarrow'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=process_env(home))
    assert out.stdout.strip() == "0 []", out.stderr


def test_cluster_info(upid, kube) -> None:
    r = upid("cluster", "info", "--kubeconfig", kube.kubeconfig, "-o", "json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["distribution"] == "gke" and doc["provider"] == "gcp" and doc["nodes"] == len(kube.cluster.node_names)
    assert doc["context"] == "test" and doc["server"] == kube.server.url


def test_a_collect_while_the_store_is_busy_is_spooled_whole_and_merged(upid, kube, home, monkeypatch) -> None:
    from test_store import lock_held_by_another_process

    assert collect(upid, kube).code == 0  # creates the store
    kube.cluster.advance(STEP)
    monkeypatch.setenv("UPID_LOCK_TIMEOUT", "0.6")
    with lock_held_by_another_process(home / "upid.duckdb"):
        r = collect(upid, kube)
    assert r.code == 0, r.err
    assert "the snapshot of test was spooled" in r.err
    pods = len(kube.cluster.pods)
    assert query(upid, f"SELECT count(DISTINCT timestamp) FROM usage WHERE pod = '{kube.cluster.pods[2].name}'") == [
        [2]
    ]  # the reader merged the spooled snapshot
    assert query(upid, "SELECT count(*) FROM kubelet_counters") == [
        [sum(len(p.workload.containers) for p in kube.cluster.pods)]
    ]
    assert query(upid, "SELECT count(*) FROM nodes") == [[len(kube.cluster.node_names)]]
    log = upid("storage", "audit-log", "-o", "json").json()["entries"]
    assert log[0]["details"]["spooled"] is True and log[0]["details"]["pods"] == pods


def test_analyze_by_context(upid, kube) -> None:
    for _ in range(2):
        assert collect(upid, kube).code == 0
        kube.cluster.advance(STEP)
    doc = upid("analyze", "--context", "test", "-o", "json")
    assert doc.code == 0, doc.err
    assert doc.json()["cluster"] == "test"
    r = upid("analyze", "--context", "prod")
    assert r.code == ExitCode.NO_DATA and "no cluster collected through context 'prod'" in r.err
    assert upid("analyze", "--context", "test", "--cluster", "test").code == ExitCode.USAGE


def test_collected_context_reaches_the_strategies(upid, tmp_path) -> None:
    from kube.model import Cluster
    from kube.server import KubeServer

    c = Cluster(pods=6, nodes=2)
    hpa_target = next(w for w in c.workloads if w.kind == "Deployment" and w.name != c.pods[0].workload.name)
    with KubeServer(c) as server:
        server.behaviour.hpa_for.add(hpa_target.name)
        kubeconfig = write_kubeconfig(tmp_path / "kc", {"small": server.url})
        for _ in range(101):  # the strategies answer from 100 samples on
            assert upid("storage", "collect", "--kubeconfig", kubeconfig).code == 0
            c.advance(STEP)
    recs = upid("analyze", "-o", "json").json()["recommendations"]
    scaled = [r for r in recs if r["workload"] == hpa_target.name]
    assert scaled and all(r["recommended"]["cpu_request"] is None and "HPA" in r["reason"] for r in scaled)
    assert all(r["recommended"]["memory_limit"] is not None for r in scaled)
    oom = next(r for r in recs if r["workload"] == c.pods[0].workload.name and r["container"] == "app")
    assert oom["recommended"]["memory_limit"] >= 1.25 * oom["current"]["memory_limit"]


def test_analyze_by_workload_labels(upid, kube) -> None:
    for _ in range(2):
        assert collect(upid, kube).code == 0
        kube.cluster.advance(STEP)
    doc = upid("analyze", "-l", "tier=web,app!=app-1", "-o", "json")
    assert doc.code == 0, doc.err
    expected = {w.name for w in kube.cluster.workloads if w.labels["tier"] == "web" and w.name != "app-1"}
    assert {r["workload"] for r in doc.json()["recommendations"]} == expected
    none = upid("analyze", "-l", "tier=nothing")
    assert none.code == ExitCode.NO_DATA and "with labels tier=nothing" in none.err
    bad = upid("analyze", "-l", "tier in (web)")
    assert bad.code == ExitCode.USAGE and "invalid label selector" in bad.err


def test_idle_on_collected_data_honours_exclusions(upid, kube) -> None:
    c = kube.cluster
    annotated = next(w for w in c.workloads if w.namespace != "kube-system" and w.kind == "Deployment")
    annotated.annotations["upid.io/exclude"] = "true"
    for _ in range(3):
        assert collect(upid, kube).code == 0
        c.advance(STEP)
    r = upid("idle", "--min-idle", "1s", "--min-confidence", "0", "-o", "json")
    assert r.code == 0, r.err
    reasons = {e["workload"]: e["excluded"] for e in r.json()["excluded"]}
    for w in c.workloads:
        if w.namespace == "kube-system":
            assert reasons[w.name] == "system namespace kube-system"
        elif w is annotated:
            assert reasons[w.name] == 'annotated upid.io/exclude: "true"'
        elif w.kind == "CronJob":
            assert "runs on a schedule" in reasons[w.name]
    flagged = {i["workload"] for i in r.json()["idle"]}
    assert not flagged & set(reasons)


@pytest.mark.parametrize("bad", ["abc", "-250m", "1e3Mi", {"x": 1}])
def test_one_malformed_pod_is_skipped_and_counted_not_fatal(upid, kube, bad) -> None:
    """A pod whose CPU request is not a quantity: that workload's pods are skipped with one notice; the rest of
    the cluster is collected."""
    c = kube.cluster
    w = next(p.workload for p in c.pods if p.owner_kind and p.workload.namespace != "kube-system")
    container = w.containers[0]
    w.resources[container].setdefault("requests", {})["cpu"] = bad
    r = collect(upid, kube)
    assert r.code == 0, r.err
    broken = [p for p in c.pods if p.workload is w]
    assert f"skipped {len(broken)} malformed pods (first: {w.namespace}/" in r.err
    stored = query(upid, "SELECT count(DISTINCT pod) FROM usage")[0][0]
    assert stored == len(c.pods) - len(broken) > 0


@pytest.mark.parametrize("fault", [Fault(path="", status=503, times=100), Fault(path="", delay=2.5, times=100)])
def test_one_failing_kubelet_falls_back_to_metrics_for_its_pods(upid, kube, fault) -> None:
    """One node's kubelet Summary answers 503, or hangs: that node's pods come from metrics.k8s.io, the others
    from their kubelets, with one notice; the collect succeeds."""
    c = kube.cluster
    node = sorted(c.node_names)[1]
    fault.path = f"^/api/v1/nodes/{node}/proxy/stats/summary$"
    kube.behaviour.faults.append(fault)
    r = collect(upid, kube, "--request-timeout", "1s")
    assert r.code == 0, r.err
    assert f"kubelet Summary failed on 1 of {len(c.node_names)} nodes (first: {node})" in r.err
    sources = dict(query(upid, "SELECT node = '" + node + "', list(DISTINCT source) FROM usage GROUP BY ALL"))
    assert sources == {True: ["metrics-server"], False: ["kubelet-summary"]}
    containers = sum(len(p.workload.containers) for p in c.pods)
    assert query(upid, "SELECT count(*) FROM usage") == [[containers]]


@pytest.mark.parametrize(
    "path, body, words",
    [
        ("^/api/v1/pods$", b"<html><body>502 Bad Gateway</body></html>", "bytes that are not JSON"),
        ("^/version$", [], "a JSON list instead of an object"),
        ("^/api/v1/pods$", {"items": "none"}, "a JSON document that is not a list"),
        ("^/api/v1/nodes$", "just a string", "a JSON document that is not a list"),
        ("^/api/v1/namespaces/kube-system$", {"metadata": {}}, "without a uid"),
    ],
)
def test_an_answer_that_is_not_the_kubernetes_api_is_a_cluster_error(upid, kube, path, body, words) -> None:
    kube.behaviour.faults.append(Fault(path=path, body=body, times=100))
    r = collect(upid, kube)
    assert r.code == ExitCode.CLUSTER_UNREACHABLE, r.err
    assert r.err.startswith("error: ") and words in r.err and "Traceback" not in r.err


def test_a_malformed_node_is_skipped_and_counted(upid, kube) -> None:
    def tamper(doc: dict) -> None:
        for item in doc.get("items") or []:
            if item.get("metadata", {}).get("name") == sorted(kube.cluster.node_names)[0]:
                item["status"]["allocatable"]["cpu"] = "lots"

    original = kube.server.answer

    def answer(path, query, auth):
        code, body, headers = original(path, query, auth)
        if path == "/api/v1/nodes" and code == 200:
            tamper(body)
        return code, body, headers

    kube.server.answer = answer  # the test server's answer, not upid's code
    r = collect(upid, kube)
    assert r.code == 0, r.err
    assert "skipped 1 malformed nodes (first: " in r.err
    assert query(upid, "SELECT count(*) FROM nodes") == [[len(kube.cluster.node_names) - 1]]


def test_a_forbidden_metrics_api_is_called_forbidden(upid, kube) -> None:
    kube.behaviour.denied |= {"nodes/proxy", "metrics.k8s.io/pods"}
    r = collect(upid, kube)
    assert r.code == ExitCode.METRICS_UNAVAILABLE
    assert "metrics.k8s.io API is forbidden" in r.err and "not installed" not in r.err


def test_a_server_that_trickles_bytes_is_cut_off_at_the_request_timeout(upid, kube) -> None:
    """Every socket read gets a byte within the read timeout; the request as a whole may not outlast it."""
    kube.behaviour.faults.append(Fault(path="^/api/v1/nodes$", trickle=0.3, times=100))
    began = time.monotonic()
    r = collect(upid, kube, "--request-timeout", "2s")
    took = time.monotonic() - began
    assert r.code == ExitCode.CLUSTER_UNREACHABLE, r.err
    assert "timed out after 2s" in r.err
    assert took < 20, took  # two attempts of 2 s and a backoff; the whole answer would take minutes


def test_the_whole_collect_has_a_deadline(upid, kube) -> None:
    kube.behaviour.faults.append(Fault(path="", delay=0.5, times=1000))  # every request slow, none too slow
    began = time.monotonic()
    r = collect(upid, kube, "--timeout", "3s")
    took = time.monotonic() - began
    assert r.code == ExitCode.CLUSTER_UNREACHABLE, r.err
    assert (
        "did not finish within its --timeout" in r.err and len(r.err.strip().splitlines()) == 2 or "hint" not in r.err
    )
    assert took < 10, took
    assert not Path(os.environ["UPID_HOME"], "upid.duckdb").exists() or query(upid, "SELECT count(*) FROM usage") == [
        [0]
    ]
    assert collect(upid, kube, "--timeout", "1x").code == ExitCode.USAGE
