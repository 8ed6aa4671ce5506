"""The window a store-reading command looks at, from the flags that `analyze` and `idle` share."""

from __future__ import annotations

from typing import Any

from upid.cli.session import Session
from upid.errors import UsageError
from upid.units import parse_duration, parse_timestamp


def analysis_request(
    s: Session,
    cluster: str | None,
    context: str | None,
    namespace: list[str] | None,
    all_namespaces: bool,
    selector: str | None,
    history: str,
    until: str | None,
    resolution: str = "auto",
    **extra: Any,
) -> Any:
    """An AnalysisRequest: --cluster or --context (the cluster collected through it), -n or -A, -l, window."""
    from upid.workflows.analyze import AnalysisRequest, cluster_of_context

    if cluster and context:
        raise UsageError("give --cluster or --context, not both")
    if context:
        cluster = cluster_of_context(s.store(), context)
    return AnalysisRequest(
        cluster=cluster,
        default_cluster=s.settings.cluster,
        namespaces=None if all_namespaces or not namespace else namespace,
        selector=selector,
        history=parse_duration(history),
        until=parse_timestamp(until) if until else None,
        resolution=resolution,
        **extra,
    )


def rightsizing_request(
    s: Session,
    cluster: str | None,
    context: str | None,
    namespace: list[str] | None,
    all_namespaces: bool,
    selector: str | None,
    history: str,
    until: str | None,
    strategy: str,
    resolution: str = "auto",
) -> Any:
    """The request of a command that right-sizes (analyze, report, optimize): the window, the strategy, the
    CPU limit policy from the settings (checked: a bad one is a usage error) and the price book."""
    from upid.analysis.limits import check_policy

    try:
        check_policy(s.settings.cpu_limit)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return analysis_request(
        s, cluster, context, namespace, all_namespaces, selector, history, until, resolution,
        strategy=strategy, cpu_limit=s.settings.cpu_limit, book=pricebook(s.settings), severity=severity_rule(s),
    )  # fmt: skip


def severity_rule(s: Session) -> Any:
    from upid.analysis.severity import SeverityRule

    warning, critical = s.settings.severity_warning_savings, s.settings.severity_critical_savings
    if critical < warning:
        raise UsageError(f"severity_critical_savings ({critical:g}) is below severity_warning_savings ({warning:g})")
    return SeverityRule(warning_savings=warning, critical_savings=critical)


def prices(settings: Any) -> Any:
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


def pricebook(settings: Any) -> Any:
    """The prices nodes get: the settings' instance_prices, the shipped list prices, then the unit prices."""
    from upid.analysis.cost import Prices
    from upid.analysis.pricebook import PriceBook, shipped_table

    unit = prices(settings)
    default = Prices()
    custom = (unit.cpu_core_hour, unit.memory_gib_hour) != (default.cpu_core_hour, default.memory_gib_hour)
    reason = "unit prices from the settings" if custom else "OpenCost's default unit prices"
    return PriceBook(unit, reason, dict(settings.instance_prices), shipped_table())
