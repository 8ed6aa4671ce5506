"""`upid cluster ...`: what upid sees of a cluster, from its API."""

from __future__ import annotations

from typing import Annotated

import typer

from upid.cli.options import ContextOpt, KubeconfigOpt, RequestTimeoutOpt
from upid.cli.printers import Column, View, emit, output_option
from upid.cli.session import session
from upid.units import format_bytes, format_cpu, parse_duration

app = typer.Typer(
    help="Inspect clusters through their API.",
    epilog="Examples:\n\n  upid cluster info --context prod\n  upid cluster rbac | kubectl apply -f -",
    no_args_is_help=True,
)


@app.command("info", epilog="Example:\n\n  upid cluster info --context prod -o json")
def info(
    ctx: typer.Context,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = "30s",
    output: Annotated[str, output_option()] = "table",
) -> None:
    """The cluster's identity (kube-system UID), distribution, provider, version and size."""
    from upid.cluster.connect import kubeconfig_path
    from upid.workflows.collect import cluster_info

    s = session(ctx)
    doc = cluster_info(kubeconfig_path(kubeconfig), context, parse_duration(request_timeout))
    columns = [
        Column("context", "CONTEXT"),
        Column("distribution", "DISTRIBUTION"),
        Column("provider", "PROVIDER"),
        Column("version", "VERSION"),
        Column("nodes", "NODES", numeric=True),
        Column("cpu_allocatable", "CPU", format_cpu, numeric=True),
        Column("memory_allocatable", "MEMORY", format_bytes, numeric=True),
        Column("uid", "UID", wide=True),
        Column("server", "SERVER", wide=True),
    ]
    emit(View(document=doc, records=[doc], columns=columns), output, s)


@app.command(
    "rbac",
    epilog="Examples:\n\n  upid cluster rbac | kubectl apply -f -\n  upid cluster rbac --optimize | kubectl apply -f -",
)
def rbac(
    optimize: Annotated[
        bool, typer.Option("--optimize", help="The opt-in write access of optimize --apply, rollback and wake.")
    ] = False,
) -> None:
    """Print the least-privilege RBAC upid needs (a Namespace, ServiceAccount, ClusterRole and binding), to apply
    with kubectl: read-only for collect, or with --optimize the write access to change workloads."""
    from importlib import resources

    name = "rbac-optimize.yaml" if optimize else "rbac.yaml"
    print((resources.files("upid.data") / "kubernetes" / name).read_text(encoding="utf-8"), end="")
