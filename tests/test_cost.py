"""Money: OpenCost's max(request, usage) x unit price, monthly, on every row; each saving counted once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from upid.analysis.cost import HOURS_PER_MONTH, Prices, monthly_cost
from upid.analysis.history import ContainerHistory
from upid.errors import ExitCode

GIB, MIB = 1024**3, 1024**2
CPU, MEM = 0.031611, 0.004237  # OpenCost's default unit prices


def history(cpu: float, memory: float, pods: int = 1) -> ContainerHistory:
    n = 100
    ts = np.repeat(1_767_225_600 + np.arange(n) * 300, pods)
    return ContainerHistory(
        key=("ns", "Deployment", "web", "app"),
        ts=ts,
        cpu=np.full(n * pods, cpu),
        memory=np.full(n * pods, memory),
        pod=np.tile(np.arange(pods), n),
        current={},
    )


@pytest.mark.parametrize(
    "request_cpu, request_mem, usage_cpu, usage_mem, billed_cpu, billed_mem",
    [
        (0.5, 512 * MIB, 0.1, 100 * MIB, 0.5, 512 * MIB),  # usage under the request: the request is billed
        (0.1, 64 * MIB, 0.3, 200 * MIB, 0.3, 200 * MIB),  # usage over the request: the usage is billed
        (None, None, 0.2, 300 * MIB, 0.2, 300 * MIB),  # nothing requested: the usage is billed
    ],
)
def test_max_of_request_and_usage_times_unit_price(
    request_cpu, request_mem, usage_cpu, usage_mem, billed_cpu, billed_mem
) -> None:
    expected = (billed_cpu * CPU + billed_mem / GIB * MEM) * 730
    assert monthly_cost(history(usage_cpu, usage_mem), request_cpu, request_mem, Prices()) == round(expected, 2)
    assert monthly_cost(history(usage_cpu, usage_mem, pods=3), request_cpu, request_mem, Prices()) == round(
        3 * expected, 2
    )


def test_prices_discount_and_month() -> None:
    p = Prices(cpu_core_hour=0.05, memory_gib_hour=0.01, currency="EUR", discount=0.2)
    assert p.monthly(2, 4 * GIB) == pytest.approx((2 * 0.05 + 4 * 0.01) * HOURS_PER_MONTH * 0.8)


def _import(upid, tmp_path: Path, rows: list[str]) -> None:
    path = tmp_path / "u.csv"
    header = "timestamp,namespace,workload,pod,container,cpu_cores,memory_bytes,cpu_request_cores,memory_request_bytes"
    path.write_text("\n".join([header, *rows]) + "\n")
    assert upid("storage", "import", path).code == 0


def test_every_recommendation_and_idle_item_carries_money_counted_once(upid, tmp_path: Path) -> None:
    rows = []
    for i in range(8 * 288):
        ts = 1_767_225_600 + i * 300
        rows.append(f"{ts},shop,web,web-1,app,0.1,{100 * MIB},0.5,{512 * MIB}")
        rows.append(f"{ts},shop,sleepy,sleepy-1,app,0.001,{100 * MIB},1,{GIB}")
    _import(upid, tmp_path, rows)
    doc = upid("analyze", "--strategy", "krr-simple", "-o", "json").json()
    web = next(r for r in doc["recommendations"] if r["workload"] == "web")
    current = round((0.5 * CPU + 0.5 * MEM) * 730, 2)
    recommended = round((0.1 * CPU + 115 * MIB / GIB * MEM) * 730, 2)  # p95 0.1 core; 100 MiB x 1.15
    assert web["monthly_cost"] == {"current": current, "recommended": recommended}
    assert web["monthly_savings"] == pytest.approx(current - recommended, abs=0.011)
    [sleepy] = doc["idle"]
    assert sleepy["monthly_savings"] == round((1 * CPU + 1 * MEM) * 730, 2)
    money = doc["summary"]["monthly_savings"]
    assert money["rightsizing"] == web["monthly_savings"]  # sleepy's resize is not counted: it sleeps
    assert money["idle"] == sleepy["monthly_savings"]
    assert money["total"] == pytest.approx(money["rightsizing"] + money["idle"], abs=0.011)
    assert doc["summary"]["currency"] == "USD"
    assert "$" in upid("analyze").out


def test_prices_from_the_settings(upid, tmp_path: Path, home: Path, monkeypatch) -> None:
    rows = [f"{1_767_225_600 + i * 300},shop,sleepy,sleepy-1,app,0.001,{100 * MIB},1,{GIB}" for i in range(8 * 288)]
    _import(upid, tmp_path, rows)
    (home / "config.toml").write_text(
        'price_cpu_core_hour = 0.05\nprice_memory_gib_hour = 0.01\ncurrency = "EUR"\ndiscount_percent = 25\n'
    )
    doc = upid("idle", "-o", "json").json()
    assert doc["idle"][0]["monthly_savings"] == round((0.05 + 0.01) * 730 * 0.75, 2)
    assert doc["summary"]["currency"] == "EUR" and "€" in upid("idle").out
    monkeypatch.setenv("UPID_DISCOUNT_PERCENT", "120")
    bad = upid("idle")
    assert bad.code == ExitCode.USAGE and "discount_percent" in bad.err


def test_cost_by_node_balances_with_the_idle_cost(upid, kube) -> None:
    from kube.model import STEP

    for _ in range(4):
        assert upid("storage", "collect", "--kubeconfig", kube.kubeconfig).code == 0
        kube.cluster.advance(STEP)
    r = upid("cost", "--by", "node", "--window", "1d", "-o", "json")
    assert r.code == 0, r.err
    doc = r.json()
    s = doc["summary"]
    assert s["workload_cost"] == pytest.approx(sum(g["cost"] for g in doc["groups"]), abs=0.05)
    assert s["workload_cost"] + s["idle_cost"] == pytest.approx(s["node_cost"], abs=0.011)  # the books balance
    assert s["idle_cost"] > 0  # the test nodes are mostly empty
    assert {g["group"] for g in doc["groups"]} <= set(kube.cluster.node_names)
    for n in doc["nodes"]:
        unit = (0.006655, 0.000892) if n["capacity_type"] == "spot" else (CPU, MEM)
        expected = (n["cpu_cores"] * unit[0] + n["memory_bytes"] / GIB * unit[1]) * n["hours"]
        assert n["cost"] == pytest.approx(expected, abs=0.01)
        assert n["price"].startswith("spot" if n["capacity_type"] == "spot" else "on-demand")
    assert any(n["capacity_type"] == "spot" for n in doc["nodes"])
    prices = upid("cost", "prices", "-o", "json").json()["nodes"]
    assert {p["node"] for p in prices} == set(kube.cluster.node_names)
    assert all("OpenCost's default unit prices" in p["price"] for p in prices)


def test_cost_groupings_and_imported_data(upid, tmp_path: Path) -> None:
    rows = [f"{1_767_225_600 + i * 300},shop,web,web-1,app,0.1,{100 * MIB},0.5,{512 * MIB}" for i in range(288)]
    _import(upid, tmp_path, rows)
    doc = upid("cost", "--by", "workload", "--window", "1d", "-o", "json").json()
    [group] = doc["groups"]
    hours = 288 * 300 / 3600  # each sample stands for its 5 minutes
    assert group["group"] == "shop/Deployment/web"
    assert group["cost"] == pytest.approx((0.5 * CPU + 0.5 * MEM) * hours, abs=0.01)
    assert group["efficiency"] == pytest.approx((0.1 * CPU + 100 * MIB / GIB * MEM) / (0.5 * CPU + 0.5 * MEM), abs=1e-3)
    assert doc["summary"]["node_cost"] is None and doc["summary"]["idle_cost"] is None  # no nodes were imported
    assert upid("cost", "--by", "label=team", "-o", "json").json()["groups"][0]["group"] == "team=(none)"
    bad = upid("cost", "--by", "colour")
    assert bad.code == ExitCode.USAGE and "allowed: namespace, workload, node, label=KEY" in bad.err
