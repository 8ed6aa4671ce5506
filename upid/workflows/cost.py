"""`upid cost`: what a window's workloads and nodes cost, grouped; which price each node gets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from upid.analysis.cost import CostReport, cost_report
from upid.analysis.frame import UsageFrame
from upid.analysis.history import ContainerHistory, histories
from upid.analysis.pricebook import NodePrice, PriceBook
from upid.analysis.window import ClusterWindow, Node, Scope
from upid.store.base import Store
from upid.workflows.analyze import AnalysisRequest, choose_cluster, load

if TYPE_CHECKING:
    from upid.analysis.budget import BudgetStatus
    from upid.settings import Settings


def cost(
    store: Store, request: AnalysisRequest, book: PriceBook, by: str, period: str = "month"
) -> tuple[UsageFrame, CostReport]:
    """`by`: namespace, workload, node or label=KEY; `period`: month (the money model's) or window."""
    window = load(store, request)
    return window.usage, grouped(window, histories(window), window.start, window.end, book, by, period)


def grouped(
    window: ClusterWindow,
    containers: list[ContainerHistory],
    start: int,
    end: int,
    book: PriceBook,
    by: str,
    period: str,
) -> CostReport:
    """The cost report of `containers` (the window's, or a part of them) over (start, end], grouped `by`, with
    the window's nodes and, for label=KEY, its workloads' labels."""
    labels = {key: w.labels for key, w in window.workloads.items()} if by.startswith("label=") else None
    return cost_report(containers, window.nodes, start, end, book, by, labels, period)


def cost_with_budgets(
    store: Store, settings: Settings, request: AnalysisRequest, book: PriceBook, by: str, period: str
) -> tuple[UsageFrame, CostReport, list[BudgetStatus]]:
    """`cost`, and the cluster's budgets (the settings') as of the window's end: `upid cost` and the API's."""
    from upid.workflows.budgets import month_status

    frame, report = cost(store, request, book, by, period)
    return frame, report, month_status(store, settings, frame.cluster, frame.end)


def node_prices(store: Store, request: AnalysisRequest, book: PriceBook) -> tuple[str, list[tuple[Node, NodePrice]]]:
    """Every collected node of the cluster (an empty window: nodes only) and the price the book gives it."""
    name = choose_cluster(store, request.cluster, request.default_cluster)
    window = store.window(name, 0, 0, Scope())
    return name, [(n, book.node(n)) for n in window.nodes]
