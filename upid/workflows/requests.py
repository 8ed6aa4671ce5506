"""What a read command asks the store for, built from the settings and plain values: the window and cluster,
the strategy, the CPU limit policy, the price book, the severity rule and the idle policy. The CLI (from its
flags) and the server (from a query string) build their requests here, so both ask the same question."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from upid.errors import UsageError
from upid.settings import Settings
from upid.units import parse_duration, parse_timestamp

if TYPE_CHECKING:
    from upid.analysis.cost import Prices
    from upid.analysis.idle import IdlePolicy
    from upid.analysis.pricebook import PriceBook
    from upid.analysis.severity import SeverityRule
    from upid.optimize.plan import PlanOptions
    from upid.store.base import Store
    from upid.workflows.analyze import AnalysisRequest


@dataclass(frozen=True)
class Query:
    """The selectors every read command takes (analyze, idle, cost, forecast, optimize, report)."""

    cluster: str | None = None
    context: str | None = None  # the cluster last collected through this kubeconfig context
    namespaces: list[str] | None = None  # None: every namespace
    selector: str | None = None
    history: str = "14d"
    until: str | None = None
    resolution: str = "auto"


def analysis_request(settings: Settings, store: Store | None, q: Query, **extra: object) -> AnalysisRequest:
    """An AnalysisRequest: cluster or context (needs the store), namespaces, selector, window."""
    from upid.workflows.analyze import AnalysisRequest, cluster_of_context

    cluster = q.cluster
    if cluster and q.context:
        raise UsageError("give --cluster or --context, not both")
    if q.context:
        if store is None:
            raise UsageError("a context needs the store")
        cluster = cluster_of_context(store, q.context)
    if q.resolution not in ("auto", "raw", "hour"):
        raise UsageError(f"unknown resolution {q.resolution!r}; allowed: auto, raw, hour")
    return AnalysisRequest(
        cluster=cluster,
        default_cluster=settings.cluster,
        namespaces=q.namespaces or None,
        selector=q.selector,
        history=parse_duration(q.history),
        until=parse_timestamp(q.until) if q.until else None,
        resolution=q.resolution,
        **extra,  # type: ignore[arg-type]
    )


def rightsizing_request(settings: Settings, store: Store | None, q: Query, strategy: str) -> AnalysisRequest:
    """The request of a command that right-sizes (analyze, report, optimize): the window, the strategy, the
    CPU limit policy from the settings (checked: a bad one is a usage error) and the price book."""
    from upid.analysis.limits import check_policy
    from upid.analysis.strategies import STRATEGIES

    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}; allowed: {', '.join(STRATEGIES)}")
    try:
        check_policy(settings.cpu_limit)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return analysis_request(
        settings, store, q,
        strategy=strategy, cpu_limit=settings.cpu_limit, book=pricebook(settings), severity=severity_rule(settings),
    )  # fmt: skip


def severity_rule(settings: Settings) -> SeverityRule:
    from upid.analysis.severity import SeverityRule

    warning, critical = settings.severity_warning_savings, settings.severity_critical_savings
    if critical < warning:
        raise UsageError(f"severity_critical_savings ({critical:g}) is below severity_warning_savings ({warning:g})")
    return SeverityRule(warning_savings=warning, critical_savings=critical)


def prices(settings: Settings) -> Prices:
    """Unit prices from the settings (flag > env > config > OpenCost's defaults)."""
    from upid.analysis.cost import Prices

    if not 0 <= settings.discount_percent < 100:
        raise UsageError(f"discount_percent must be from 0 to 100, got {settings.discount_percent:g}")
    return Prices(
        cpu_core_hour=settings.price_cpu_core_hour,
        memory_gib_hour=settings.price_memory_gib_hour,
        currency=settings.currency,
        discount=settings.discount_percent / 100,
    )


def pricebook(settings: Settings) -> PriceBook:
    """The prices nodes get: the settings' instance_prices, the shipped list prices, then the unit prices."""
    from upid.analysis.cost import Prices
    from upid.analysis.pricebook import PriceBook, shipped_table

    unit = prices(settings)
    default = Prices()
    custom = (unit.cpu_core_hour, unit.memory_gib_hour) != (default.cpu_core_hour, default.memory_gib_hour)
    reason = "unit prices from the settings" if custom else "OpenCost's default unit prices"
    return PriceBook(unit, reason, dict(settings.instance_prices), shipped_table())


def idle_policy(settings: Settings, **given: object) -> IdlePolicy:
    """The idle policy: the given values, then settings (extra excluded namespaces and name patterns, time
    zone, checked)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from upid.analysis.idle import CONTROLLER_PATTERNS, SYSTEM_NAMESPACES, IdlePolicy
    from upid.settings import listed

    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {settings.timezone!r}: use an IANA name such as Europe/Berlin or UTC"
        ) from None
    return IdlePolicy(
        time_zone=settings.timezone,
        system_namespaces=SYSTEM_NAMESPACES + listed(settings.idle_exclude_namespaces),
        controller_patterns=CONTROLLER_PATTERNS + listed(settings.idle_exclude_patterns),
        **given,  # type: ignore[arg-type]
    )


def plan_options(
    settings: Settings, only: str | None, min_savings: float, min_severity: str, allow_hpa: bool
) -> PlanOptions:
    """What `optimize` may plan: the kinds of change, the thresholds and the safety rules from the settings."""
    from upid.optimize.plan import PlanOptions
    from upid.optimize.safety import SafetyPolicy
    from upid.settings import listed

    safety = SafetyPolicy(
        protected_namespaces=listed(settings.protected_namespaces),
        allow_hpa=allow_hpa,
        max_cpu_shortfall=settings.max_cpu_shortfall,
        max_oom_kills=settings.max_oom_kills,
        min_history_hours=settings.min_history_hours,
    )
    return PlanOptions(only=only, min_savings=min_savings, min_severity=min_severity, safety=safety)


COST_GROUPS = ("namespace", "workload", "node")  # or label=KEY


def cost_grouping(value: str) -> str:
    """`cost --by`: a known grouping or label=KEY, else a UsageError."""
    if value in COST_GROUPS or (value.startswith("label=") and len(value) > 6):
        return value
    raise UsageError(f"unknown grouping {value!r}; allowed: {', '.join(COST_GROUPS)}, label=KEY")
