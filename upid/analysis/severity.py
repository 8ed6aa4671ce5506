"""How much a container's requests matter: `severity`, a level a CI gate can use, and `krr_severity`, KRR's.

KRR grades the absolute difference between the current and the recommended request (0.1/0.25/0.5 cores,
100/250/500 MiB), so on VM-sized workloads nearly everything is `critical`, even a change that costs money.
upid's `severity` grades what a FinOps engineer acts on (docs/rightsizing.md "Severity"):

- `unknown`: too little history for a recommendation (never `good`: nobody knows);
- risk, from the container's own history against its **current** settings, comes first, because a request
  that is too low hurts more than one that is too high: memory at or above the limit, or an OOM kill, is
  `critical`; CPU demand above the request (the share of CPU time the request did not cover) of 25 % or more
  is `critical`, of 5 % or more `warning`; memory or CPU p95 above the request is `warning`; no request at
  all is `warning`;
- money, the monthly savings of the recommendation: `critical` from `critical_savings`, `warning` from
  `warning_savings`, `ok` from a fifth of that, else `good`.

The level is the worse of the two, with the reason that set it.
"""

from __future__ import annotations

from dataclasses import dataclass

from upid.analysis.history import ContainerHistory
from upid.analysis.strategies import Recommendation
from upid.analysis.usage import ContainerUsage

SEVERITIES = ("unknown", "good", "ok", "warning", "critical")  # in order: a gate at X fails X and worse
KRR_SEVERITIES = ("good", "ok", "warning", "critical")
MIB = 1024**2
KRR_CPU_STEPS = ((0.5, "critical"), (0.25, "warning"), (0.1, "ok"))  # cores of difference
KRR_MEMORY_STEPS = ((500 * MIB, "critical"), (250 * MIB, "warning"), (100 * MIB, "ok"))


@dataclass(frozen=True)
class SeverityRule:
    warning_savings: float = 50.0  # a month, in the report's currency
    critical_savings: float = 200.0
    cpu_shortfall_warning: float = 0.05  # share of CPU demand above the current request
    cpu_shortfall_critical: float = 0.25

    @property
    def ok_savings(self) -> float:
        return self.warning_savings / 5


def _krr_step(current: float | None, recommended: float | None, steps: tuple[tuple[float, str], ...]) -> str:
    if recommended is None:
        return "good"
    if current is None:
        return "warning"  # nothing requested: the scheduler is guessing
    diff = abs(current - recommended)
    return next((name for threshold, name in steps if diff >= threshold), "good")


def krr_severity(usage: ContainerUsage, rec: Recommendation) -> str:
    """KRR's: the worse of the CPU and memory request differences, by absolute steps."""
    cpu = _krr_step(usage.cpu_request, rec.cpu_request, KRR_CPU_STEPS)
    memory = _krr_step(usage.memory_request, rec.memory_request, KRR_MEMORY_STEPS)
    return max(cpu, memory, key=KRR_SEVERITIES.index)


def current_cpu_shortfall(h: ContainerHistory) -> float | None:
    """The share of CPU demand above the current request over the window (None without a request or demand)."""
    request = h.current.get("cpu_request")
    demand = float(h.cpu.sum()) if h.samples else 0.0
    if request is None or demand <= 0:
        return None
    return h.cpu_above(request)[0]


def _risk(h: ContainerHistory, usage: ContainerUsage, rule: SeverityRule) -> tuple[str, str] | None:
    if h.oom_kills:
        return "critical", f"{len(h.oom_kills)} OOM kill(s) in the window"
    if usage.memory_limit is not None and usage.memory_max >= usage.memory_limit:
        return "critical", "memory reached its limit"
    shortfall = current_cpu_shortfall(h)
    if shortfall is not None and shortfall >= rule.cpu_shortfall_critical:
        return "critical", f"{shortfall:.0%} of CPU demand above the request"
    if usage.memory_request is not None and usage.memory_p95 > usage.memory_request:
        return "warning", "memory p95 above the request"
    if shortfall is not None and shortfall >= rule.cpu_shortfall_warning:
        return "warning", f"{shortfall:.0%} of CPU demand above the request"
    if usage.cpu_request is not None and usage.cpu_p95 > usage.cpu_request:
        return "warning", "CPU p95 above the request"
    if usage.cpu_request is None or usage.memory_request is None:
        return "warning", "no " + ("CPU" if usage.cpu_request is None else "memory") + " request"
    return None


def _money(savings: float, rule: SeverityRule) -> tuple[str, str]:
    for level, floor in (
        ("critical", rule.critical_savings),
        ("warning", rule.warning_savings),
        ("ok", rule.ok_savings),
    ):
        if savings >= floor:
            return level, f"saves {savings:,.2f} a month (at least {floor:,.2f})"
    return "good", f"saves {savings:,.2f} a month (under {rule.ok_savings:,.2f})"


def severity(
    h: ContainerHistory, usage: ContainerUsage, rec: Recommendation, monthly_savings: float, rule: SeverityRule
) -> tuple[str, str]:
    """(level, the reason that set it)."""
    if rec.cpu_request is None and rec.memory_request is None:
        return "unknown", rec.reason or "too little history for a recommendation"
    risk = _risk(h, usage, rule)
    money = _money(monthly_savings, rule)
    if risk and SEVERITIES.index(risk[0]) >= SEVERITIES.index(money[0]):
        return risk
    return money
