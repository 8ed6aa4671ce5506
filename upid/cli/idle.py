"""`upid idle`: workloads that do nothing, measured, with the confidence of the finding."""

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
    SortByOpt,
    StoreOpt,
    UntilOpt,
)
from upid.cli.printers import Column, View, emit, output_option, with_money
from upid.cli.session import session
from upid.units import format_bytes, format_cpu, format_money, iso, parse_duration

HELP = "Find idle workloads from their measured usage: CPU, memory and network near zero for long enough."
EXAMPLES = """Examples:

  upid idle                      # idle for 24 h or more in the last 14 days

  upid idle --min-idle 3d -n staging -o wide   # and what was excluded, why
"""

COLUMNS = [
    Column("namespace", "NAMESPACE"),
    Column("workload_kind", "KIND"),
    Column("workload", "WORKLOAD"),
    Column("kind", "FINDING"),
    Column("replicas", "REPLICAS", numeric=True),
    Column("idle_since", "IDLE SINCE"),
    Column(
        "idle_hours",
        "IDLE FOR",
        lambda h: "-" if not h else (f"{h / 24:.1f}d" if h >= 48 else f"{h:.0f}h"),
        numeric=True,
    ),
    Column("schedule", "SLEEPS"),
    Column("sleep_hours_per_week", "ASLEEP H/WK", numeric=True),
    Column("schedule_days", "DAYS", wide=True),
    Column("sleep_at", "SLEEP AT", wide=True),
    Column("wake_up_at", "WAKE UP AT", wide=True),
    Column("time_zone", "TIME ZONE", wide=True),
    Column("confidence", "CONFIDENCE", lambda v: "-" if v is None else f"{v:.2f}", numeric=True),
    Column("cpu_p99", "CPU P99", format_cpu, wide=True, numeric=True),
    Column("network_p99", "NET P99", lambda v: "-" if v is None else f"{format_bytes(v)}B/s", wide=True, numeric=True),
    Column("cpu_cores", "FREES CPU", format_cpu, numeric=True),
    Column("memory_bytes", "FREES MEMORY", format_bytes, numeric=True),
    Column("monthly_savings", "SAVES/MO", numeric=True),
    Column("excluded", "EXCLUDED", wide=True),
]


def schedule_text(schedule: Any) -> str:
    """A sleep window as people read it: "Mon-Fri 20:00-08:00 Europe/Berlin"; "-" for none."""
    if schedule is None:
        return "-"
    from upid.analysis.schedule import window_text

    d = schedule.to_dict()
    return window_text(schedule.days, d["sleep_at"], d["wake_up_at"], d["time_zone"])


def _schedule_fields(schedule: Any) -> dict[str, Any]:
    if schedule is None:
        return {"schedule_days": None, "sleep_at": None, "wake_up_at": None, "time_zone": None}
    d = schedule.to_dict()
    return {"schedule_days": ",".join(d["days"]), **{k: d[k] for k in ("sleep_at", "wake_up_at", "time_zone")}}


CSV = [  # -o csv: raw values, base units in the names
    "cluster", "namespace", "workload_kind", "workload", "kind", "replicas", "idle_since", "idle_hours",
    "sleep_hours_per_week", "schedule_days", "sleep_at", "wake_up_at", "time_zone", "confidence", "cpu_p99_cores",
    "network_p99_bytes_per_s", "cpu_request_cores", "memory_request_bytes", "currency", "monthly_savings", "excluded",
]  # fmt: skip


def _records(items: list[Any], wide: bool, result: Any) -> list[dict[str, Any]]:
    return [
        {
            "cluster": result.frame.cluster,
            "currency": result.pricing.currency,
            "cpu_p99_cores": i.signals.get("cpu_p99"),
            "network_p99_bytes_per_s": i.signals.get("network_p99"),
            "cpu_request_cores": i.savings["cpu_cores"],
            "memory_request_bytes": int(i.savings["memory_bytes"]),
            "namespace": i.namespace,
            "workload_kind": i.workload_kind,
            "workload": i.workload,
            "kind": i.kind,
            "replicas": i.replicas,
            "idle_since": iso(i.idle_since) or "-",
            "idle_hours": i.idle_hours,
            "schedule": schedule_text(i.schedule),
            "sleep_hours_per_week": i.schedule.hours_per_week if i.schedule else None,
            **_schedule_fields(i.schedule),
            "confidence": None if i.excluded else i.confidence,
            "cpu_p99": i.signals.get("cpu_p99"),
            "network_p99": i.signals.get("network_p99"),
            "cpu_cores": i.savings["cpu_cores"],
            "memory_bytes": i.savings["memory_bytes"],
            "excluded": i.excluded or "-",
            "monthly_savings": None if i.excluded else result.monthly(i),
        }
        for i in items
        if wide or not i.excluded
    ]


def idle(
    ctx: typer.Context,
    cluster: ClusterOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    all_namespaces: AllNamespacesOpt = False,
    selector: SelectorOpt = None,
    history: HistoryOpt = "14d",
    until: UntilOpt = None,
    min_idle: Annotated[
        str, typer.Option("--min-idle", metavar="DURATION", help="How long a workload must have been idle.")
    ] = "24h",
    min_confidence: Annotated[
        float,
        typer.Option(
            "--min-confidence",
            metavar="0..1",
            min=0.0,
            max=1.0,
            help="Flag only findings at least this sure (it grows with the idle time, full at a week, "
            "and with the signals that agree; 0.5 is the level measured out of sample).",
        ),
    ] = 0.5,  # upid.analysis.idle.MIN_CONFIDENCE (a test keeps them equal; imported here it would load numpy)
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            metavar="ZONE",
            show_default=False,
            help="Time zone of sleep schedules, e.g. Europe/Berlin [env UPID_TIMEZONE; default UTC].",
        ),
    ] = None,
    output: Annotated[str, output_option(("kube-green", "downscaler"))] = "table",
    no_headers: NoHeadersOpt = False,
    sort_by: SortByOpt = None,
    store: StoreOpt = None,
) -> None:
    from upid.cli.window import analysis_request, query
    from upid.workflows.analyze import idle as run
    from upid.workflows.documents import idle_document
    from upid.workflows.requests import idle_policy, pricebook

    s = session(ctx, store, timezone=timezone)
    policy = idle_policy(s.settings, min_idle=parse_duration(min_idle), min_confidence=min_confidence)
    q = query(cluster, context, namespace, all_namespaces, selector, history, until)
    request = analysis_request(s, q, book=pricebook(s.settings))
    with s.progress("looking for idle workloads"):
        result = run(s.store(), request, policy)
    frame, items, money = result.frame, result.items, result.pricing
    flagged = [i for i in items if not i.excluded]
    doc = idle_document(result, policy.min_idle)
    summary = doc["summary"]
    cores, memory, monthly = summary["cpu_cores"], summary["memory_bytes"], summary["monthly_savings"]
    footer = [
        f"cluster {frame.cluster}  window {iso(frame.start)} .. {iso(frame.end)}  {len(flagged)} idle "
        f"workloads holding {format_cpu(cores)} CPU and {format_bytes(memory)} memory in requests: "
        f"{format_money(monthly, money.currency)} a month"
    ]
    view = View(
        document=doc,
        records=_records(items, output in ("wide", "csv"), result),
        columns=with_money(COLUMNS, money.currency, "monthly_savings"),
        footer=footer,
        empty="No idle workloads found.",
        csv=CSV,
        totals={
            "replicas": sum(i.replicas or 0 for i in flagged),
            "cpu_cores": cores,
            "memory_bytes": memory,
            "monthly_savings": monthly,
        },
    )
    if output in ("kube-green", "downscaler"):
        from upid.cli.printers import sleep

        text = sleep.kube_green(flagged, _workloads(frame)) if output == "kube-green" else sleep.downscaler(flagged)
        if not text:
            s.notice("No workload is idle on a recurring window.")
        s.out.write(text)
        return
    emit(view, output, s, no_headers, sort_by)


def _workloads(frame: Any) -> list[tuple[str, str, str]]:
    c = frame.containers
    return sorted(
        {
            (str(c["namespace"][i]), str(c["workload_kind"][i]), str(c["workload"][i]))
            for i in range(frame.container_count)
        }
    )
