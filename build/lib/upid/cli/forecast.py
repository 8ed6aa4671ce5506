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
    from upid.cli.window import analysis_request
    from upid.cpus import usable_cpus
    from upid.workflows.forecast import run

    seconds = parse_duration(horizon)
    if not 3600 <= seconds <= MAX_HORIZON:
        raise UsageError(f"--horizon must be from 1h to 7d, got {horizon}")
    s = session(ctx, store)
    request = analysis_request(s, cluster, context, namespace, all_namespaces, selector, history, until)
    with s.progress("training the forecast model"):
        report = run(s.store(), request, seconds // 3600, usable_cpus(s.settings.threads))
    emit(_view(report), output, s, no_headers)


UNITS = {"cpu": "cores", "memory": "bytes"}
CSV = ["cluster", "namespace", "workload_kind", "workload", "container", "resource", "unit", "p50_peak", "p90_peak",
       "model", "mase", "p90_coverage"]  # fmt: skip


def _view(report: Any) -> View:
    frame = report.frame
    fmt = {"cpu": format_cpu, "memory": format_bytes}
    forecasts = [_record(frame.cluster, f) for f in report.forecasts]
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
    capacity = [_trend(t) for t in report.capacity]
    doc = {
        "cluster": frame.cluster,
        "window": {"start": iso(frame.start), "end": iso(frame.end)},
        "horizon_hours": report.horizon_hours,
        "forecasts": forecasts,
        "capacity": capacity,
    }
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


def _record(cluster: str, f: Any) -> dict[str, Any]:
    namespace, kind, workload, container = f.key
    integer = f.resource == "memory"
    value = (lambda v: int(round(v))) if integer else (lambda v: round(float(v), 4))
    return {
        "cluster": cluster,
        "namespace": namespace,
        "workload_kind": kind,
        "workload": workload,
        "container": container,
        "resource": f.resource,
        "points": [
            {"timestamp": iso((f.first_hour + i) * 3600), "p50": value(a), "p90": value(b)}
            for i, (a, b) in enumerate(zip(f.p50, f.p90, strict=True))
        ],
        "backtest": {"mase": f.mase, "p90_coverage": f.p90_coverage, "model_mase": f.model_mase},
        "model": f.model,
        "note": f.note,
    }


def _trend(t: Any) -> dict[str, Any]:
    value = (lambda v: int(round(v))) if t.resource == "memory" else (lambda v: round(v, 4))
    return {
        "scope": t.scope,
        "name": t.name or None,
        "resource": t.resource,
        "days": t.days,
        "usage": value(t.usage),
        "usage_per_day": value(t.usage_per_day),
        "requests": value(t.requests),
        "requests_per_day": value(t.requests_per_day),
        "allocatable": None if t.allocatable is None else value(t.allocatable),
        "days_until_usage_full": t.days_until_usage_full,
        "days_until_requests_full": t.days_until_requests_full,
    }


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
