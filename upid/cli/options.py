"""Flags shared by commands, spelled as kubectl spells them and defined once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="PATH|URL",
        help="DuckDB store file, or a PostgreSQL store (postgresql://USER@HOST/DB) "
        "[env UPID_STORE; default $UPID_HOME/upid.duckdb].",
        show_default=False,
    ),
]
ClusterOpt = Annotated[
    str | None,
    typer.Option("--cluster", metavar="NAME", help="Cluster name in the store [env UPID_CLUSTER].", show_default=False),
]
NamespaceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--namespace", "-n", metavar="NAMESPACE", help="Only this namespace (repeatable).", show_default=False
    ),
]
AllNamespacesOpt = Annotated[
    bool, typer.Option("--all-namespaces", "-A", help="All namespaces (the default when -n is not given).")
]
SortByOpt = Annotated[
    str | None,
    typer.Option(
        "--sort-by",
        metavar="COLUMN",
        show_default=False,
        help="Sort the rows of table, wide and csv output by a column (its -o csv name); "
        "a leading '-' sorts descending: --sort-by=-monthly_savings.",
    ),
]
NoHeadersOpt = Annotated[bool, typer.Option("--no-headers", help="Tables and CSV without the header row.")]


__all__ = ["StoreOpt", "ClusterOpt", "NamespaceOpt", "AllNamespacesOpt", "NoHeadersOpt", "choice"]


def choice(allowed: tuple[str, ...], what: str) -> Callable[[str | None], str | None]:
    """An option callback: the value must be one of `allowed` (None passes); else a usage error naming them."""

    def check(value: str | None) -> str | None:
        from upid.errors import UsageError

        if value is not None and value not in allowed:
            raise UsageError(f"unknown {what} {value!r}; allowed: {', '.join(allowed)}")
        return value

    return check


KubeconfigOpt = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig",
        metavar="PATH",
        help="Kubeconfig file [env KUBECONFIG; default ~/.kube/config; in a pod: its service account].",
        show_default=False,
    ),
]
ContextsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--context",
        metavar="NAME",
        help="Kubeconfig context (repeatable) [default: current-context].",
        show_default=False,
    ),
]
ContextOpt = Annotated[
    str | None,
    typer.Option(
        "--context", metavar="NAME", help="Kubeconfig context [default: current-context].", show_default=False
    ),
]
AllContextsOpt = Annotated[bool, typer.Option("--all-contexts", help="Every context of the kubeconfig.")]
SelectorOpt = Annotated[
    str | None,
    typer.Option(
        "--selector",
        "-l",
        metavar="SELECTOR",
        help="Label selector (e.g. app=web,tier!=db): pods for collect, workloads for analyze.",
        show_default=False,
    ),
]
RequestTimeoutOpt = Annotated[
    str,
    typer.Option(
        "--request-timeout", metavar="DURATION", help="Timeout of each API request, in total (a trickle gets no more)."
    ),
]
HistoryOpt = Annotated[
    str, typer.Option("--history", metavar="DURATION", help="How much history to look at, back from the end.")
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until",
        metavar="TIME",
        show_default=False,
        help="End of the window (ISO-8601 or UNIX seconds); default: the cluster's newest sample.",
    ),
]


STRATEGY_NAMES = ("upid", "krr-simple", "vpa")  # upid.analysis.strategies.STRATEGIES, kept import-free for --help
StrategyOpt = Annotated[
    str,
    typer.Option(
        "--strategy",
        metavar="NAME",
        callback=choice(STRATEGY_NAMES, "strategy"),
        help=f"Right-sizing strategy: {', '.join(STRATEGY_NAMES)}.",
    ),
]
RESOLUTIONS = ("auto", "raw", "hour")
ResolutionOpt = Annotated[
    str,
    typer.Option(
        "--resolution",
        metavar="RES",
        callback=choice(RESOLUTIONS, "resolution"),
        help="raw samples, hour (hourly rollups), or auto: hour when the window reaches back before the "
        "oldest raw sample kept and the rollups go further.",
    ),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
