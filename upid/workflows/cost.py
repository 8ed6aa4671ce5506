"""`upid cost`: what a window's workloads and nodes cost, grouped, in one snapshot of the store."""

from __future__ import annotations

from upid.analysis.cost import CostReport, cost_report
from upid.analysis.frame import UsageFrame
from upid.analysis.history import histories
from upid.analysis.pricebook import PriceBook
from upid.store.base import Store
from upid.workflows.analyze import AnalysisRequest, load


def cost(
    store: Store, request: AnalysisRequest, book: PriceBook, by: str, period: str = "month"
) -> tuple[UsageFrame, CostReport]:
    """`by`: namespace, workload, node or label=KEY; `period`: month (the money model's) or window."""
    with store.snapshot():
        frame = load(store, request)
        labels = store.workload_labels(frame.cluster) if by.startswith("label=") else None
        nodes = store.nodes(frame.cluster)
    report = cost_report(histories(frame), nodes, frame.start, frame.end, book, by, labels, period)
    return frame, report
