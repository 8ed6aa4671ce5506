"""What each API endpoint answers: the command's `-o json` document for the same selectors, from the same
workflows (upid.workflows.documents). Each view takes the settings, an open store and the request's query."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from upid.errors import UsageError
from upid.server.params import SELECTORS, Params
from upid.settings import Settings
from upid.store.base import Store
from upid.units import parse_duration
from upid.workflows import requests as rq

Document = dict[str, Any]
MAX_HORIZON = 7 * 86400
STRATEGY = ("strategy",)
SEVERITIES = ("unknown", "good", "ok", "warning", "critical")


def analyze(settings: Settings, store: Store, p: Params) -> Document:
    from upid.analysis.document import analysis_document
    from upid.workflows.analyze import analyze as run

    request = rq.rightsizing_request(settings, store, p.query(), p.text("strategy", "upid"))
    report, idle = run(store, request, rq.idle_policy(settings))
    return analysis_document(report, idle)


def idle(settings: Settings, store: Store, p: Params) -> Document:
    from upid.workflows.analyze import idle as run
    from upid.workflows.documents import idle_document

    min_idle = parse_duration(p.text("min_idle", "24h"))
    policy = rq.idle_policy(settings, min_idle=min_idle, min_confidence=p.number("min_confidence", 0.5, 0.0, 1.0))
    request = rq.analysis_request(settings, store, p.query(), book=rq.pricebook(settings))
    return idle_document(run(store, request, policy), min_idle)


def cost(settings: Settings, store: Store, p: Params) -> Document:
    from upid.workflows.cost import cost_with_budgets
    from upid.workflows.documents import cost_document

    by = rq.cost_grouping(p.text("by", "namespace"))
    period = p.choice("period", ("month", "window"), "month") or "month"
    request = rq.analysis_request(settings, store, p.query(p.text("window", "14d")))
    book = rq.pricebook(settings)
    frame, report, budgets = cost_with_budgets(store, settings, request, book, by, period)
    return cost_document(frame, report, book.unit.currency, budgets)


def forecast(settings: Settings, store: Store, p: Params) -> Document:
    from upid.cpus import usable_cpus
    from upid.workflows.documents import forecast_document
    from upid.workflows.forecast import run

    horizon = parse_duration(p.text("horizon", "7d"))
    if not 3600 <= horizon <= MAX_HORIZON:
        raise UsageError(f"horizon must be from 1h to 7d, got {p.get('horizon')}")
    request = rq.analysis_request(settings, store, p.query("21d"))
    return forecast_document(run(store, request, horizon // 3600, usable_cpus(settings.threads)))


def optimize(settings: Settings, store: Store, p: Params) -> Document:
    """The plan only (optimize's dry run): serve never changes a cluster."""
    from upid.optimize.render import plan_document
    from upid.workflows.optimize import make_plan

    options = rq.plan_options(
        settings,
        p.choice("only", ("rightsize", "idle"), None),
        p.number("min_savings", 0.0, 0.0, 1e12),
        p.choice("severity", SEVERITIES, "good") or "good",
        p.flag("allow_hpa"),
    )
    request = rq.rightsizing_request(settings, store, p.query(), p.text("strategy", "upid"))
    return plan_document(make_plan(store, request, options, rq.idle_policy(settings)).plan)


def status(settings: Settings, store: Store, p: Params) -> Document:
    from upid.workflows.documents import status_document

    return status_document(store.status())


def report_page(settings: Settings, store: Store, p: Params) -> str:
    from upid.workflows.report import html_report

    request = rq.rightsizing_request(settings, store, p.query(), p.text("strategy", "upid"))
    charts = int(p.number("charts", 100, 0, 10_000))
    return html_report(store, settings, request, rq.idle_policy(settings), charts)


View = Callable[[Settings, Store, Params], Any]

# path -> (view, the parameters it takes, the command whose -o json it is, its schema in docs/schemas/)
ENDPOINTS: dict[str, tuple[View, tuple[str, ...], str, str]] = {
    "analyze": (analyze, (*SELECTORS, *STRATEGY), "upid analyze -o json", "analyze.schema.json"),
    "idle": (idle, (*SELECTORS, "min_idle", "min_confidence"), "upid idle -o json", "idle.schema.json"),
    "cost": (
        cost,
        ("cluster", "namespace", "selector", "window", "until", "by", "period"),
        "upid cost -o json",
        "cost.schema.json",
    ),
    "forecast": (forecast, (*SELECTORS, "horizon"), "upid forecast -o json", "forecast.schema.json"),
    "optimize": (
        optimize,
        (*SELECTORS, *STRATEGY, "only", "min_savings", "severity", "allow_hpa"),
        "upid optimize -o json",
        "optimize-plan.schema.json",
    ),
    "storage/status": (status, (), "upid storage status -o json", "storage-status.schema.json"),
}
REPORT_PARAMS = (*SELECTORS, *STRATEGY, "charts")
