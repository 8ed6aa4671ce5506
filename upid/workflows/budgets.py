"""Budgets against the calendar month (UTC) holding a moment: the spend so far and its forecast, read from the
store, and what analyze's pending recommendations would take off it. `upid cost`, the report, `upid serve`'s
cost and the `budget` alert kind all read them here (docs/cost.md "Budgets")."""

from __future__ import annotations

from collections.abc import Iterable

from upid.analysis.budget import RATE_DAYS, Budget, BudgetStatus, Month, Spend, savings_by, statuses
from upid.analysis.pricebook import PriceBook
from upid.errors import NoDataError
from upid.settings import Settings
from upid.store.base import Store
from upid.workflows.analyze import Analysis
from upid.workflows.requests import Query


def month_status(
    store: Store,
    settings: Settings,
    cluster: str,
    as_of: int,
    budgets: Iterable[Budget] | None = None,
    analysis: Analysis | None = None,
) -> list[BudgetStatus]:
    """Every budget (default: the settings') that applies to `cluster`, as of `as_of`. `analysis`: the cluster's
    unfiltered analysis ending at `as_of`, when the caller has it (else it is run here, for the savings)."""
    from upid.workflows.requests import pricebook

    chosen = [b for b in (settings.budgets if budgets is None else budgets) if b.applies_to(cluster)]
    if not chosen:
        return []
    month, book = Month.holding(as_of), pricebook(settings)
    groupings = sorted({b.grouping for b in chosen})
    if analysis is None:
        analysis = _analysis(store, settings, cluster, as_of)
    covers = _covered(store, cluster, as_of, analysis)
    spend = {g: _spend(store, settings, book, cluster, month, g, covers) for g in groupings}
    savings = {}
    if analysis is not None:
        from upid.analysis.savings import counted

        per_container = {k: v for k, (_, v) in counted(analysis.report, analysis.idle).items()}
        labels = {key: w.labels for key, w in analysis.window.workloads.items()}
        savings = {g: savings_by(per_container, g, labels) for g in groupings}
    return statuses(chosen, cluster, month, spend, savings, book.unit.currency)


def _covered(store: Store, cluster: str, as_of: int, analysis: Analysis | None) -> Analysis | None:
    """The analysis, when its window holds every sample up to `as_of`: then a part of it that starts inside
    it is what the store would give for that part (both read (start, end])."""
    if analysis is None:
        return None
    end, last = analysis.frame.end, store.extent(cluster).last
    return analysis if end == as_of or (last is not None and end >= last and as_of >= last) else None


def _spend(
    store: Store, settings: Settings, book: PriceBook, cluster: str, month: Month, grouping: str, a: Analysis | None
) -> Spend:
    spent, measured = _window_cost(store, settings, book, cluster, month.as_of - month.start, month.as_of, grouping, a)
    recent, hours = _window_cost(store, settings, book, cluster, RATE_DAYS * 86400, month.as_of, grouping, a)
    return Spend(spent, min(measured, month.elapsed_hours), recent, hours)  # the last sample's interval may run on


def _window_cost(
    store: Store,
    settings: Settings,
    book: PriceBook,
    cluster: str,
    seconds: int,
    until: int,
    grouping: str,
    a: Analysis | None,
) -> tuple[dict[str, float], float]:
    """Each group's window cost over the `seconds` before `until`, and the hours its data covers: from the
    analysis' own histories when its window reaches back that far (no second read), else from the store."""
    from upid.workflows.cost import cost, grouped
    from upid.workflows.requests import analysis_request

    start = until - max(1, seconds)
    if a is not None and start >= a.frame.start:
        part = [h for h in (h.after(start) for h in a.containers) if len(h.ts)]
        if not part:
            return {}, 0.0
        report = grouped(a.window, part, start, until, book, grouping, "window")
    else:
        q = Query(cluster=cluster, history=f"{max(1, seconds)}s", until=str(until))
        try:
            _, report = cost(store, analysis_request(settings, store, q), book, grouping, "window")
        except NoDataError:  # no sample yet this month
            return {}, 0.0
    return {g.key: g.cost for g in report.groups}, report.covered_hours


def _analysis(store: Store, settings: Settings, cluster: str, as_of: int) -> Analysis | None:
    from upid.workflows.analyze import run
    from upid.workflows.requests import idle_policy, rightsizing_request

    try:
        return run(store, rightsizing_request(settings, store, Query(cluster, until=str(as_of)), "upid"),
                   idle_policy(settings))  # fmt: skip
    except NoDataError:
        return None
