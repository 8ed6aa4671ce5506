"""`upid optimize` end to end: plan from the store, GitOps outputs, apply through the real kubernetes client to
the test API server (PATCH, dry run, 409, 403), the audit trail, rollback and wake; and one test per safety
rule, each of which fails if the rule is removed."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import yaml
from kube.history import write_history
from kube.model import Cluster
from kube.server import KubeServer, write_kubeconfig
from schemas import check

HPA = {"app-1", "app-19"}  # app-1 busy (right-sizing), app-19 idle
PDB = {"app-3", "app-13"}  # app-3 a StatefulSet with one replica (no disruption allowed), app-13 idle
IDLE = {"app-18", "app-13", "app-19"}
EXCLUDED = "app-2"
LENIENT = {"UPID_MAX_CPU_SHORTFALL": "1", "UPID_MAX_OOM_KILLS": "1000"}


def _cluster() -> Cluster:
    c = Cluster(pods=40, nodes=4)
    for w in c.workloads:
        w.idle = w.name in IDLE
        if w.name == EXCLUDED:
            w.annotations = {"upid.io/exclude": "true"}
    return c


def _server(c: Cluster) -> KubeServer:
    server = KubeServer(c)
    server.behaviour.hpa_for |= HPA
    server.behaviour.pdb_for |= PDB
    return server


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with two days of the test cluster's history and one collection (inventory, identity)."""
    from conftest import run_process

    base = tmp_path_factory.mktemp("optimize")
    home = base / "home"
    c = _cluster()
    history = write_history(c, base / "history.parquet", days=6)
    with _server(c) as server:
        kubeconfig = write_kubeconfig(base / "kubeconfig", {"test": server.url})
        assert run_process(home, "storage", "collect", "--kubeconfig", kubeconfig).code == 0
    r = run_process(home, "storage", "import", history, "--cluster", "test")
    assert r.code == 0, r.err
    return home / "upid.duckdb"


@pytest.fixture
def env(seeded: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """This test's copy of the store, and a fresh API server for the same cluster."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(seeded, home / "upid.duckdb")
    for k, v in LENIENT.items():
        monkeypatch.setenv(k, v)
    c = _cluster()
    with _server(c) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"test": server.url})
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        yield c, server


def _plan(upid, *args: str) -> dict:
    r = upid("optimize", "-o", "json", *args)
    assert r.code == 0, r.err
    return r.json()


def _change(doc: dict, name: str) -> dict | None:
    return next((c for c in doc["changes"] if c["workload"] == name), None)


def _skips(doc: dict, name: str) -> set[str]:
    return {s["rule"] for s in doc["skipped"] if s["workload"] == name}


def _resources(c: Cluster, name: str, container: str = "app") -> dict:
    return next(w for w in c.workloads if w.name == name).resources[container]


# -- the plan ----------------------------------------------------------------------------------


def test_dry_run_shows_a_diff_with_money_and_risk_and_touches_nothing(upid, env) -> None:
    c, server = env
    r = upid("optimize")
    assert r.code == 0, r.err
    assert "# rightsize team-0/Deployment/app-6: savings $" in r.out
    assert "--- a/team-0/Deployment/app-6 spec.template.spec.containers" in r.out
    assert "-      cpu: 100m" in r.out  # the current request, and the recommended one below it
    assert "# scale-to-zero team-0/Deployment/app-18" in r.out and "+replicas: 0" in r.out
    assert "change(s):" in r.err and "savings $" in r.err
    assert not [q for q in server.requests if q.startswith("PATCH")]  # a dry run needs no cluster at all
    assert not server.requests


def test_plan_json_has_before_after_savings_and_risk(upid, env) -> None:
    doc = _plan(upid)
    change = _change(doc, "app-6")
    assert change and change["action"] == "rightsize"
    container = change["containers"][0]
    assert container["before"]["cpu_request"] == pytest.approx(0.1)
    assert container["after"]["cpu_request"] != container["before"]["cpu_request"]
    assert isinstance(container["after"]["memory_limit"], int)
    assert change["monthly_savings"] != 0 and "cpu_shortfall" in change["risk"]
    idle = _change(doc, "app-18")
    assert idle and idle["action"] == "scale-to-zero" and idle["replicas"] == {"before": 1, "after": 0}
    s = doc["summary"]
    assert s["changes"] == len(doc["changes"]) and s["monthly_savings"] == pytest.approx(
        sum(c["monthly_savings"] for c in doc["changes"]), abs=0.02
    )


def test_only_min_savings_and_severity_filter_the_plan(upid, env) -> None:
    full = _plan(upid)
    assert {c["action"] for c in _plan(upid, "--only", "idle")["changes"]} == {"scale-to-zero"}
    assert {c["action"] for c in _plan(upid, "--only", "rightsize")["changes"]} == {"rightsize"}
    top = max(c["monthly_savings"] for c in full["changes"])
    few = _plan(upid, "--min-savings", str(top))
    assert [c["monthly_savings"] for c in few["changes"]] == [top]
    assert few["summary"]["below_threshold"] == len(full["changes"]) - 1
    critical = _plan(upid, "--severity", "critical")
    assert all(c["severity"] in (None, "critical") for c in critical["changes"])
    assert upid("optimize", "--only", "everything").code == 2


def test_gitops_patch_files_and_kustomization(upid, env, tmp_path: Path) -> None:
    out = tmp_path / "patches"
    r = upid("optimize", "--only", "rightsize", "-n", "team-0", "-o", "patch", "--out", out)
    assert r.code == 0, r.err
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    files = [p["path"] for p in kustomization["patches"]]
    assert "team-0-deployment-app-6.yaml" in files and all((out / f).exists() for f in files)
    doc = yaml.safe_load((out / "team-0-deployment-app-6.yaml").read_text())
    assert doc["apiVersion"] == "apps/v1" and doc["kind"] == "Deployment"
    assert doc["metadata"] == {"name": "app-6", "namespace": "team-0"}
    app = doc["spec"]["template"]["spec"]["containers"][0]
    assert app["name"] == "app" and set(app["resources"]) <= {"requests", "limits"}


def test_json_patch_and_kubectl_commands_apply_to_the_live_objects(upid, env) -> None:
    from kube import objects as o
    from kube.writes import json_patch

    c, _ = env
    ops = json.loads(upid("optimize", "-n", "team-0", "-o", "json-patch").out)
    entry = next(e for e in ops if e["name"] == "app-6")
    assert entry["path"] == "/apis/apps/v1/namespaces/team-0/deployments/app-6"
    w = next(w for w in c.workloads if w.name == "app-6")
    patched = json_patch(o.workload(c, w), entry["patch"])  # the server's RFC 6902, with its `test` ops
    plan = _change(_plan(upid, "-n", "team-0"), "app-6")
    assert plan
    want = plan["containers"][0]["after"]
    got = patched["spec"]["template"]["spec"]["containers"][0]["resources"]
    from upid.units import parse_quantity

    assert parse_quantity(got["requests"]["cpu"]) == pytest.approx(want["cpu_request"])
    assert parse_quantity(got["limits"]["memory"]) == want["memory_limit"]
    lines = upid("optimize", "-n", "team-0", "-o", "kubectl").out.splitlines()
    assert any(
        line.startswith("kubectl -n team-0 set resources deployment/app-6 -c app --requests=cpu=") for line in lines
    )
    assert "kubectl -n team-0 scale deployment/app-18 --replicas=0" in lines


# -- apply, audit, rollback, wake ----------------------------------------------------------------


def test_apply_dry_runs_on_the_server_then_patches_audits_and_rolls_back(upid, env) -> None:
    c, server = env
    before = json.loads(json.dumps(_resources(c, "app-6")))
    plan = _plan(upid, "-n", "team-0")
    r = upid("optimize", "-n", "team-0", "--apply", "--yes", "-o", "json")
    assert r.code == 0, r.err
    check(r.json(), "optimize-results")
    results = r.json()["results"]
    assert {x["status"] for x in results} == {"applied"} and len(results) == len(plan["changes"])
    patches = [q for q in server.requests if q.startswith("PATCH")]
    dry = [q for q in patches if "dryRun=All" in q]
    assert dry and patches.index(dry[-1]) < min(i for i, q in enumerate(patches) if "dryRun" not in q)  # dry runs first
    # the server's state is the plan's
    after = _resources(c, "app-6")
    want = _change(plan, "app-6")["containers"][0]["after"]  # type: ignore[index]
    from upid.units import parse_quantity

    assert parse_quantity(after["requests"]["cpu"]) == pytest.approx(want["cpu_request"])
    assert parse_quantity(after["limits"]["memory"]) == want["memory_limit"]
    sleeper = next(w for w in c.workloads if w.name == "app-18")
    assert sleeper.replicas == 0 and sleeper.annotations["upid.io/original-replicas"] == "1"
    # the audit trail: who, where, before and after
    check(upid("optimize", "history", "-o", "json").json(), "optimize-history")
    history = upid("optimize", "history", "-o", "json").json()["changes"]
    entry = next(h for h in history if h["workload"] == "app-6")
    assert entry["status"] == "applied" and entry["context"] == "test" and entry["kube_user"] == "upid"
    assert entry["before"]["containers"]["app"]["cpu_request"] == pytest.approx(0.1)
    assert entry["after"]["containers"]["app"]["cpu_request"] == pytest.approx(want["cpu_request"])
    # rollback --last restores exactly the previous values
    r = upid("optimize", "rollback", "--last", "--yes", "-o", "json")
    assert r.code == 0, r.err
    check(r.json(), "optimize-results")
    assert {x["status"] for x in r.json()["results"]} == {"applied"}
    assert _resources(c, "app-6") == before
    assert sleeper.replicas == 1 and "upid.io/original-replicas" not in sleeper.annotations
    statuses = {
        h["workload"]: h["status"]
        for h in upid("optimize", "history", "-o", "json").json()["changes"]
        if h["action"] != "rollback"
    }
    assert statuses["app-6"] == "rolled-back"


def test_rollback_of_one_change_by_id_and_refusal_when_it_changed_since(upid, env) -> None:
    c, _ = env
    assert upid("optimize", "-n", "team-0", "--only", "rightsize", "--apply", "--yes").code == 0
    history = upid("optimize", "history", "-o", "json").json()["changes"]
    ids = {h["workload"]: h["id"] for h in history}
    w = next(w for w in c.workloads if w.name == "app-12")
    w.resources["app"] = {"requests": {"cpu": "999m", "memory": "70Mi"}}  # someone edits it after upid
    c.written(w)
    r = upid("optimize", "rollback", str(ids["app-12"]), "--yes", "-o", "json")
    assert r.code == 0 and r.json()["results"][0]["status"] == "skipped"
    assert w.resources["app"]["requests"]["cpu"] == "999m"  # their change is kept
    r = upid("optimize", "rollback", str(ids["app-6"]), "--yes", "-o", "json")
    assert r.json()["results"][0]["status"] == "applied"
    assert _resources(c, "app-6")["requests"]["cpu"] == "100m"
    assert upid("optimize", "rollback", str(ids["app-6"]), "--yes").code == 2  # already rolled back
    assert upid("optimize", "rollback", "--yes").code == 2  # neither an id nor --last


def test_wake_restores_the_original_replicas(upid, env) -> None:
    c, _ = env
    assert upid("optimize", "--only", "idle", "--apply", "--yes").code == 0
    sleeper = next(w for w in c.workloads if w.name == "app-18")
    assert sleeper.replicas == 0
    r = upid("optimize", "wake", "-n", "team-0", "--yes", "-o", "json")
    assert r.code == 0, r.err
    check(r.json(), "optimize-results")
    woken = {x["workload"]: x["status"] for x in r.json()["results"]}
    assert woken["app-18"] == "applied" and set(woken.values()) == {"applied"}
    assert sleeper.replicas == 1 and "upid.io/original-replicas" not in sleeper.annotations
    assert upid("optimize", "wake", "--yes", "-o", "json").json()["results"] == []  # nothing asleep any more


class _Terminal(io.StringIO):
    """Standard input as a person at a terminal types it."""

    def isatty(self) -> bool:
        return True


def test_apply_asks_first_and_a_no_changes_nothing(upid, env, monkeypatch: pytest.MonkeyPatch) -> None:
    c, server = env
    r = upid("optimize", "-n", "team-0", "--apply")  # no terminal, no --yes: nobody to ask
    assert r.code == 2 and "standard input is not a terminal" in r.err
    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    r = upid("optimize", "-n", "team-0", "--apply")
    assert r.code == 2 and "not confirmed" in r.err and "[y/N]" in r.err
    assert not [q for q in server.requests if q.startswith("PATCH")]
    monkeypatch.setattr("sys.stdin", _Terminal("y\n"))
    assert upid("optimize", "-n", "team-0", "--apply").code == 0
    assert [q for q in server.requests if q.startswith("PATCH")]


def test_a_forbidden_patch_names_the_missing_permission_and_the_rest_is_applied(upid, env) -> None:
    c, server = env
    server.behaviour.denied.add("patch apps/statefulsets")
    r = upid("optimize", "-n", "team-0", "--apply", "--yes", "-o", "json")
    assert r.code == 13, r.err
    assert 'cannot patch resource "statefulsets" in API group "apps"' in r.err
    results = r.json()["results"]
    assert {x["status"] for x in results if x["kind"] == "StatefulSet"} == {"failed"}
    assert {x["status"] for x in results if x["kind"] == "Deployment"} == {"applied"}
    history = upid("optimize", "history", "-o", "json").json()["changes"]
    assert {h["status"] for h in history} == {"applied", "failed"}
    assert upid("optimize", "rollback", "--last", "--yes").code == 0  # what was applied rolls back
    assert _resources(c, "app-6")["requests"]["cpu"] == "100m"


def test_apply_refuses_another_cluster_and_an_imported_one(upid, env, tmp_path: Path) -> None:
    other = Cluster(pods=10, nodes=1, name="other")
    with KubeServer(other) as server:
        kubeconfig = write_kubeconfig(tmp_path / "other", {"test": server.url})
        r = upid("optimize", "--apply", "--yes", "--kubeconfig", kubeconfig)
        assert r.code == 2 and "another cluster" in r.err
        assert not [q for q in server.requests if q.startswith("PATCH")]
    history = write_history(Cluster(pods=4, nodes=1, name="lab"), tmp_path / "lab.parquet", days=1.5)
    assert upid("storage", "import", history, "--cluster", "lab").code == 0
    assert upid("optimize", "--cluster", "lab", "-o", "json").code == 0  # a plan works from imported history
    r = upid("optimize", "--cluster", "lab", "--apply", "--yes")
    assert r.code == 2 and "was imported, not collected" in r.err


# -- safety rules: each test fails if its rule is removed -----------------------------------------


def test_rule_protected_namespaces(upid, env, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _plan(upid)
    assert _change(doc, "app-0") is None and "protected-namespace" in _skips(doc, "app-0")  # kube-system
    assert _change(doc, "app-1") is not None
    monkeypatch.setenv("UPID_PROTECTED_NAMESPACES", "team-1")
    doc = _plan(upid)
    assert _change(doc, "app-1") is None and "protected-namespace" in _skips(doc, "app-1")


def test_rule_annotated_workloads_are_left_alone(upid, env) -> None:
    doc = _plan(upid)
    assert _change(doc, EXCLUDED) is None and _skips(doc, EXCLUDED) == {"excluded"}


def test_rule_hpa_resource_needs_allow_hpa(upid, env) -> None:
    doc = _plan(upid)
    change = _change(doc, "app-1")  # its HPA scales on CPU: memory is right-sized, CPU is not
    assert change and all(x["after"]["cpu_request"] == x["before"]["cpu_request"] for x in change["containers"])
    assert "hpa" in _skips(doc, "app-1")
    assert _change(doc, "app-19") is None and "hpa" in _skips(doc, "app-19")  # idle, but behind an HPA
    allowed = _plan(upid, "--allow-hpa")
    change = _change(allowed, "app-1")
    assert change and any(x["after"]["cpu_request"] != x["before"]["cpu_request"] for x in change["containers"])
    assert _change(allowed, "app-19") is not None


def test_rule_pdbs(upid, env) -> None:
    doc = _plan(upid)
    assert _change(doc, "app-3") is None and _skips(doc, "app-3") == {"pdb"}  # a rollout would break it
    assert _change(doc, "app-13") is None and _skips(doc, "app-13") == {"pdb"}  # scaling to zero would


def test_rule_backtested_risk_above_the_threshold(upid, env, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _change(_plan(upid), "app-6") is not None
    monkeypatch.setenv("UPID_MAX_CPU_SHORTFALL", "0")
    doc = _plan(upid)
    risky = [s for s in doc["skipped"] if s["rule"] == "risk"]
    assert risky and all(
        (c["risk"] or {}).get("cpu_shortfall") in (None, 0) for c in doc["changes"] if c["action"] == "rightsize"
    )


def test_rule_too_little_history(upid, env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPID_MIN_HISTORY_HOURS", "1000")  # the store holds six days
    doc = _plan(upid)
    assert doc["changes"] == [] and {s["rule"] for s in doc["skipped"]} >= {"history"}


def test_rule_changed_since_the_analysis_and_conflicts_are_skipped(upid, env) -> None:
    c, server = env
    w = next(w for w in c.workloads if w.name == "app-6")
    w.resources["app"] = {"requests": {"cpu": "300m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}}
    c.written(w)  # someone changed it after the last collect
    server.behaviour.race.add("app-12")  # and someone writes app-12 between upid's read and its patch
    r = upid("optimize", "-n", "team-0", "--only", "rightsize", "--apply", "--yes", "-o", "json")
    assert r.code == 0, r.err
    status = {x["workload"]: (x["status"], x["message"]) for x in r.json()["results"]}
    assert status["app-6"][0] == "skipped" and "changed since the analysis" in status["app-6"][1]
    assert status["app-12"][0] == "skipped" and "409" in status["app-12"][1]
    assert w.resources["app"]["requests"]["cpu"] == "300m"
    assert [x for x in status.values() if x[0] == "applied"]


def _used(requests: list[str]) -> set[tuple[str, str, str]]:
    """(API group, resource, verb) of each request the test API server saw."""
    import re

    used = set()
    for req in requests:
        method, _, path = req.rpartition(" ")
        path = path.split("?")[0]
        if path == "/api/v1/namespaces/kube-system":
            used.add(("", "namespaces", "get"))
        elif m := re.fullmatch(r"/apis/(\w+)/v1(?:/namespaces/[^/]+)?/(\w+)(?:/([^/]+)(/scale)?)?", path):
            verb = "patch" if method == "PATCH" else ("get" if m.group(3) else "list")
            used.add((m.group(1), m.group(2) + (m.group(4) or ""), verb))
        else:
            raise AssertionError(f"unexpected request {req}")
    return used


def test_the_optimizer_role_grants_what_apply_rollback_and_wake_use(upid, env) -> None:
    from test_manifests import role_grants

    c, server = env
    assert upid("optimize", "--allow-hpa", "--apply", "--yes").code == 0
    assert upid("optimize", "wake", "--yes").code == 0
    assert upid("optimize", "rollback", "--last", "--yes").code == 0
    used, granted = _used(server.requests), role_grants("upid-optimizer")
    assert {v for _, _, v in used} == {"get", "list", "patch"}
    assert used <= granted, used - granted


def test_rule_only_deployments_and_statefulsets_scale_to_zero() -> None:
    from upid.analysis.idle import IdleItem
    from upid.analysis.rightsizing import RightsizingReport
    from upid.analysis.window import Pdb, Workload
    from upid.optimize.plan import PlanOptions, build_plan

    report = RightsizingReport("c", 0, 1, "upid", [], None, None)
    items = [
        IdleItem("team-0", kind, f"w-{kind}", 2, 0, 200.0, 0.9, {}, {"cpu_cores": 1.0, "memory_bytes": 1.0})
        for kind in ("DaemonSet", "Deployment", "StatefulSet")
    ]
    plan = build_plan(report, items, {}, {}, PlanOptions())
    assert sorted(c.kind for c in plan.changes) == ["Deployment", "StatefulSet"]
    assert [(s.kind, s.rule) for s in plan.skipped] == [("DaemonSet", "not-scalable")]
    # a PDB with maxUnavailable 0 keeps pods available just as minAvailable does
    guards = {("team-0", "Deployment", "w-Deployment"): Workload(pdbs=(Pdb("p", max_unavailable="0"),))}
    plan = build_plan(report, items[1:2], {}, guards, PlanOptions())
    assert not plan.changes and plan.skipped[0].rule == "pdb"


def test_rule_scale_to_zero_needs_the_idle_confidence_measured_out_of_sample() -> None:
    """A finding flagged with a lowered --min-confidence (or built by hand) is never scaled to zero below the
    level idle detection was measured at; schedules are never scaled to zero at all."""
    from upid.analysis.idle import MIN_CONFIDENCE, IdleItem
    from upid.analysis.rightsizing import RightsizingReport
    from upid.analysis.schedule import Schedule
    from upid.optimize.plan import PlanOptions, build_plan

    report = RightsizingReport("c", 0, 1, "upid", [], None, None)
    savings = {"cpu_cores": 1.0, "memory_bytes": 1.0}
    sure = IdleItem("team-0", "Deployment", "sure", 2, 0, 200.0, MIN_CONFIDENCE, {}, savings)
    unsure = IdleItem("team-0", "Deployment", "unsure", 2, 0, 200.0, MIN_CONFIDENCE - 0.01, {}, savings)
    nightly = IdleItem(
        "team-0", "Deployment", "nightly", 2, None, None, 1.0, {}, savings,
        schedule=Schedule((0, 1, 2, 3, 4), 20, 8, "UTC", 60, 3),
    )  # fmt: skip
    plan = build_plan(report, [sure, unsure, nightly], {}, {}, PlanOptions())
    assert [c.name for c in plan.changes] == ["sure"]
    assert [(s.name, s.rule) for s in plan.skipped] == [("unsure", "confidence")]


def test_the_idle_command_defaults_to_the_confidence_optimize_acts_on() -> None:
    import inspect

    from upid.analysis.idle import MIN_CONFIDENCE, IdlePolicy
    from upid.cli.idle import idle

    assert inspect.signature(idle).parameters["min_confidence"].default == MIN_CONFIDENCE
    assert IdlePolicy().min_confidence == MIN_CONFIDENCE


def test_apply_rollback_and_wake_are_in_the_audit_log(upid, env) -> None:
    """Every command that changes a cluster writes audit_log rows, as every command that changes the store does."""
    r = upid("optimize", "-n", "team-0", "--apply", "--yes", "-o", "json")
    assert r.code == 0, r.err
    applied = r.json()["results"]
    assert upid("optimize", "rollback", "--last", "--yes").code == 0
    rows = upid("storage", "audit-log", "-o", "json").json()["entries"]
    cluster = [e for e in rows if e["command"].startswith("optimize ")]
    actions = {x["action"] for x in applied}
    assert {e["command"] for e in cluster} >= {f"optimize {a}" for a in actions} | {"optimize rollback"}
    assert all(e["result"] in ("applied", "failed", "skipped", "rolled-back") for e in cluster)
    made = [e for e in cluster if e["command"] != "optimize rollback" and e["result"] == "applied"]
    assert len(made) == len(applied)  # each change once as applied, then once more as rolled back
    assert len([e for e in cluster if e["result"] == "rolled-back"]) == len(applied)
