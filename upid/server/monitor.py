"""What /metrics shows: every stored cluster's analysis (analyze's defaults: 14 days, strategy upid), the store's
status and the collector's state, read in one worker slot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from upid import __version__
from upid.errors import UpidError
from upid.server.metrics import collect_lines, exposition
from upid.store.base import Store

if TYPE_CHECKING:
    from upid.server.app import ServerState


@dataclass
class Page:
    analyses: list[dict[str, Any]] = field(default_factory=list)
    status: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)  # clusters whose analysis failed
    alerts: list[dict[str, Any]] = field(default_factory=list)
    budgets: list[dict[str, Any]] = field(default_factory=list)  # as of each cluster's newest sample


def _analyses(state: ServerState, store: Store) -> Page:
    from upid.analysis.document import analysis_document
    from upid.workflows.analyze import run
    from upid.workflows.budgets import month_status
    from upid.workflows.documents import status_document
    from upid.workflows.requests import Query, idle_policy, rightsizing_request

    page = Page()
    for cluster in store.clusters():
        try:
            request = rightsizing_request(state.settings, store, Query(cluster=cluster), "upid")
            a = run(store, request, idle_policy(state.settings))
            page.analyses.append(analysis_document(a.report, a.idle))
            budgets = month_status(store, state.settings, cluster, a.frame.end, analysis=a)
            page.budgets += [b.to_dict() for b in budgets]
        except UpidError as e:  # one cluster without samples in the window must not hide the others
            page.errors[cluster] = e.message
    page.status, page.alerts = status_document(store.status()), store.alert_states()
    return page


def analysis_page(state: ServerState) -> str:
    """The cached part: the analyses, their budgets, the store and the alerts; with no store yet (before the
    first collect) or an unreadable one, upid_store_up 0."""
    try:
        p = state.reading(lambda store: _analyses(state, store))
    except UpidError:
        return exposition([], None, None, __version__)
    return exposition(p.analyses, p.status, None, __version__, p.errors, p.alerts, p.budgets)


def collect_page(state: ServerState) -> str:
    """The collector's part, read fresh for every scrape (it changes as a collect ends, and costs nothing)."""
    if state.collector is None:
        return ""
    return "".join(line + "\n" for line in collect_lines(state.collector.state))
