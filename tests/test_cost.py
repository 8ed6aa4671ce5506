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
    r = upid("cost", "--by", "node", "--window", "1d", "--period", "window", "-o", "json")
    assert r.code == 0, r.err
    doc = r.json()
    s = doc["summary"]
    assert s["workload_cost"] == pytest.approx(sum(g["cost"] for g in doc["groups"]), abs=0.05)
    assert s["workload_cost"] + s["idle_cost"] == pytest.approx(s["node_cost"], abs=0.011)  # the books balance
    assert s["idle_cost"] > 0  # the test nodes are mostly empty
    assert {g["group"] for g in doc["groups"]} <= set(kube.cluster.node_names)
    prices = {p["node"]: p for p in upid("cost", "prices", "-o", "json").json()["nodes"]}
    assert set(prices) == set(kube.cluster.node_names)
    for n in doc["nodes"]:
        p = prices[n["name"]]
        assert p["hourly"] == pytest.approx(LIST[p["instance_type"], p["capacity_type"]], abs=1e-4)
        assert n["cost"] == pytest.approx(p["hourly"] * n["hours"], abs=0.01)
        # the hourly price splits 10:1 per core : GiB, and the capacity at those rates is the hourly price
        assert p["cpu_core_hour"] == pytest.approx(10 * p["memory_gib_hour"], rel=1e-3)
    assert any(p["capacity_type"] == "spot" for p in prices.values())
    reasons = {(p["instance_type"], p["capacity_type"]): p["price"] for p in prices.values()}
    assert (
        reasons["n2-standard-8", "on-demand"]
        == "gcp us-central1 on-demand list price (undated source) of n2-standard-8"
    )


# Hand-copied from the shipped table (upid/data/prices/instances.json): GCP hourly list prices.
LIST = {
    ("n2-standard-8", "on-demand"): 0.388472,
    ("e2-standard-4", "on-demand"): 0.13402284,
    ("n2-standard-8", "spot"): 0.233024,  # us-central1
    ("e2-standard-4", "spot"): 0.080424,  # us-east1: no us-central1 spot price for it is shipped
}


def test_instance_prices_from_the_settings_win_and_workloads_pay_their_nodes_rates(upid, kube, monkeypatch) -> None:
    from kube.model import STEP

    for _ in range(3):
        assert upid("storage", "collect", "--kubeconfig", kube.kubeconfig).code == 0
        kube.cluster.advance(STEP)
    monkeypatch.setenv("UPID_INSTANCE_PRICES", "e2-standard-4=0.5, n2-standard-8=1.2")
    prices = upid("cost", "prices", "-o", "json").json()["nodes"]
    for p in prices:
        assert p["hourly"] == (0.5 if p["instance_type"] == "e2-standard-4" else 1.2)
        assert p["price"] == f"{p['instance_type']}: instance_prices in the settings"
    doc = upid("cost", "--by", "node", "--window", "1d", "-o", "json").json()
    s = doc["summary"]
    assert s["workload_cost"] + s["idle_cost"] == pytest.approx(s["node_cost"], abs=0.011)
    monkeypatch.setenv("UPID_INSTANCE_PRICES", "e2-standard-4")
    bad = upid("cost", "prices")
    assert bad.code == ExitCode.CONFIG and "UPID_INSTANCE_PRICES" in bad.err


def test_price_book_lookup_order_and_split() -> None:
    from dataclasses import replace

    from upid.analysis.pricebook import PriceBook, shipped_table
    from upid.analysis.window import Node

    book = PriceBook(Prices(), instances={"m5.xlarge": 0.15}, table=shipped_table())
    m5 = Node("a", instance_type="m5.large", region="us-east-1", cpu_capacity=2, memory_capacity=8 * GIB)
    aws = replace(m5, provider_id="aws:///us-east-1a/i-0abc")
    price = book.node(aws)
    assert price.hourly == 0.096 and price.reason == "aws us-east-1 on-demand 2026-01-19 list price of m5.large"
    assert price.rates.cpu_core_hour == pytest.approx(0.096 / (2 + 8 / 10))  # 10:1 per core : GiB
    assert 2 * price.rates.cpu_core_hour + 8 * price.rates.memory_gib_hour == pytest.approx(0.096)
    elsewhere = book.node(replace(aws, region="eu-west-1"))
    assert elsewhere.hourly == 0.096 and "no eu-west-1 price shipped" in elsewhere.reason
    assert book.node(replace(aws, instance_type="m5.xlarge")).hourly == 0.15  # the settings win
    spot = book.node(replace(aws, capacity_type="spot"))  # no AWS spot list prices are shipped
    assert spot.hourly is None and spot.rates.cpu_core_hour == 0.006655 and "OpenCost's spot unit prices" in spot.reason
    gke = Node("g", instance_type="e2-standard-4", region="us-central1", capacity_type="spot", cpu_capacity=4)
    gke_spot = book.node(replace(gke, memory_capacity=16 * GIB, provider_id="gce://p/us-central1-a/n"))
    assert gke_spot.hourly == 0.080424 and "us-east1 spot" in gke_spot.reason
    assert "no us-central1 price shipped" in gke_spot.reason
    unknown = book.node(replace(aws, instance_type="x9.huge"))
    assert unknown.rates == Prices() and "x9.huge not in the price table" in unknown.reason
    azure = book.node(
        Node("z", instance_type="Standard_D4s_v5", region="eastus2", cpu_capacity=4, memory_capacity=16 * GIB)
    )
    assert azure.hourly == 0.192 and azure.reason.startswith("azure eastus2 on-demand 2023-12-18")


def test_cost_groupings_and_imported_data(upid, tmp_path: Path) -> None:
    rows = [f"{1_767_225_600 + i * 300},shop,web,web-1,app,0.1,{100 * MIB},0.5,{512 * MIB}" for i in range(288)]
    _import(upid, tmp_path, rows)
    doc = upid("cost", "--by", "workload", "--window", "1d", "--period", "window", "-o", "json").json()
    [group] = doc["groups"]
    hours = 288 * 300 / 3600  # each sample stands for its 5 minutes
    assert group["group"] == "shop/Deployment/web" and doc["period"] == "window" and doc["covered_hours"] == hours
    assert group["cost"] == pytest.approx((0.5 * CPU + 0.5 * MEM) * hours, abs=0.01)
    month = upid("cost", "--by", "workload", "--window", "1d", "-o", "json").json()  # the default: a month
    assert month["period"] == "month" and month["groups"][0]["cost"] == round((0.5 * CPU + 0.5 * MEM) * 730, 2)
    assert group["efficiency"] == pytest.approx((0.1 * CPU + 100 * MIB / GIB * MEM) / (0.5 * CPU + 0.5 * MEM), abs=1e-3)
    assert doc["summary"]["node_cost"] is None and doc["summary"]["idle_cost"] is None  # no nodes were imported
    assert upid("cost", "--by", "label=team", "-o", "json").json()["groups"][0]["group"] == "team=(none)"
    bad = upid("cost", "--by", "colour")
    assert bad.code == ExitCode.USAGE and "allowed: namespace, workload, node, label=KEY" in bad.err


def test_analyze_bills_workloads_at_their_nodes_rates(upid, kube, monkeypatch) -> None:
    from kube.model import STEP

    for _ in range(3):
        assert upid("storage", "collect", "--kubeconfig", kube.kubeconfig).code == 0
        kube.cluster.advance(STEP)
    costs = []
    for scale in (1, 2):
        monkeypatch.setenv("UPID_INSTANCE_PRICES", f"e2-standard-4={0.2 * scale},n2-standard-8={0.4 * scale}")
        doc = upid("analyze", "-A", "-o", "json").json()
        costs.append([r["monthly_cost"]["current"] for r in doc["recommendations"]])
    assert costs[0] and all(c > 0 for c in costs[0])
    assert costs[1] == pytest.approx([2 * c for c in costs[0]], abs=0.02)  # node prices reach every row
