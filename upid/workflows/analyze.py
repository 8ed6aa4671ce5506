"""Analyse one cluster's stored history over a window that ends at its newest sample (or --until)."""

from __future__ import annotations

from dataclasses import dataclass

from upid.analysis.cost import Prices, Pricing, node_costs, sampling_interval
from upid.analysis.frame import UsageFrame
from upid.analysis.history import ContainerHistory, histories
from upid.analysis.idle import IdleItem, IdlePolicy, detect
from upid.analysis.pricebook import PriceBook
from upid.analysis.rightsizing import RightsizingReport, rightsize
from upid.analysis.savings import current_monthly, idle_monthly
from upid.analysis.severity import SeverityRule
from upid.errors import NoDataError, UsageError
from upid.selectors import matches, parse_selector
from upid.store.base import Store
from upid.units import iso


def cluster_of_context(store: Store, context: str) -> str:
    """The stored cluster last collected through this kubeconfig context."""
    names = [str(c["cluster"]) for c in store.cluster_identities() if c.get("context") == context]
    if not names:
        raise NoDataError(
            f"no cluster collected through context {context!r}",
            hint="collect it first: upid storage collect --context " + context,
        )
    return names[0]


def choose_cluster(store: Store, wanted: str | None, default: str | None) -> str:
    clusters = store.clusters()
    if wanted:
        if wanted not in clusters:
            raise NoDataError(
                f"no cluster {wanted!r} in the store", hint=f"known clusters: {', '.join(clusters) or 'none'}"
            )
        return wanted
    if default and default in clusters:
        return default
    if len(clusters) == 1:
        return clusters[0]
    if not clusters:
        raise NoDataError(
            "the store holds no cluster yet", hint="import or collect data first: upid storage import FILE"
        )
    raise UsageError(f"the store holds several clusters ({', '.join(clusters)}): choose one with --cluster")


@dataclass(frozen=True)
class AnalysisRequest:
    cluster: str | None = None
    default_cluster: str | None = None  # from the settings, when --cluster is not given
    namespaces: list[str] | None = None
    selector: str | None = None  # workload labels, kubectl's equality-based syntax
    history: int = 14 * 86400
    until: int | None = None
    strategy: str = "upid"
    cpu_limit: str = "none"  # none, pNN or Nx (upid.analysis.limits)
    book: PriceBook | None = None  # unit and per-instance prices; OpenCost's unit prices when None
    severity: SeverityRule | None = None  # the money thresholds of `severity`; the defaults when None


def _selected(store: Store, cluster: str, selector: str | None) -> list[tuple[str, str, str]] | None:
    if not selector:
        return None
    requirements = parse_selector(selector)
    return [key for key, labels in store.workload_labels(cluster).items() if matches(requirements, labels)]


def load(store: Store, request: AnalysisRequest) -> UsageFrame:
    name = choose_cluster(store, request.cluster, request.default_cluster)
    end = request.until if request.until is not None else store.newest_sample(name)
    if end is None:
        raise NoDataError(f"cluster {name!r} has no samples yet")
    frame = store.load_usage(
        name, end - request.history, end, request.namespaces, _selected(store, name, request.selector)
    )
    if not len(frame.ts):
        scope = f" in namespace(s) {', '.join(request.namespaces)}" if request.namespaces else ""
        scope += f" with labels {request.selector}" if request.selector else ""
        raise NoDataError(f"no samples for cluster {name!r}{scope} in the window ending {iso(end)}")
    return frame


@dataclass(frozen=True)
class Analysis:
    frame: UsageFrame
    containers: list[ContainerHistory]
    report: RightsizingReport
    idle: list[IdleItem]


def read(store: Store, request: AnalysisRequest) -> tuple[UsageFrame, list[ContainerHistory], Pricing]:
    """Everything an analysis reads, in one snapshot of the store: the window, its histories, the pods' rates."""
    with store.snapshot():
        frame = load(store, request)
        containers = histories(frame)
        return frame, containers, pricing(store, frame, containers, request.book)


def run(store: Store, request: AnalysisRequest, policy: IdlePolicy | None = None) -> Analysis:
    """Right-sizing of every workload container, and the idle workloads, over the same window."""
    frame, containers, rates = read(store, request)
    report = rightsize(frame, request.strategy, request.cpu_limit, rates, containers, request.severity)
    return Analysis(frame, containers, report, detect(containers, frame.end, policy))


def analyze(
    store: Store, request: AnalysisRequest, policy: IdlePolicy | None = None
) -> tuple[RightsizingReport, list[IdleItem]]:
    result = run(store, request, policy)
    return result.report, result.idle


@dataclass(frozen=True)
class IdleResult:
    frame: UsageFrame
    items: list[IdleItem]
    pricing: Pricing
    current: dict[tuple[str, str, str, str], float]  # each container's current monthly cost (savings.py)

    def monthly(self, item: IdleItem) -> float:
        return idle_monthly(item, self.current)


def idle(store: Store, request: AnalysisRequest, policy: IdlePolicy) -> IdleResult:
    frame, containers, rates = read(store, request)
    return IdleResult(frame, detect(containers, frame.end, policy), rates, current_monthly(containers, rates))


def pricing(store: Store, frame: UsageFrame, containers: list[ContainerHistory], book: PriceBook | None) -> Pricing:
    """Each pod's rates: its node's when the cluster's nodes were collected, else the unit prices."""
    book = book or PriceBook(Prices())
    _, rates = node_costs(store.nodes(frame.cluster), frame.start, frame.end, book, sampling_interval(containers))
    return Pricing(book.unit, rates)
