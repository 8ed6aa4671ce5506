"""`upid cost`: what workloads, namespaces and nodes cost over a window, and the cluster's idle cost."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from upid.cli.options import (
    AllNamespacesOpt,
    ClusterOpt,
    ContextOpt,
    NamespaceOpt,
    NoHeadersOpt,
    SelectorOpt,
    SortByOpt,
    StoreOpt,
    UntilOpt,
)
from upid.cli.printers import Column, View, emit, output_option
from upid.cli.session import session
from upid.units import format_bytes, format_cpu, format_money, iso
from upid.workflows.requests import COST_GROUPS as BY

app = typer.Typer(
    help="Cost of workloads, namespaces and nodes, OpenCost's way, and the cluster's idle cost.",
    no_args_is_help=False,
    invoke_without_command=True,
)
EXAMPLES = """Examples:

  upid cost                   # by namespace: a month at the 14 days' rate

  upid cost --by workload -n shop --window 30d -o json

  upid cost --period window    # what the window itself cost

  upid cost --by label=team

  upid cost -o json | jq .budgets    # [[budgets]] in config.toml
"""


def _period(value: str) -> str:
    from upid.errors import UsageError

    if value in ("month", "window"):
        return value
    raise UsageError(f"unknown --period {value!r}; allowed: month, window")


def _by(value: str) -> str:
    from upid.workflows.requests import cost_grouping

    return cost_grouping(value)


@app.callback(epilog=EXAMPLES)
def cost(
    ctx: typer.Context,
    cluster: ClusterOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    all_namespaces: AllNamespacesOpt = False,
    selector: SelectorOpt = None,
    by: Annotated[
        str, typer.Option("--by", metavar="GROUP", callback=_by, help=f"Group by {', '.join(BY)} or label=KEY.")
    ] = "namespace",
    window: Annotated[
        str, typer.Option("--window", metavar="DURATION", help="How far back from the end (as analyze's --history).")
    ] = "14d",
    period: Annotated[
        str,
        typer.Option(
            "--period",
            metavar="PERIOD",
            callback=lambda v: _period(v),
            help="month: window cost / covered hours x 730, as every monthly figure of upid; window: the window's "
            "own cost.",
        ),
    ] = "month",
    until: UntilOpt = None,
    output: Annotated[str, output_option()] = "table",
    no_headers: NoHeadersOpt = False,
    sort_by: SortByOpt = None,
    store: StoreOpt = None,
) -> None:
    """Cost over a window: max(request, usage) x unit price per workload; nodes at their capacity; idle = the rest.
    With [[budgets]] in config.toml, each budget's month too: spent so far, the forecast, the pending savings."""
    if ctx.invoked_subcommand:
        return
    from upid.cli.window import analysis_request, query
    from upid.workflows.cost import cost_with_budgets
    from upid.workflows.requests import pricebook

    s = session(ctx, store)
    request = analysis_request(s, query(cluster, context, namespace, all_namespaces, selector, window, until))
    book = pricebook(s.settings)
    frame, report, budgets = cost_with_budgets(s.store(), s.settings, request, book, by, period)
    emit(_view(report, frame, book.unit.currency, budgets), output, s, no_headers, sort_by)


def budget_lines(budgets: list[Any], money: Any) -> list[str]:
    """A line per budget: the month's spend so far, its forecast against the budget, and the pending savings."""
    lines = []
    for b in (x.to_dict() for x in budgets):
        scope = {"cluster": "the cluster", "namespace": f"namespace {b['namespace']}", "label": b["label"]}
        lines.append(
            f"budget {b['name']} ({scope[b['scope']]}) {b['month']}: {money(b['budget'])}; spent {money(b['spent'])}"
            f" in {b['measured_hours']:.0f} measured h; forecast {money(b['forecast'])} ({b['used_percent']:.0f} %"
            f"{', OVER' if b['over'] else ''}); pending savings {money(b['pending_monthly_savings'])}/mo, "
            f"{money(b['savings_to_month_end'])} by month end: {money(b['forecast_if_applied'])} if applied now"
        )
    return lines


def _view(report: Any, frame: Any, currency: str, budgets: list[Any]) -> View:
    from upid.workflows.documents import cost_document, cost_groups

    money = lambda v: format_money(v, currency)  # noqa: E731
    records = cost_groups(frame, report, currency)
    doc = cost_document(frame, report, currency, budgets)
    idle = report.idle_cost
    per = (
        f"a month (window cost / {report.covered_hours:.2f} covered hours x 730)"
        if report.period == "month"
        else f"over the window ({report.covered_hours:.2f} covered hours)"
    )
    footer = [
        f"cluster {frame.cluster}  window {iso(frame.start)} .. {iso(frame.end)}  workloads "
        f"{money(report.workload_cost)}"
        + ("" if report.node_cost is None else f"  nodes {money(report.node_cost)}  idle {money(idle)}")
        + f"  {per}",
        *budget_lines(budgets, money),
    ]
    unit = "/MO" if report.period == "month" else ""
    columns = [
        Column("group", report.by.upper()),
        Column("cpu_cost", "CPU" + unit, money, numeric=True),
        Column("memory_cost", "MEMORY" + unit, money, numeric=True),
        Column("cost", "TOTAL" + unit, money, numeric=True),
        Column("efficiency", "EFFICIENCY", lambda v: "-" if v is None else f"{v * 100:.0f}%", numeric=True),
    ]
    totals = {k: round(sum(r[k] for r in records), 2) for k in ("cpu_cost", "memory_cost", "cost")}
    csv = ["cluster", "by", "group", "period", "currency", "cpu_cost", "memory_cost", "cost", "efficiency"]
    return View(document=doc, records=records, columns=columns, footer=footer, totals=totals, csv=csv)


@app.command("prices", epilog="Example:\n\n  upid cost prices --cluster prod -o json")
def prices_cmd(
    ctx: typer.Context,
    cluster: ClusterOpt = None,
    output: Annotated[str, output_option()] = "table",
    store: StoreOpt = None,
) -> None:
    """Which price each collected node got, and why: per instance type from the settings or the shipped list
    prices (whose sources and dates are listed), else unit prices."""
    from upid.workflows.analyze import AnalysisRequest
    from upid.workflows.cost import node_prices
    from upid.workflows.requests import pricebook

    s = session(ctx, store)
    book = pricebook(s.settings)
    money = book.unit
    records = []
    name, priced = node_prices(s.store(), AnalysisRequest(cluster, s.settings.cluster), book)
    for n, price in priced:
        hourly = price.rates.hourly(n.cpu_capacity, n.memory_capacity)
        records.append(
            {
                "node": n.name,
                "instance_type": n.instance_type,
                "region": n.region,
                "capacity_type": n.capacity_type,
                "cpu_cores": n.cpu_capacity,
                "memory_bytes": int(n.memory_capacity),
                "hourly": round(hourly, 4),
                "cpu_core_hour": round(price.rates.cpu_core_hour, 6),
                "memory_gib_hour": round(price.rates.memory_gib_hour, 6),
                "price": price.reason,
            }
        )
    sources = [
        {"provider": p, "date": b.get("date"), "regions": sorted(b["regions"]), "source": b["source"]}
        for p, b in book.table.get("providers", {}).items()
    ]
    dash = lambda v: v or "-"  # noqa: E731
    columns = [
        Column("node", "NODE"),
        Column("instance_type", "TYPE", dash),
        Column("capacity_type", "CAPACITY", dash),
        Column("cpu_cores", "CPU", format_cpu, numeric=True),
        Column("memory_bytes", "MEMORY", format_bytes, numeric=True),
        Column("hourly", "PER HOUR", lambda v: format_money(v, money.currency), numeric=True),
        Column("price", "PRICE"),
    ]
    footer = [f"list prices: {x['provider']} {', '.join(x['regions'])} ({x['date'] or 'undated'})" for x in sources]
    emit(
        View(
            document={"cluster": name, "currency": money.currency, "nodes": records, "list_prices": sources},
            records=records,
            columns=columns,
            footer=footer,
            empty="No nodes collected for this cluster: costs use unit prices per workload.",
        ),
        output,
        s,
    )
