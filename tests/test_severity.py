"""`severity`: risk of the current settings first, then the money; `unknown` without a recommendation; KRR's
kept as `krr_severity`. On the bundled real sample the levels are spread, so `--fail-on` is a usable gate."""

from __future__ import annotations

import numpy as np
import pytest
from test_rightsizing import history

from upid.analysis.severity import SeverityRule, krr_severity, severity
from upid.analysis.strategies import Recommendation
from upid.analysis.usage import ContainerUsage
from upid.errors import ExitCode

GIB = 1024**3
RULE = SeverityRule(warning_savings=50, critical_savings=200)
SIZED = Recommendation(cpu_request=0.2, cpu_limit=None, memory_request=GIB, memory_limit=GIB, confidence=1.0)


def usage_of(h, **current) -> ContainerUsage:
    cur = {**h.current, **current}
    return ContainerUsage(
        namespace="ns", workload_kind="Deployment", workload="web", container="app", pods=1, samples=h.samples,
        first=int(h.ts[0]), last=int(h.ts[-1]), cpu_p50=float(np.percentile(h.cpu, 50)),
        cpu_p95=float(np.percentile(h.cpu, 95)), cpu_max=float(h.cpu.max()),
        memory_p95=float(np.percentile(h.memory, 95)), memory_max=float(h.memory.max()), **cur,
    )  # fmt: skip


@pytest.mark.parametrize(
    "savings, level",
    [(-3.0, "good"), (9.99, "good"), (10.0, "ok"), (49.99, "ok"), (50.0, "warning"), (200.0, "critical")],
)
def test_money_sets_the_level_when_the_current_settings_are_safe(savings: float, level: str) -> None:
    h = history(np.full(400, 0.1), np.full(400, 0.5 * GIB))
    got, why = severity(h, usage_of(h), SIZED, savings, RULE)
    assert got == level and f"{savings:,.2f}" in why


@pytest.mark.parametrize(
    "cpu, memory, kw, level, words",
    [
        (0.1, 2.0, {}, "critical", "memory reached its limit"),
        (0.1, 0.5, {"oom_kills": (1_767_230_000,)}, "critical", "1 OOM kill(s)"),
        (1.5, 0.5, {}, "critical", "33% of CPU demand above the request"),
        (1.08, 0.5, {}, "warning", "7% of CPU demand above the request"),
    ],
)
def test_risk_of_the_current_settings_outranks_savings(cpu, memory, kw, level, words) -> None:
    h = history(np.full(400, cpu), np.full(400, memory * GIB), **kw)
    got, why = severity(h, usage_of(h), SIZED, 500.0 if level == "warning" else 0.0, RULE)
    if level == "warning":  # 500 a month saved is critical money: the worse of the two wins
        assert got == "critical" and "saves" in why
        got, why = severity(h, usage_of(h), SIZED, 0.0, RULE)
    assert (got, words in why) == (level, True), why


def test_memory_p95_above_the_request_and_no_request_are_warnings() -> None:
    h = history(np.full(400, 0.1), np.full(400, 1.5 * GIB))
    assert severity(h, usage_of(h, memory_request=GIB), SIZED, 0.0, RULE) == ("warning", "memory p95 above the request")
    h = history(np.full(400, 0.1), np.full(400, 0.5 * GIB))
    assert severity(h, usage_of(h, cpu_request=None), SIZED, 0.0, RULE) == ("warning", "no CPU request")


def test_too_little_history_is_unknown_not_good() -> None:
    h = history(np.full(3, 0.1), np.full(3, 0.5 * GIB))
    nothing = Recommendation(None, None, None, None, 0.0, reason="not enough data: 3 samples")
    assert severity(h, usage_of(h), nothing, 0.0, RULE) == ("unknown", "not enough data: 3 samples")
    assert krr_severity(usage_of(h), nothing) == "good"  # KRR's word for the same container


def test_on_the_real_sample_severity_is_spread_and_krr_is_kept(upid) -> None:
    from upid.workflows.demo import sample_path

    assert upid("storage", "import", sample_path(), "--cluster", "demo").code == 0
    doc = upid("analyze", "-o", "json").json()
    levels, krr = doc["summary"]["severity"], doc["summary"]["krr_severity"]
    assert krr["critical"] >= 45  # KRR's absolute steps on VM-sized workloads: nearly all critical
    assert max(levels.values()) <= 0.7 * len(doc["recommendations"])  # no level holds most containers
    assert sum(1 for v in levels.values() if v) >= 3
    for r in doc["recommendations"]:
        assert r["severity_reason"]
        if r["monthly_savings"] < 0:
            assert r["severity"] != "good"  # it needs more than it has: never called fine
    critical = levels["critical"]
    r = upid("analyze", "--fail-on", "critical", "-o", "json")
    assert r.code == (ExitCode.SEVERITY_GATE if critical else 0)
    assert f"{critical} container(s) at severity critical" in r.err or not critical


def test_the_money_thresholds_are_settings(upid, monkeypatch: pytest.MonkeyPatch) -> None:
    from upid.workflows.demo import sample_path

    assert upid("storage", "import", sample_path(), "--cluster", "demo").code == 0
    monkeypatch.setenv("UPID_SEVERITY_WARNING_SAVINGS", "1000")
    monkeypatch.setenv("UPID_SEVERITY_CRITICAL_SAVINGS", "5000")
    doc = upid("analyze", "-o", "json").json()
    assert all(r["severity"] != "critical" or "saves" not in r["severity_reason"] for r in doc["recommendations"])
    monkeypatch.setenv("UPID_SEVERITY_CRITICAL_SAVINGS", "10")
    r = upid("analyze")
    assert r.code == ExitCode.USAGE and "severity_critical_savings" in r.err
