"""The window a store-reading command looks at, from the flags that analyze, idle, cost, forecast, optimize
and report share; the request itself is built by upid.workflows.requests, as the server's is."""

from __future__ import annotations

from typing import Any

from upid.cli.session import Session


def query(
    cluster: str | None,
    context: str | None,
    namespace: list[str] | None,
    all_namespaces: bool,
    selector: str | None,
    history: str,
    until: str | None,
    resolution: str = "auto",
) -> Any:
    """--cluster or --context (the cluster collected through it), -n or -A, -l, the window."""
    from upid.workflows.requests import Query

    namespaces = None if all_namespaces or not namespace else namespace
    return Query(cluster, context, namespaces, selector, history, until, resolution)


def analysis_request(s: Session, q: Any, **extra: Any) -> Any:
    from upid.workflows.requests import analysis_request as build

    return build(s.settings, s.store() if q.context else None, q, **extra)


def rightsizing_request(s: Session, q: Any, strategy: str) -> Any:
    """The request of a command that right-sizes (analyze, report, optimize)."""
    from upid.workflows.requests import rightsizing_request as build

    return build(s.settings, s.store() if q.context else None, q, strategy)
