"""`upid top`: the stored history of pods, workloads, namespaces or nodes, bucketed (upid.analysis.top)."""

from __future__ import annotations

from upid.analysis.top import TopReport, top
from upid.store.base import Store
from upid.workflows.analyze import AnalysisRequest, load


def usage_history(store: Store, request: AnalysisRequest, scope: str, by: str) -> TopReport:
    return top(load(store, request), scope, by)
