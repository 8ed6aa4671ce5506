"""Strategies and their backtest, checked against values computed here from the same arrays."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import synth

from upid.analysis.backtest import backtest
from upid.analysis.history import ContainerHistory
from upid.analysis.strategies import STRATEGIES
from upid.analysis.strategies.krr import KrrSimple
from upid.analysis.strategies.upid import Upid
from upid.analysis.strategies.vpa import CPU_HISTOGRAM, Vpa
from upid.errors import ExitCode

MIB = 1024**2
STEP = 300


def history(cpu, memory, pods=None, **kw) -> ContainerHistory:
    cpu, memory = np.asarray(cpu, float), np.asarray(memory, float)
    n = len(cpu)
    pod = np.zeros(n, int) if pods is None else np.asarray(pods)
    current = {"cpu_request": 1.0, "cpu_limit": None, "memory_request": 2.0 * 1024**3, "memory_limit": 2.0 * 1024**3}
    return ContainerHistory(
        key=("ns", "Deployment", "web", "app"),
        ts=1_767_225_600 + np.arange(n) * STEP,
        cpu=cpu,
        memory=memory,
        pod=pod,
        current=kw.pop("current", current),
        **kw,
    )


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_krr_simple_reproduces_krr(rng) -> None:
    cpu, mem = rng.gamma(2, 0.1, 2000), rng.normal(800 * MIB, 50 * MIB, 2000)
    pods = np.repeat([0, 1], 1000)
    rec = KrrSimple().recommend(history(cpu, mem, pods))
    p95 = max(np.percentile(cpu[pods == p], 95) for p in (0, 1))
    assert rec.cpu_request == math.ceil(p95 * 1000) / 1000 and rec.cpu_limit is None
    assert rec.memory_request == rec.memory_limit == math.ceil(mem.max() * 1.15 / MIB) * MIB


def test_krr_floors() -> None:
    rec = KrrSimple().recommend(history(np.full(200, 0.001), np.full(200, 5 * MIB)))
    assert rec.cpu_request == 0.010 and rec.memory_limit == 100 * MIB


@pytest.mark.parametrize("name", ["upid", "krr-simple"])  # the VPA answers from its first sample
def test_not_enough_data_is_a_reason_not_a_guess(name: str) -> None:
    rec = STRATEGIES[name]().recommend(history(np.full(50, 0.2), np.full(50, 300 * MIB)))
    assert rec.cpu_request is None and rec.memory_limit is None
    assert rec.reason.startswith("not enough data: 50 samples")


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_the_resource_an_hpa_scales_on_is_left_alone(name: str, rng) -> None:
    h = history(rng.gamma(2, 0.1, 500), np.full(500, 300 * MIB), hpa_resources=frozenset({"cpu"}))
    rec = STRATEGIES[name]().recommend(h)
    assert rec.cpu_request is None and rec.memory_limit is not None
    assert "HPA scales this workload on cpu" in rec.reason


def test_vpa_target_is_the_end_of_the_p90_bucket_times_1_15() -> None:
    usage = 0.3
    rec = Vpa().estimates(history(np.full(600, usage), np.full(600, 400 * MIB)))
    bucket = int(np.floor(np.log(usage * 0.05 / 0.01 + 1) / np.log(1.05)))
    assert rec["cpu_target"] == pytest.approx(CPU_HISTOGRAM.start(bucket + 1) * 1.15)
    assert rec["cpu_lower"] < rec["cpu_target"] < rec["cpu_upper"]
    assert rec["confidence"] == pytest.approx(600 / 1440)


def test_vpa_pod_floor_is_split_across_containers() -> None:
    rec = Vpa().recommend(history(np.full(300, 0.001), np.full(300, 1 * MIB), containers_in_pod=2))
    assert rec.cpu_request == 0.013  # 25m / 2, rounded up to a millicore
    assert rec.memory_limit == math.ceil(125e6 / MIB) * MIB


@pytest.mark.parametrize(
    "peak, expected",
    [
        (200 * MIB, 400 * MIB),  # small: +100 % of the peak
        (2048 * MIB, 3072 * MIB),  # +1 GiB
        (16384 * MIB, 17408 * MIB),  # large: +1 GiB, a sixteenth
    ],
)
def test_upid_memory_headroom(peak: float, expected: float) -> None:
    roomy = {"cpu_request": 1.0, "cpu_limit": None, "memory_request": 64.0 * 1024**3, "memory_limit": 64.0 * 1024**3}
    rec = Upid().recommend(history(np.full(400, 0.1), np.full(400, peak), current=roomy))
    assert rec.memory_limit == expected


@pytest.mark.parametrize(
    "peak, limit, min_change, expected",
    [
        (1900 * MIB, 2048 * MIB, 0.0, 2048 * MIB),  # peak + headroom is above the limit never hit: keep it
        (600 * MIB, 2048 * MIB, 0.0, 1200 * MIB),  # +100 %, under the limit
        (900 * MIB, 2048 * MIB, 0.2, 2048 * MIB),  # a cut of less than 20 % of the limit is not worth its risk
        (600 * MIB, None, 0.2, 1200 * MIB),  # no limit: nothing to keep
    ],
)
def test_upid_never_raises_a_memory_limit_that_was_enough(peak, limit, min_change, expected) -> None:
    current = {"cpu_request": 1.0, "cpu_limit": None, "memory_request": limit, "memory_limit": limit}
    rec = Upid(min_change=min_change).recommend(history(np.full(400, 0.1), np.full(400, peak), current=current))
    assert rec.memory_limit == expected


def test_upid_after_an_oom_kill_gives_at_least_125_percent_of_the_limit_hit() -> None:
    h = history(np.full(400, 0.1), np.full(400, 300 * MIB), oom_kills=(1_767_230_000,))
    assert Upid().recommend(h).memory_limit == math.ceil(1.25 * 2 * 1024**3 / MIB) * MIB


def test_upid_projects_a_clear_memory_growth() -> None:
    days = 10
    n = days * 288
    memory = 1024 * MIB + np.arange(n) * (100 * MIB / 288)  # +100 MiB a day
    roomy = {"cpu_request": 1.0, "cpu_limit": None, "memory_request": 64.0 * 1024**3, "memory_limit": 64.0 * 1024**3}
    rec = Upid().recommend(history(np.full(n, 0.1), memory, current=roomy))
    peak = memory.max()
    assert rec.memory_limit > peak + 1024 * MIB + 5 * 100 * MIB  # a week of growth on top of the headroom


def test_backtest_counts_what_the_replay_would_have_hit() -> None:
    n = 900
    cpu = np.full(n, 0.2)
    cpu[600:] = 0.4  # the last third needs twice the CPU
    memory = np.full(n, 500 * MIB)
    for start in (700, 800):  # two excursions above any limit fitted on the first two thirds
        memory[start : start + 3] = 4 * 1024**3
    risk = backtest(KrrSimple(), history(cpu, memory))
    fitted = math.ceil(0.2 * 1000) / 1000
    assert risk is not None and risk.cpu_shortfall == pytest.approx((0.4 - fitted) / 0.4, abs=1e-3)
    assert risk.cpu_samples_above == 1.0
    assert risk.oom is True and risk.oom_count == 2
    calm = backtest(KrrSimple(), history(np.full(n, 0.2), np.full(n, 500 * MIB)))
    assert calm is not None and calm.cpu_shortfall == 0 and calm.oom_count == 0


def test_analyze_strategies_through_the_cli(upid, tmp_path: Path) -> None:
    assert upid("storage", "import", synth.make(samples=400).write_csv(tmp_path / "u.csv")).code == 0
    docs = {}
    for name in ("upid", "krr-simple", "vpa"):
        r = upid("analyze", "--strategy", name, "-o", "json")
        assert r.code == 0, r.err
        docs[name] = r.json()
        assert docs[name]["strategy"] == name
        for rec in docs[name]["recommendations"]:
            assert rec["severity"] in ("good", "ok", "warning", "critical")
            assert set(rec["recommended"]) == {"cpu_request", "cpu_limit", "memory_request", "memory_limit"}
            assert {"cpu_shortfall", "oom", "oom_count", "fit_until"} <= set(rec["risk"])
        assert docs[name]["summary"]["grade"] in ("A", "B", "C", "D", "F")
    krr = docs["krr-simple"]["recommendations"][0]
    assert krr["recommended"]["memory_limit"] == math.ceil(krr["usage"]["memory_max"] * 1.15 / MIB) * MIB
    bad = upid("analyze", "--strategy", "magic")
    assert bad.code == ExitCode.USAGE and "allowed: upid, krr-simple, vpa" in bad.err


@pytest.mark.parametrize("policy", ["none", "p99", "2x"])
def test_cpu_limit_policy(policy: str, rng) -> None:
    from upid.analysis.limits import apply_cpu_limit

    cpu = rng.gamma(2, 0.1, 1000)
    h = history(cpu, np.full(1000, 300 * MIB))
    rec = apply_cpu_limit(KrrSimple().recommend(h), h, policy)
    expected = {
        "none": None,
        "p99": math.ceil(np.percentile(cpu, 99) * 1000) / 1000,
        "2x": round(rec.cpu_request * 2, 3),
    }[policy]
    assert rec.cpu_limit == expected
    assert rec.cpu_limit is None or rec.cpu_limit >= rec.cpu_request


def test_cpu_limit_flag_env_and_errors(upid, tmp_path: Path, monkeypatch) -> None:
    assert upid("storage", "import", synth.make(samples=200).write_csv(tmp_path / "u.csv")).code == 0
    limits = {r["recommended"]["cpu_limit"] for r in upid("analyze", "-o", "json").json()["recommendations"]}
    assert limits == {None}
    monkeypatch.setenv("UPID_CPU_LIMIT", "2x")
    recs = upid("analyze", "-o", "json").json()["recommendations"]
    assert all(r["recommended"]["cpu_limit"] == round(2 * r["recommended"]["cpu_request"], 3) for r in recs)
    recs = upid("analyze", "--cpu-limit", "p99", "-o", "json").json()["recommendations"]
    assert all(r["recommended"]["cpu_limit"] >= r["recommended"]["cpu_request"] for r in recs)
    bad = upid("analyze", "--cpu-limit", "lots")
    assert bad.code == ExitCode.USAGE and "invalid CPU limit policy 'lots'" in bad.err
