"""What /metrics shows: every stored cluster's analysis (analyze's defaults: 14 days, strategy upid), the store's
status and the collector's state, read in one worker slot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from upid import __version__
from upid.errors import UpidError
from upid.server.metrics import exposition
from upid.store.base import Store

if TYPE_CHECKING:
    from upid.server.app import ServerState


def _analyses(state: ServerState, store: Store) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, str]]:
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
    return docs, status_document(store.status()), errors


def metrics_page(state: ServerState) -> str:
    """The page; with no store yet (before the first collect) or an unreadable one, the collector's state and
    upid_store_up 0 still."""
    collect = state.collector.state if state.collector else None
    try:
        docs, status, errors = state.reading(lambda store: _analyses(state, store))
    except UpidError:
        return exposition([], None, collect, __version__)
    return exposition(docs, status, collect, __version__, errors)
