"""One money model: analyze, idle, optimize, cost and the report add up to the cent, on the bundled real sample
and on a collected test cluster (each pod at its node's price). Expected values are sums of the documents' own
rows, never constants."""

from __future__ import annotations

from pathlib import Path

import pytest
from kube.history import write_history


def _json(upid, *args: object) -> dict:
    r = upid(*args, "-o", "json")
    assert r.code == 0, r.err
    return r.json()


def _cents(values) -> int:
    return round(sum(round(v * 100) for v in values))


def reconcile(upid, *scope: str) -> dict:
    analysis = _json(upid, "analyze", *scope)
    s = analysis["summary"]
    recs = analysis["recommendations"]
    money = s["monthly_savings"]
    # the TOTAL of the SAVINGS/MO column is the summary's total: each workload counted once
    assert _cents(r["counted_monthly_savings"] for r in recs) == round(money["total"] * 100)
    assert _cents(money[k] for k in ("rightsizing", "idle", "sleep")) == round(money["total"] * 100)
    for kind, key in (("rightsize", "rightsizing"), ("idle", "idle"), ("sleep", "sleep")):
        assert _cents(r["counted_monthly_savings"] for r in recs if r["finding"] == kind) == round(money[key] * 100)
    assert _cents(r["monthly_cost"]["current"] for r in recs) == round(s["monthly_cost"]["current"] * 100)
    # idle: the same workloads, the same amounts
    idle = _json(upid, "idle", *scope)
    assert idle["summary"]["monthly_savings"] == pytest.approx(money["idle"] + money["sleep"], abs=0.005)
    by_workload = {(i["namespace"], i["workload_kind"], i["workload"]): i["monthly_savings"] for i in idle["idle"]}
    assert by_workload == {(i["namespace"], i["workload_kind"], i["workload"]): i["monthly_savings"]
                           for i in analysis["idle"]}  # fmt: skip
    # optimize: the plan plus what it leaves out is analyze's total
    plan = _json(upid, "optimize", *scope)
    parts = plan["summary"]["reconciliation"]
    assert parts["total"] == money["total"]
    assert parts["plan"] == plan["summary"]["monthly_savings"]
    assert _cents(c["monthly_savings"] for c in plan["changes"]) == round(parts["plan"] * 100)
    beyond = [x for x in plan["skipped"] if x["rule"] == "hpa"]  # what --allow-hpa would add: not analyze's
    assert _cents(x["monthly_savings"] for x in plan["skipped"] if x not in beyond) == round(parts["skipped"] * 100)
    assert _cents(x["monthly_savings"] for x in plan["sleep_schedules"]) == round(parts["sleep_schedules"] * 100)
    assert parts["sleep_schedules"] == money["sleep"]
    # cost: a month of the same window is analyze's current monthly cost
    window = ["--window" if a == "--history" else a for a in scope]  # cost's name for the same flag
    for by in ("namespace", "workload"):
        cost = _json(upid, "cost", "--by", by, *window)
        assert cost["period"] == "month" and cost["covered_hours"] == s["covered_hours"]
        assert cost["summary"]["workload_cost"] == s["monthly_cost"]["current"]
        assert _cents(g["cost"] for g in cost["groups"]) == round(s["monthly_cost"]["current"] * 100)
    return analysis


def test_the_views_reconcile_on_the_real_sample(upid) -> None:
    from upid.workflows.demo import sample_path

    assert upid("storage", "import", sample_path(), "--cluster", "demo").code == 0
    analysis = reconcile(upid)
    s = analysis["summary"]
    assert s["priced_by"] == "unit prices"
    assert {r["finding"] for r in analysis["recommendations"]} == {"rightsize", "idle", "sleep"}  # all three kinds
    assert s["monthly_savings"]["total"] > 0


def test_the_views_reconcile_on_a_collected_cluster_priced_per_node(upid, kube, tmp_path: Path) -> None:
    """With HPAs on CPU too: a change that keeps a workload's CPU as it is counts only its memory's savings, and
    the CPU part shows up as skipped (rule hpa), so the plan still adds up."""
    scaled = sorted({p.workload.name for p in kube.cluster.pods if p.owner_kind and p.namespace != "kube-system"})[:6]
    kube.behaviour.hpa_for |= set(scaled)
    collected = _json(upid, "storage", "collect", "--kubeconfig", kube.kubeconfig)
    cluster = collected["collections"][0]["cluster"]
    history = write_history(kube.cluster, tmp_path / "history.parquet", days=2)
    assert upid("storage", "import", history, "--cluster", cluster).code == 0
    analysis = reconcile(upid, "-A", "--history", "2d")
    assert analysis["summary"]["priced_by"] == "nodes"
    plan = _json(upid, "optimize", "-A", "--history", "2d")
    held = [x for x in plan["skipped"] if x["rule"] == "hpa"]
    assert held and any(x["monthly_savings"] for x in held)  # the CPU part the HPA keeps, with its amount
