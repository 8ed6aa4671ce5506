"""Flags shared by commands, spelled as kubectl spells them and defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        metavar="PATH",
        help="DuckDB store file [env UPID_STORE; default $UPID_HOME/upid.duckdb].",
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
NoHeadersOpt = Annotated[bool, typer.Option("--no-headers", help="Tables and CSV without the header row.")]


__all__ = ["StoreOpt", "ClusterOpt", "NamespaceOpt", "AllNamespacesOpt", "NoHeadersOpt"]
