"""Forecasts: trained on the history at run time, backtested against seasonal naive, replaced by it where it wins."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from upid.analysis.capacity import capacity
from upid.analysis.forecast import DAY, Series, forecast
from upid.analysis.history import ContainerHistory
from upid.analysis.window import Node
from upid.errors import ExitCode

H0 = 1_767_225_600 // 3600  # epoch hours of 2026-01-01T00:00Z


def daily(days: int, noise: float, seed: int, level: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hours = np.arange(days * DAY)
    shape = level * (1 + 0.6 * np.sin(2 * np.pi * hours / DAY))
    return np.clip(shape + rng.normal(0, noise * level, len(hours)), 0, None)


def test_noisy_daily_series_beat_seasonal_naive_and_forecasts_are_deterministic() -> None:
    series = [Series(("ns", "Deployment", f"w{i}", "c"), "cpu", H0, daily(21, 0.3, i, 1 + i / 10)) for i in range(12)]
    first, again = forecast(series, 48), forecast(series, 48)
    assert [f.p50.tolist() for f in first] == [f.p50.tolist() for f in again]  # random_state fixed
    for f in first:
        assert f.model == "gbm-quantile" and len(f.p50) == 48 and (f.p90 >= f.p50).all()
        assert f.first_hour == H0 + 21 * DAY
        assert f.mase is not None and f.p90_coverage is not None
    # On noise around a daily shape, yesterday's noisy hour is a worse guess than a learned profile.
    assert np.median([f.mase for f in first]) < 0.9
    assert np.mean([f.p90_coverage for f in first]) >= 0.75


def test_where_seasonal_naive_wins_the_backtest_it_is_used_and_said() -> None:
    exact = np.tile(np.r_[np.zeros(12), np.full(12, 2.0)], 21)  # repeats exactly: yesterday is a perfect guess
    series = [Series(("ns", "Deployment", "cron", "c"), "cpu", H0, exact)]
    [f] = forecast(series, 24)
    assert f.model == "seasonal-naive-day"
    assert f.p50.tolist() == exact[-24:].tolist()
    assert f.mase == 1.0 and f.model_mase is not None and f.model_mase >= 1.0
    assert "repeats itself exactly" in (f.note or "")
    [kept] = forecast(series, 24, fallback=False)
    assert kept.model == "gbm-quantile"


def test_a_model_that_lost_its_backtest_by_more_than_the_setting_falls_back() -> None:
    from upid.analysis.forecast import ModelSettings

    rng = np.random.default_rng(3)
    shape = np.tile(np.r_[np.zeros(12), np.full(12, 2.0)], 21)
    series = [Series(("ns", "Deployment", "cron", "c"), "cpu", H0, shape + rng.normal(0, 0.01, len(shape)))]
    [model] = forecast(series, 24)  # default: no fallback on a lost backtest
    assert model.model == "gbm-quantile" and model.model_mase is not None and model.model_mase > 1.0
    [naive] = forecast(series, 24, settings=ModelSettings(fallback_above=1.0))
    assert naive.model == "seasonal-naive-day" and "did not beat seasonal naive" in (naive.note or "")


def test_short_history_is_seasonal_naive_and_not_backtested() -> None:
    series = [Series(("ns", "Deployment", "new", "c"), "memory", H0, daily(5, 0.1, 1, 1e9))]
    [f] = forecast(series, 24)
    assert f.model == "seasonal-naive-day" and f.mase is None and "not backtested" in (f.note or "")
    assert f.p50.tolist() == series[0].values[-24:].tolist()


def test_capacity_days_until_full_from_a_linear_trend() -> None:
    days, step = 10, 3600
    ts = 1_767_225_600 + np.arange(days * 24) * step
    usage = 2.0 + 0.5 * (ts - ts[0]) / 86400  # +0.5 core a day
    h = ContainerHistory(
        key=("ns", "Deployment", "web", "c"),
        ts=ts,
        cpu=usage,
        memory=np.full(len(ts), 1e9),
        pod=np.zeros(len(ts), dtype=int),
        current={"cpu_request": 4.0, "memory_request": 2e9},
    )
    nodes = [Node("a", cpu_capacity=8, memory_capacity=16e9), Node("b", cpu_capacity=4, memory_capacity=16e9)]
    trends = {(t.scope, t.resource): t for t in capacity([h], nodes, int(ts[0]), int(ts[-1]) + step)}
    cpu = trends["cluster", "cpu"]
    assert cpu.usage_per_day == pytest.approx(0.5, abs=1e-6) and cpu.allocatable == 12
    # daily means: day d averages 2 + 0.5 (d + 23/48); the fitted line at the last day, then 12 cores
    last = 2 + 0.5 * (days - 1 + 23 / 48)
    assert cpu.usage == pytest.approx(last, abs=1e-6)
    assert cpu.days_until_usage_full == pytest.approx(round((12 - last) / 0.5, 1))
    assert cpu.requests == pytest.approx(4.0) and cpu.days_until_requests_full is None  # flat requests never cross
    assert trends["namespace", "cpu"].allocatable is None and trends["namespace", "cpu"].days_until_usage_full is None


def _import(upid, tmp_path: Path, days: int) -> None:
    rng = np.random.default_rng(7)
    lines = ["timestamp,namespace,workload,pod,container,cpu_cores,memory_bytes,cpu_request_cores"]
    for i in range(days * 24 * 4):  # every 15 minutes
        ts = 1_767_225_600 + i * 900
        for w in range(3):
            cpu = max(0.0, 0.5 + 0.3 * np.sin(2 * np.pi * i / 96) + rng.normal(0, 0.1))
            lines.append(f"{ts},shop,web{w},web{w}-1,app,{cpu:.4f},{int(2e8 + w * 1e7 + i * 1000)},1")
    path = tmp_path / "u.csv"
    path.write_text("\n".join(lines) + "\n")
    assert upid("storage", "import", path).code == 0


def test_forecast_cli_json_and_table(upid, tmp_path: Path) -> None:
    _import(upid, tmp_path, 12)
    r = upid("forecast", "-A", "--horizon", "2d", "-o", "json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["horizon_hours"] == 48 and len(doc["forecasts"]) == 6  # 3 containers x cpu, memory
    for f in doc["forecasts"]:
        assert set(f) >= {"cluster", "namespace", "workload", "container", "resource", "points", "backtest", "model"}
        assert len(f["points"]) == 48 and set(f["points"][0]) == {"timestamp", "p50", "p90"}
        assert set(f["backtest"]) >= {"mase", "p90_coverage"} and f["backtest"]["mase"] is not None
        assert f["model"] in ("gbm-quantile", "seasonal-naive-day", "seasonal-naive-week")
        if f["resource"] == "memory":
            assert all(isinstance(p["p50"], int) for p in f["points"])
    assert doc["forecasts"][0]["points"][0]["timestamp"] == "2026-01-13T00:00:00Z"  # the hour after the history
    [cluster_cpu] = [c for c in doc["capacity"] if c["scope"] == "cluster" and c["resource"] == "cpu"]
    assert cluster_cpu["requests"] == pytest.approx(3.0) and cluster_cpu["allocatable"] is None  # imported: no nodes
    table = upid("forecast", "-A", "--horizon", "1d")
    assert table.code == 0 and "MASE" in table.out and "beat seasonal naive in their backtest" in table.out
    bad = upid("forecast", "--horizon", "9d")
    assert bad.code == ExitCode.USAGE and "--horizon" in bad.err


def test_the_series_is_the_total_over_the_pods_per_hour() -> None:
    from upid.analysis.forecast import hourly

    ts = np.repeat(1_767_225_600 + np.arange(24) * 300, 2)  # two pods, 2 hours of 5-minute samples
    h = ContainerHistory(
        key=("ns", "Deployment", "web", "c"),
        ts=ts,
        cpu=np.tile([1.0, 0.5], 24),
        memory=np.tile([1e9, 3e9], 24),
        pod=np.tile([0, 1], 24),
        current={},
    )
    s = hourly(h, "memory", int(ts[-1]))
    assert s.first_hour == H0 and s.values.tolist() == [4e9, 4e9]
    assert hourly(h, "cpu", int(ts[-1]) + 3600).values.tolist() == [1.5, 1.5, 1.5]  # a missing hour is filled


def test_forecast_on_a_collected_cluster(upid, kube) -> None:
    from kube.model import STEP

    for _ in range(3):
        assert upid("storage", "collect", "--kubeconfig", kube.kubeconfig).code == 0
        kube.cluster.advance(STEP)
    r = upid("forecast", "-A", "-o", "json")
    assert r.code == 0, r.err
    doc = r.json()
    # minutes of history: too little to repeat a day, so no forecast and no trend, and nothing invented
    assert doc["forecasts"] == [] and doc["capacity"] == []
    assert "No containers to forecast." in upid("forecast", "-A").err  # notices go to stderr


def test_capacity_counts_the_nodes_the_cluster_has_now_at_their_allocatable() -> None:
    """A node replaced during the window is not capacity any more; allocatable, not raw capacity, is what the
    scheduler hands out."""
    days, step = 10, 3600
    ts = 1_767_225_600 + np.arange(days * 24) * step
    h = ContainerHistory(
        key=("ns", "Deployment", "web", "c"), ts=ts, cpu=2.0 + 0.5 * (ts - ts[0]) / 86400,
        memory=np.full(len(ts), 1e9), pod=np.zeros(len(ts), dtype=int), current={"cpu_request": 4.0},
    )  # fmt: skip
    end = int(ts[-1])
    node = Node("", cpu_capacity=8, cpu_allocatable=7.5, memory_capacity=16e9, memory_allocatable=15e9)
    nodes = [
        replace(node, name="old", first_seen=int(ts[0]), last_seen=int(ts[0]) + 2 * 86400),  # replaced
        replace(node, name="new", first_seen=int(ts[0]) + 2 * 86400, last_seen=end),
        replace(node, name="other", first_seen=int(ts[0]), last_seen=end - 300),
    ]
    trends = {(t.scope, t.resource): t for t in capacity([h], nodes, int(ts[0]), end + step)}
    assert trends["cluster", "cpu"].allocatable == 15.0  # two nodes now, at 7.5 allocatable each
    assert trends["cluster", "memory"].allocatable == 30e9


def test_capacity_of_a_collected_cluster_is_its_nodes_allocatable(upid, kube, tmp_path: Path) -> None:
    """Through the store: the nodes' allocatable as collected (capacity minus what the kubelet reserves)."""
    from kube.history import write_history

    from upid.units import parse_quantity

    collected = upid("storage", "collect", "--kubeconfig", kube.kubeconfig, "-o", "json").json()
    cluster = collected["collections"][0]["cluster"]
    history = write_history(kube.cluster, tmp_path / "history.parquet", days=4)
    assert upid("storage", "import", history, "--cluster", cluster).code == 0
    doc = upid("forecast", "-A", "--history", "4d", "--horizon", "1h", "-o", "json").json()
    [cpu] = [c for c in doc["capacity"] if c["scope"] == "cluster" and c["resource"] == "cpu"]
    from kube import objects

    nodes = [objects.node(kube.cluster, n)["status"] for n in kube.cluster.node_names]
    assert cpu["allocatable"] == pytest.approx(sum(parse_quantity(n["allocatable"]["cpu"]) for n in nodes))
    assert cpu["allocatable"] < sum(parse_quantity(n["capacity"]["cpu"]) for n in nodes)
