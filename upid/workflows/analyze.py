"""Analyse one cluster's stored history over a window that ends at its newest sample (or --until)."""

from __future__ import annotations

from upid.analysis.rightsizing import RightsizingReport, rightsize
from upid.errors import NoDataError, UsageError
from upid.store.base import Store


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


def analyze(
    store: Store,
    cluster: str | None,
    default_cluster: str | None,
    namespaces: list[str] | None,
    history: int,
    until: int | None,
    strategy: str = "upid",
) -> RightsizingReport:
    name = choose_cluster(store, cluster, default_cluster)
    end = until if until is not None else store.newest_sample(name)
    if end is None:
        raise NoDataError(f"cluster {name!r} has no samples yet")
    frame = store.load_usage(name, end - history, end, namespaces)
    report = rightsize(frame, strategy)
    if not report.rows:
        scope = f" in namespace(s) {', '.join(namespaces)}" if namespaces else ""
        raise NoDataError(f"no samples for cluster {name!r}{scope} in the window ending {end}")
    return report
