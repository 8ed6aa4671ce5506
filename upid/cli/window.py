"""The window a store-reading command looks at, from the flags that `analyze` and `idle` share; the request
itself is built by upid.workflows.requests, as the server's is."""

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
    from upid.workflows.requests import Query

    namespaces = None if all_namespaces or not namespace else namespace
    return Query(cluster, context, namespaces, selector, history, until, resolution)


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
    from upid.workflows.requests import analysis_request as build

    q = query(cluster, context, namespace, all_namespaces, selector, history, until, resolution)
    return build(s.settings, s.store() if context else None, q, **extra)


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
    """The request of a command that right-sizes (analyze, report, optimize)."""
    from upid.workflows.requests import rightsizing_request as build

    q = query(cluster, context, namespace, all_namespaces, selector, history, until, resolution)
    return build(s.settings, s.store() if context else None, q, strategy)


def pricebook(settings: Any) -> Any:
    from upid.workflows.requests import pricebook as build

    return build(settings)
