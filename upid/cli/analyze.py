"""`upid analyze`: usage of every workload container against its requests and limits."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from upid.cli.options import AllNamespacesOpt, ClusterOpt, NamespaceOpt, NoHeadersOpt, StoreOpt
from upid.cli.printers import Column, View, emit, output_option
from upid.cli.session import session
from upid.units import format_bytes, format_count, format_cpu, iso, parse_duration, parse_timestamp

HELP = "Analyse stored usage of every workload container against its requests and limits."
EXAMPLES = """Examples:

  upid analyze                       # the only cluster in the store, last 14 days of its history

  upid analyze --cluster prod -n shop --history 7d -o json
"""


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


COLUMNS = [
    Column("namespace", "NAMESPACE"),
    Column("workload_kind", "KIND", wide=True),
    Column("workload", "WORKLOAD"),
    Column("container", "CONTAINER"),
    Column("pods", "PODS", numeric=True),
    Column("cpu_request", "CPU REQ", format_cpu, numeric=True),
    Column("cpu_p50", "CPU P50", format_cpu, wide=True, numeric=True),
    Column("cpu_p95", "CPU P95", format_cpu, numeric=True),
    Column("cpu_max", "CPU MAX", format_cpu, numeric=True),
    Column("cpu_used", "CPU USE", _percent, numeric=True),
    Column("cpu_limit", "CPU LIM", format_cpu, wide=True, numeric=True),
    Column("memory_request", "MEM REQ", format_bytes, numeric=True),
    Column("memory_p95", "MEM P95", format_bytes, wide=True, numeric=True),
    Column("memory_max", "MEM MAX", format_bytes, numeric=True),
    Column("memory_used", "MEM USE", _percent, numeric=True),
    Column("memory_limit", "MEM LIM", format_bytes, wide=True, numeric=True),
    Column("samples", "SAMPLES", format_count, wide=True, numeric=True),
]


def analysis_view(report: Any) -> View:
    from upid.analysis.document import analysis_document

    records = [
        {
            **{
                k: getattr(c, k)
                for k in (
                    "namespace",
                    "workload_kind",
                    "workload",
                    "container",
                    "pods",
                    "samples",
                    "cpu_request",
                    "cpu_limit",
                    "memory_request",
                    "memory_limit",
                    "cpu_p50",
                    "cpu_p95",
                    "cpu_max",
                    "memory_p95",
                    "memory_max",
                )
            },
            "cpu_used": c.cpu_utilisation,
            "memory_used": c.memory_utilisation,
        }
        for c in report.containers
    ]
    footer = [
        f"cluster {report.cluster}  window {iso(report.start)} .. {iso(report.end)}  "
        f"{len(report.containers)} containers  {format_count(report.samples)} samples"
    ]
    return View(document=analysis_document(report), records=records, columns=COLUMNS, footer=footer)


def analyze(
    ctx: typer.Context,
    cluster: ClusterOpt = None,
    namespace: NamespaceOpt = None,
    all_namespaces: AllNamespacesOpt = False,
    history: Annotated[
        str, typer.Option("--history", metavar="DURATION", help="How much history to analyse, back from the end.")
    ] = "14d",
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="TIME",
            help="End of the window (ISO-8601 or UNIX seconds); default: the cluster's newest sample.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[str, output_option()] = "table",
    no_headers: NoHeadersOpt = False,
    store: StoreOpt = None,
) -> None:
    from upid.workflows.analyze import analyze as run

    s = session(ctx, store)
    namespaces = None if all_namespaces or not namespace else namespace
    report = run(
        s.store(),
        cluster,
        s.settings.cluster,
        namespaces,
        parse_duration(history),
        parse_timestamp(until) if until else None,
    )
    emit(analysis_view(report), output, s, no_headers)
