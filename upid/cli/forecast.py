"""`upid forecast`: hourly usage forecasts (p50, p90) per workload container, each with its backtest, and when
the cluster runs out."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from upid.cli.options import (
    AllNamespacesOpt,
    ClusterOpt,
    ContextOpt,
    HistoryOpt,
    NamespaceOpt,
    NoHeadersOpt,
    SelectorOpt,
    StoreOpt,
    UntilOpt,
)
from upid.cli.printers import Column, View, emit, output_option
from upid.cli.session import session
from upid.errors import UsageError
from upid.units import format_bytes, format_cpu, iso, parse_duration

HELP = "Forecast each workload container's CPU and memory (p50 and p90, hourly), backtested against seasonal naive."
EXAMPLES = """Examples:

  upid forecast                # the next 7 days, from the last 21 of history

  upid forecast -n shop --horizon 3d -o json
"""
MAX_HORIZON = 7 * 86400


def forecast(
    ctx: typer.Context,
    cluster: ClusterOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    all_namespaces: AllNamespacesOpt = False,
    selector: SelectorOpt = None,
    history: HistoryOpt = "21d",
    until: UntilOpt = None,
    horizon: Annotated[
        str, typer.Option("--horizon", metavar="DURATION", help="How far ahead, in whole hours, at most 7d.")
    ] = "7d",
    output: Annotated[str, output_option()] = "table",
    no_headers: NoHeadersOpt = False,
    store: StoreOpt = None,
) -> None:
    from upid.cli.window import analysis_request, query
    from upid.cpus import usable_cpus
    from upid.workflows.forecast import run

    seconds = parse_duration(horizon)
    if not 3600 <= seconds <= MAX_HORIZON:
        raise UsageError(f"--horizon must be from 1h to 7d, got {horizon}")
    s = session(ctx, store)
    request = analysis_request(s, query(cluster, context, namespace, all_namespaces, selector, history, until))
    with s.progress("training the forecast model"):
        report = run(s.store(), request, seconds // 3600, usable_cpus(s.settings.threads))
    emit(_view(report), output, s, no_headers)


UNITS = {"cpu": "cores", "memory": "bytes"}
CSV = ["cluster", "namespace", "workload_kind", "workload", "container", "resource", "unit", "p50_peak", "p90_peak",
       "model", "mase", "p90_coverage"]  # fmt: skip


def _view(report: Any) -> View:
    frame = report.frame
    fmt = {"cpu": format_cpu, "memory": format_bytes}
    from upid.workflows.documents import forecast_document

    doc = forecast_document(report)
    forecasts = doc["forecasts"]
    records = [
        {
            "cluster": frame.cluster,
            "namespace": f["namespace"],
            "workload_kind": f.get("workload_kind"),
            "workload": f["workload"],
            "container": f["container"],
            "resource": f["resource"],
            "unit": UNITS[f["resource"]],
            "p50_peak": max(p["p50"] for p in f["points"]),
            "p90_peak": max(p["p90"] for p in f["points"]),
            "model": f["model"],
            "mase": f["backtest"]["mase"],
            "p90_coverage": f["backtest"]["p90_coverage"],
        }
        for f in forecasts
    ]
    for r in records:  # the table's text, in the resource's unit
        r["p50_text"], r["p90_text"] = (fmt[r["resource"]](r[k]) for k in ("p50_peak", "p90_peak"))
    two = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    columns = [
        Column("namespace", "NAMESPACE"),
        Column("workload", "WORKLOAD"),
        Column("container", "CONTAINER"),
        Column("resource", "RESOURCE"),
        Column("p50_text", "P50 PEAK", numeric=True, sort_key="p50_peak"),
        Column("p90_text", "P90 PEAK", numeric=True, sort_key="p90_peak"),
        Column("model", "MODEL"),
        Column("mase", "MASE", two, numeric=True),
        Column("p90_coverage", "P90 COVER", lambda v: "-" if v is None else f"{v * 100:.0f}%", numeric=True),
    ]
    beaten = [f for f in report.forecasts if f.model == "gbm-quantile" and f.mase is not None]
    footer = [
        f"cluster {frame.cluster}  window {iso(frame.start)} .. {iso(frame.end)}  horizon {report.horizon_hours} h  "
        f"{len(beaten)} of {len(report.forecasts)} forecasts beat seasonal naive in their backtest"
    ]
    for t in report.capacity:
        if t.scope == "cluster":
            footer.append(_capacity_line(t))
    return View(
        document=doc, records=records, columns=columns, footer=footer, empty="No containers to forecast.", csv=CSV
    )


def _capacity_line(t: Any) -> str:
    fmt = format_cpu if t.resource == "cpu" else format_bytes
    text = f"{t.resource}: usage {fmt(t.usage)} ({'+' if t.usage_per_day >= 0 else '-'}{fmt(abs(t.usage_per_day))}/day)"
    text += f", requests {fmt(t.requests)}"
    if t.allocatable is None:
        return text + ", no nodes collected: no capacity to run out of"
    until = t.days_until_requests_full
    return (
        text
        + f" of {fmt(t.allocatable)} allocatable; requests full "
        + ("now" if until == 0 else "not on this trend" if until is None else f"in {until:g} days")
    )
