"""`upid analyze`: what every workload container should request, how safe that is, and why."""

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
    ResolutionOpt,
    SelectorOpt,
    SortByOpt,
    StoreOpt,
    StrategyOpt,
    UntilOpt,
    choice,
)
from upid.cli.printers import Column, View, emit, output_option, severity_style, with_money
from upid.cli.session import session
from upid.units import format_bytes, format_count, format_cpu, format_money, iso

HELP = "Recommend requests and limits for every workload container, with their risk backtested on its own history."
EXAMPLES = """Examples:

  upid analyze                # the store's only cluster, the last 14 days

  upid analyze --cluster prod -n shop --history 7d -o json

  upid analyze --strategy krr-simple -o wide
"""


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _risk(risk: dict[str, Any] | None) -> str:
    if not risk or (risk.get("cpu_shortfall") is None and risk.get("oom_count") is None):
        return "-"
    cpu = _percent(risk["cpu_shortfall"]) if risk.get("cpu_shortfall") is not None else "-"
    oom = "-" if risk.get("oom_count") is None else str(risk["oom_count"])
    return f"cpu {cpu} / oom {oom}"


def _change(current: str, recommended: str) -> str:
    return current if current == recommended or recommended == "-" else f"{current} -> {recommended}"


COLUMNS = [
    Column("namespace", "NAMESPACE"),
    Column("workload_kind", "KIND", wide=True),
    Column("workload", "WORKLOAD"),
    Column("container", "CONTAINER"),
    Column("pods", "PODS", wide=True, numeric=True),
    Column("cpu_p95_cores", "CPU P95", format_cpu, wide=True, numeric=True),
    Column("cpu", "CPU REQUEST", sort_key="cpu_request_cores"),
    Column("memory_max_bytes", "MEM MAX", format_bytes, wide=True, numeric=True),
    Column("memory", "MEMORY REQ/LIMIT", sort_key="memory_request_bytes"),
    Column("severity", "SEVERITY", sort_key="severity_rank", style=severity_style),
    Column("severity_reason", "WHY", wide=True),
    Column("krr_severity", "KRR", wide=True),
    Column("risk", "BACKTEST RISK", sort_key="cpu_shortfall"),
    Column("counted_monthly_savings", "SAVINGS/MO", numeric=True),
    Column("finding", "SAVED BY"),
    Column("confidence", "CONF", lambda v: "-" if v is None else f"{v:.2f}", wide=True, numeric=True),
    Column("reason", "REASON", wide=True),
]


CSV = [  # -o csv: raw values, base units in the names (docs/json-output.md "CSV")
    "cluster", "namespace", "workload_kind", "workload", "container", "pods", "samples",
    "cpu_request_cores", "cpu_request_recommended_cores", "cpu_limit_cores", "cpu_limit_recommended_cores",
    "memory_request_bytes", "memory_request_recommended_bytes", "memory_limit_bytes", "memory_limit_recommended_bytes",
    "cpu_p50_cores", "cpu_p95_cores", "cpu_max_cores", "memory_p95_bytes", "memory_max_bytes",
    "severity", "severity_reason", "krr_severity", "cpu_shortfall", "cpu_samples_above", "oom_count",
    "currency", "monthly_cost_current", "monthly_cost_recommended", "monthly_savings", "finding",
    "counted_monthly_savings", "confidence", "reason",
]  # fmt: skip


def _record(d: dict[str, Any], currency: str) -> dict[str, Any]:
    """A row of the table and of -o csv, from a recommendation of the JSON document."""
    from upid.analysis.severity import SEVERITIES

    cur, rec, use = d["current"], d["recommended"], d["usage"]
    risk, cost = d["risk"] or {}, d["monthly_cost"] or {}
    return {
        **{k: d[k] for k in ("cluster", "namespace", "workload_kind", "workload", "container", "confidence", "reason")},
        **{k: d[k] for k in ("severity", "severity_reason", "krr_severity", "finding", "counted_monthly_savings")},
        "pods": use["pods"],
        "samples": use["samples"],
        **{f"{k}_cores": cur[k] for k in ("cpu_request", "cpu_limit")},
        **{f"{k}_recommended_cores": rec[k] for k in ("cpu_request", "cpu_limit")},
        **{f"{k}_bytes": cur[k] for k in ("memory_request", "memory_limit")},
        **{f"{k}_recommended_bytes": rec[k] for k in ("memory_request", "memory_limit")},
        **{f"{k}_cores": use[k] for k in ("cpu_p50", "cpu_p95", "cpu_max")},
        **{f"{k}_bytes": use[k] for k in ("memory_p95", "memory_max")},
        **{k: risk.get(k) for k in ("cpu_shortfall", "cpu_samples_above", "oom_count")},
        "currency": currency,
        "monthly_cost_current": cost.get("current"),
        "monthly_cost_recommended": cost.get("recommended"),
        "monthly_savings": d["monthly_savings"],
        # the table's own columns
        "cpu": _change(format_cpu(cur["cpu_request"]), format_cpu(rec["cpu_request"])),
        "memory": _change(format_bytes(cur["memory_request"]), format_bytes(rec["memory_request"])),
        "severity_rank": SEVERITIES.index(d["severity"]),
        "risk": _risk(d["risk"]),
    }


def analysis_view(report: Any, idle: list[Any] | None = None) -> View:
    from upid.analysis.document import analysis_document

    doc = analysis_document(report, idle)
    s = doc["summary"]
    money = s["monthly_savings"]
    cash = lambda v: format_money(v, s["currency"])  # noqa: E731
    cpu, mem = s["cpu_request_cores"], s["memory_request_bytes"]
    footer = [
        f"cluster {report.cluster}  window {iso(report.start)} .. {iso(report.end)}  strategy {report.strategy}  "
        f"{len(report.rows)} containers  {format_count(report.samples)} samples",
        f"score {s['score'] if s['score'] is not None else '-'} ({s['grade'] or '-'})  "
        f"CPU requests {format_cpu(cpu['current'])} -> {format_cpu(cpu['recommended'])}  "
        f"memory {format_bytes(mem['current'])} -> {format_bytes(mem['recommended'])}  "
        f"backtest OOM kills {s['backtest_ooms']}",
        f"monthly cost {cash(s['monthly_cost']['current'])} -> {cash(s['monthly_cost']['recommended'])} "
        f"(window cost / {s['covered_hours']:g} covered hours x 730)",
        f"savings a month {cash(money['total'])} = {cash(money['rightsizing'])} right-sizing "
        f"+ {cash(money['idle'])} idle workloads (their whole cost) + {cash(money['sleep'])} sleep schedules; "
        "each workload counted once (SAVED BY)",
    ]
    records = [_record(d, s["currency"]) for d in doc["recommendations"]]
    totals = {
        "pods": sum(r["pods"] for r in records),
        "cpu": _change(format_cpu(cpu["current"]), format_cpu(cpu["recommended"])),
        "memory": _change(format_bytes(mem["current"]), format_bytes(mem["recommended"])),
        "counted_monthly_savings": money["total"],
    }
    columns = with_money(COLUMNS, report.currency, "counted_monthly_savings")
    return View(document=doc, records=records, columns=columns, footer=footer, totals=totals, csv=CSV)


def analyze(
    ctx: typer.Context,
    cluster: ClusterOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    all_namespaces: AllNamespacesOpt = False,
    selector: SelectorOpt = None,
    history: HistoryOpt = "14d",
    until: UntilOpt = None,
    strategy: StrategyOpt = "upid",
    resolution: ResolutionOpt = "auto",
    cpu_limit: Annotated[
        str | None,
        typer.Option(
            "--cpu-limit",
            metavar="POLICY",
            show_default=False,
            help="CPU limits to recommend: none, a usage percentile (p99) or a multiple of the request "
            "(2x) [env UPID_CPU_LIMIT; config cpu_limit; default none, as KRR].",
        ),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            metavar="LEVEL",
            callback=choice(("warning", "critical"), "--fail-on level"),
            show_default=False,
            help="Exit 15 when a container's severity is LEVEL or worse: warning or critical (CI gating).",
        ),
    ] = None,
    fail_on_savings: Annotated[
        float | None,
        typer.Option(
            "--fail-on-savings",
            metavar="AMOUNT",
            show_default=False,
            help="Exit 16 when the possible savings reach AMOUNT a month (CI gating).",
        ),
    ] = None,
    output: Annotated[str, output_option(("junit",))] = "table",
    no_headers: NoHeadersOpt = False,
    sort_by: SortByOpt = None,
    store: StoreOpt = None,
) -> None:
    from upid.cli.window import query, rightsizing_request
    from upid.workflows.analyze import analyze as run
    from upid.workflows.requests import idle_policy

    s = session(ctx, store, cpu_limit=cpu_limit)
    q = query(cluster, context, namespace, all_namespaces, selector, history, until, resolution)
    request = rightsizing_request(s, q, strategy)
    with s.progress("analysing"):
        report, idle = run(s.store(), request, idle_policy(s.settings))
    view = analysis_view(report, idle)
    if output == "junit":
        from upid.cli.printers.junit import junit

        s.out.write(junit(report, fail_on or "warning"))
    else:
        emit(view, output, s, no_headers, sort_by)
    _gate(view.document["summary"], report, fail_on, fail_on_savings)


def _gate(summary: dict[str, Any], report: Any, fail_on: str | None, fail_on_savings: float | None) -> None:
    """CI gating, after the output is written: a distinct exit code per threshold crossed."""
    from upid.analysis.rightsizing import SEVERITIES
    from upid.errors import SavingsGateError, SeverityGateError

    if fail_on:
        hits = [r for r in report.rows if SEVERITIES.index(r.severity) >= SEVERITIES.index(fail_on)]
        if hits:
            raise SeverityGateError(f"{len(hits)} container(s) at severity {fail_on} or worse (--fail-on {fail_on})")
    savings = summary["monthly_savings"]["total"]
    if fail_on_savings is not None and savings >= fail_on_savings:
        raise SavingsGateError(
            f"possible savings {format_money(savings, summary['currency'])} a month reach "
            f"{format_money(fail_on_savings, summary['currency'])} (--fail-on-savings)"
        )
