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
from upid.analysis.window import ClusterWindow, Scope
from upid.errors import NoDataError, UsageError
from upid.store.base import Extent, Store
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
    resolution: str = "auto"  # raw, hour (the hourly rollups), or auto (resolution())


def load(store: Store, request: AnalysisRequest) -> ClusterWindow:
    """The request's window of its cluster, in one read; at least one sample, or NoDataError."""
    with store.snapshot():
        name = choose_cluster(store, request.cluster, request.default_cluster)
        extent = store.extent(name)
        end = request.until if request.until is not None else extent.last
        if end is None:
            raise NoDataError(f"cluster {name!r} has no samples yet")
        namespaces = tuple(request.namespaces) if request.namespaces else None
        scope = Scope(namespaces, request.selector or None, resolution(extent, end - request.history, request))
        window = store.window(name, end - request.history, end, scope)
    if not len(window.usage.ts):
        where = f" in namespace(s) {', '.join(request.namespaces)}" if request.namespaces else ""
        where += f" with labels {request.selector}" if request.selector else ""
        raise NoDataError(f"no samples for cluster {name!r}{where} in the window ending {iso(end)}")
    return window


def resolution(extent: Extent, start: int, request: AnalysisRequest) -> str:
    """auto: the hourly rollups when the window reaches back before the oldest raw sample and the rollups go
    further back (the raw samples were cleaned up: the retention tiers), else the raw samples."""
    if request.resolution != "auto":
        return request.resolution
    raw, hourly = extent.first, extent.first_hourly
    if raw is None or hourly is None:
        return "raw"
    return "hour" if start < raw and hourly < raw - 3600 else "raw"


@dataclass(frozen=True)
class Read:
    """What every analysis starts from: the window, its containers' histories, and the pods' rates."""

    window: ClusterWindow
    containers: list[ContainerHistory]
    pricing: Pricing

    @property
    def frame(self) -> UsageFrame:
        return self.window.usage


def read(store: Store, request: AnalysisRequest) -> Read:
    """The store read once (one snapshot), then the histories and the pods' rates."""
    window = load(store, request)
    containers = histories(window)
    return Read(window, containers, pricing(window, containers, request.book))


@dataclass(frozen=True)
class Analysis:
    frame: UsageFrame
    containers: list[ContainerHistory]
    report: RightsizingReport
    idle: list[IdleItem]
    window: ClusterWindow


def run(store: Store, request: AnalysisRequest, policy: IdlePolicy | None = None) -> Analysis:
    """Right-sizing of every workload container, and the idle workloads, over the same window."""
    r = read(store, request)
    report = rightsize(r.frame, request.strategy, request.cpu_limit, r.pricing, r.containers, request.severity)
    return Analysis(r.frame, r.containers, report, detect(r.containers, r.frame.end, policy), r.window)


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
    r = read(store, request)
    items = detect(r.containers, r.frame.end, policy)
    return IdleResult(r.frame, items, r.pricing, current_monthly(r.containers, r.pricing))


def pricing(window: ClusterWindow, containers: list[ContainerHistory], book: PriceBook | None) -> Pricing:
    """Each pod's rates: its node's when the cluster's nodes were collected, else the unit prices."""
    book = book or PriceBook(Prices())
    _, rates = node_costs(window.nodes, window.start, window.end, book, sampling_interval(containers))
    return Pricing(book.unit, rates)
