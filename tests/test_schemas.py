"""Every JSON document upid prints validates against its schema in docs/schemas/, on real outputs: the bundled
real sample, and a cluster collected through the test API server with days of its history imported.
(`optimize --apply`, `rollback`, `wake` and `history` are validated in test_optimize.py, where they run.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from kube.history import write_history
from schemas import SCHEMAS, check, validator


def _json(upid, *args: object) -> dict:
    r = upid(*args, "-o", "json")
    assert r.code == 0, r.err
    return r.json()


@pytest.fixture
def demo(upid) -> None:
    from upid.workflows.demo import sample_path

    check(_json(upid, "storage", "import", sample_path(), "--cluster", "demo"), "storage-import")


def test_analyze_idle_forecast_cost_and_optimize_on_the_real_sample(upid, demo) -> None:
    doc = _json(upid, "analyze")
    assert doc["recommendations"] and doc["idle"]
    check(doc, "analyze")
    for strategy in ("krr-simple", "vpa"):
        check(_json(upid, "analyze", "--strategy", strategy, "--cpu-limit", "2x"), "analyze")
    idle = _json(upid, "idle", "--min-confidence", "0")
    assert any(i["schedule"] for i in idle["idle"])  # schedules are in the documents validated
    check(idle, "idle")
    check(_json(upid, "forecast", "--horizon", "3h"), "forecast")
    check(_json(upid, "cost", "--by", "workload"), "cost")
    plan = _json(upid, "optimize")
    assert plan["changes"] and plan["skipped"]
    check(plan, "optimize-plan")
    check(_json(upid, "storage", "status"), "storage-status")
    check(_json(upid, "storage", "verify"), "storage-verify")
    check(_json(upid, "storage", "audit-log"), "storage-audit-log")
    check(_json(upid, "storage", "query", "SELECT namespace, count(*) AS n FROM usage GROUP BY 1"), "storage-query")
    check(_json(upid, "config", "view"), "config-view")


def test_collect_cluster_info_and_node_costs_on_a_collected_cluster(upid, kube, tmp_path: Path) -> None:
    collected = _json(upid, "storage", "collect", "--kubeconfig", kube.kubeconfig)
    check(collected, "storage-collect")
    check(_json(upid, "cluster", "info", "--kubeconfig", kube.kubeconfig), "cluster-info")
    history = write_history(kube.cluster, tmp_path / "history.parquet", days=2)
    cluster = collected["collections"][0]["cluster"]
    check(_json(upid, "storage", "import", history, "--cluster", cluster), "storage-import")
    cost = _json(upid, "cost", "--by", "node", "--window", "2d")
    assert cost["nodes"] and cost["summary"]["idle_cost"] is not None  # node rows are in the validated document
    check(cost, "cost")
    prices = _json(upid, "cost", "prices")
    assert prices["nodes"]
    check(prices, "cost-prices")
    check(_json(upid, "analyze", "-A", "--history", "2d"), "analyze")
    check(_json(upid, "forecast", "--horizon", "2h", "-n", "team-0", "--history", "2d"), "forecast")


def test_every_schema_is_valid_and_used_by_a_test() -> None:
    tests = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        name = path.name.removesuffix(".schema.json")
        validator(name)  # a valid Draft 2020-12 schema
        assert name == "common" or f'"{name}")' in tests, f"no test validates an output against {path.name}"
