"""What /metrics shows: every stored cluster's analysis (analyze's defaults: 14 days, strategy upid), the store's
status and the collector's state, read in one worker slot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from upid import __version__
from upid.errors import UpidError
from upid.server.metrics import collect_lines, exposition
from upid.store.base import Store

if TYPE_CHECKING:
    from upid.server.app import ServerState


def _analyses(
    state: ServerState, store: Store
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, str], list[dict[str, Any]]]:
    from upid.analysis.document import analysis_document
    from upid.workflows.analyze import analyze
    from upid.workflows.documents import status_document
    from upid.workflows.requests import Query, idle_policy, rightsizing_request

    docs, errors = [], {}
    for cluster in store.clusters():
        try:
            request = rightsizing_request(state.settings, store, Query(cluster=cluster), "upid")
            report, idle = analyze(store, request, idle_policy(state.settings))
            docs.append(analysis_document(report, idle))
        except UpidError as e:  # one cluster without samples in the window must not hide the others
            errors[cluster] = e.message
    return docs, status_document(store.status()), errors, store.alert_states()


def analysis_page(state: ServerState) -> str:
    """The cached part: the analyses, the store and the alerts; with no store yet (before the first collect) or an
    unreadable one, upid_store_up 0."""
    try:
        docs, status, errors, alerts = state.reading(lambda store: _analyses(state, store))
    except UpidError:
        return exposition([], None, None, __version__)
    return exposition(docs, status, None, __version__, errors, alerts)


def collect_page(state: ServerState) -> str:
    """The collector's part, read fresh for every scrape (it changes as a collect ends, and costs nothing)."""
    if state.collector is None:
        return ""
    return "".join(line + "\n" for line in collect_lines(state.collector.state))
