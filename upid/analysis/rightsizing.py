"""Right-sizing a cluster: a strategy's recommendation for every workload container, its backtested risk,
its severity (upid's, and KRR's), and the cluster's score and grade (KRR's)."""

from __future__ import annotations

from dataclasses import dataclass

from upid.analysis.backtest import Backtest, backtest
from upid.analysis.cost import Prices, Pricing, as_pricing, covered_hours, monthly_cost
from upid.analysis.frame import UsageFrame
from upid.analysis.history import ContainerHistory, histories
from upid.analysis.limits import apply_cpu_limit
from upid.analysis.severity import SEVERITIES, SeverityRule, krr_severity, severity
from upid.analysis.strategies import STRATEGIES, Recommendation
from upid.analysis.usage import ContainerUsage, rolled_up, summarize
from upid.analysis.window import ClusterWindow

__all__ = ["SEVERITIES", "RightsizingReport", "Row", "rightsize", "score"]
SCORE_COST = {"warning": 0.7, "critical": 1.0}
GRADES = ((90, "A"), (70, "B"), (55, "C"), (30, "D"))


@dataclass(frozen=True)
class Row:
    usage: ContainerUsage
    recommendation: Recommendation
    risk: Backtest | None
    severity: str  # upid's (upid/analysis/severity.py): money and risk
    monthly_cost: dict[str, float] | None = None  # current, recommended
    krr_severity: str = "good"  # KRR's, by absolute request differences, for comparing with KRR
    severity_reason: str = ""

    @property
    def monthly_savings(self) -> float:
        return round(self.monthly_cost["current"] - self.monthly_cost["recommended"], 2) if self.monthly_cost else 0.0


@dataclass(frozen=True)
class RightsizingReport:
    cluster: str
    start: int
    end: int
    strategy: str
    rows: list[Row]
    score: float | None
    grade: str | None
    currency: str = "USD"
    pricing: Pricing | None = None  # the rates the monthly figures were computed at
    covered_hours: float = 0.0  # of the data: every monthly figure is window cost / covered hours x 730

    @property
    def samples(self) -> int:
        return sum(r.usage.samples for r in self.rows)


def score(rows: list[Row]) -> tuple[float | None, str | None]:
    """KRR's cluster score, on KRR's severity: (N - sum of costs) / N x 100, warning 0.7, critical 1; grade A..F."""
    sized = [r for r in rows if r.recommendation.cpu_request is not None or r.recommendation.memory_request is not None]
    if not sized:
        return None, None
    value = (len(sized) - sum(SCORE_COST.get(r.krr_severity, 0.0) for r in sized)) / len(sized) * 100
    return round(value, 1), next((g for floor, g in GRADES if value >= floor), "F")


def _money(
    h: ContainerHistory, usage: ContainerUsage, rec: Recommendation, pricing: Pricing, hours: float
) -> dict[str, float]:
    """Monthly cost now and as recommended, over the report's covered hours (upid/analysis/cost.py)."""
    current = monthly_cost(h, usage.cpu_request, usage.memory_request, pricing, hours)
    cpu = rec.cpu_request if rec.cpu_request is not None else usage.cpu_request
    memory = rec.memory_request if rec.memory_request is not None else usage.memory_request
    return {"current": current, "recommended": monthly_cost(h, cpu, memory, pricing, hours)}


def rightsize(
    frame: UsageFrame,
    strategy_name: str,
    cpu_limit: str = "none",
    prices: Prices | Pricing | None = None,
    containers: list[ContainerHistory] | None = None,
    rule: SeverityRule | None = None,
) -> RightsizingReport:
    """`containers`: the frame's histories when the caller already built them (for idle detection too).
    `prices`: unit prices, or Pricing with the rates of the collected nodes (each pod billed at its node's)."""
    strategy = STRATEGIES[strategy_name]()
    pricing = as_pricing(prices)
    rule = rule or SeverityRule()
    containers = containers or histories(ClusterWindow(frame))
    hours = covered_hours(containers)
    rows = []
    for summary, h in zip(summarize(frame).containers, containers, strict=True):
        usage = rolled_up(summary, h)
        rec = apply_cpu_limit(strategy.recommend(h), h, cpu_limit)
        money = _money(h, usage, rec, pricing, hours)
        level, why = severity(h, usage, rec, round(money["current"] - money["recommended"], 2), rule)
        rows.append(
            Row(
                usage=usage,
                recommendation=rec,
                risk=backtest(strategy, h),
                severity=level,
                monthly_cost=money,
                krr_severity=krr_severity(usage, rec),
                severity_reason=why,
            )
        )
    value, grade = score(rows)
    return RightsizingReport(
        cluster=frame.cluster,
        start=frame.start,
        end=frame.end,
        strategy=strategy_name,
        rows=rows,
        score=value,
        grade=grade,
        currency=pricing.currency,
        pricing=pricing,
        covered_hours=hours,
    )
