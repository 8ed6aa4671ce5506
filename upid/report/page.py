"""The report page: one HTML file with its style, script and charts inline (it opens with no network)."""

from __future__ import annotations

from html import escape
from importlib import resources
from typing import Any

from upid.analysis.rightsizing import SEVERITIES
from upid.analysis.schedule import DAY_NAMES, window_text
from upid.report.svg import Level, cost_chart, usage_chart
from upid.units import format_bytes, format_cpu, format_money

MIB, GIB = float(1 << 20), float(1 << 30)


def _asset(name: str) -> str:
    return (resources.files("upid.report") / "assets" / name).read_text(encoding="utf-8")


def _e(value: Any) -> str:
    return escape("-" if value is None else str(value))


def _change(now: str, then: str) -> str:
    return _e(now) if now == then else f"{_e(now)} &rarr; {_e(then)}"


def _card(title: str, value: str, detail: str = "", test_id: str = "") -> str:
    data = f' data-test="{test_id}"' if test_id else ""
    return (
        f'<div class="card"{data}><div class="card-title">{_e(title)}</div><div class="card-value">{value}</div>'
        f'<div class="card-detail">{detail}</div></div>'
    )


def _summary(doc: dict[str, Any]) -> str:
    s, money = doc["summary"], doc["summary"]["currency"]
    cpu, mem, cost = s["cpu_request_cores"], s["memory_request_bytes"], s["monthly_cost"]
    save = s["monthly_savings"]
    bar = "".join(
        f'<span class="sev sev-{k}" style="flex-grow:{n}" title="{k}: {n}">{n}</span>'
        for k, n in s["severity"].items()
        if n
    )
    cards = [
        _card(
            "Savings a month",
            _e(format_money(save["total"], money)),
            f"{_e(format_money(save['rightsizing'], money))} right-sizing, "
            f"{_e(format_money(save['idle'], money))} idle workloads, "
            f"{_e(format_money(save['sleep'], money))} sleep schedules",
            "savings",
        ),
        _card(
            "Monthly cost",
            _change(format_money(cost["current"], money), format_money(cost["recommended"], money)),
            "max(request, usage) at each node's price"
            if s["priced_by"] == "nodes"
            else "max(request, usage) at the unit prices (no node collected)",
        ),
        _card("Score", f"{_e(s['score'])} <span class='grade'>{_e(s['grade'])}</span>", "KRR's score and grade"),
        _card("Containers", _e(s["containers"]), f"{s['workloads']} workloads, {s['samples']:,} samples"),
        _card("CPU requests", _change(format_cpu(cpu["current"]), format_cpu(cpu["recommended"]))),
        _card("Memory requests", _change(format_bytes(mem["current"]), format_bytes(mem["recommended"]))),
        _card("Backtest OOM kills", _e(s["backtest_ooms"]), "recommendations replayed on the newest third"),
    ]
    return (
        f'<section id="summary"><h2>Summary</h2><div class="cards">{"".join(cards)}</div>'
        f'<div class="sevbar" aria-label="containers by severity">{bar}</div></section>'
    )


def _table(table_id: str, headers: list[tuple[str, str]], rows: list[list[tuple[Any, str]]]) -> str:
    """A sortable table: headers are (title, "num"|"text"); cells are (sort value, html)."""
    head = "".join(f'<th data-type="{kind}" tabindex="0">{_e(title)}</th>' for title, kind in headers)
    body = "".join(
        "<tr>" + "".join(f'<td data-value="{_e(value)}">{html}</td>' for value, html in row) + "</tr>" for row in rows
    )
    return f'<table id="{table_id}" class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _namespaces(doc: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    money = doc["summary"]["currency"]
    table = _table(
        "namespace-table",
        [("Namespace", "text"), ("Now", "num"), ("Recommended", "num"), ("Right-sizing", "num"), ("Idle", "num")],
        [
            [
                (r["namespace"], _e(r["namespace"])),
                *((r[k], _e(format_money(r[k], money))) for k in ("current", "recommended", "savings", "idle_savings")),
            ]
            for r in rows
        ],
    )
    chart = cost_chart(rows, money) if rows else "<p>No costs.</p>"
    return f'<section id="namespaces"><h2>Cost by namespace, a month</h2>{chart}{table}</section>'


def _budgets(budgets: list[dict[str, Any]]) -> str:
    """The month's spend and forecast per budget, and what the pending recommendations take off it."""
    if not budgets:
        return ""
    headers = [("Budget", "text"), ("Scope", "text"), ("Month", "text"), ("Budget", "num"), ("Spent", "num"),
               ("Forecast", "num"), ("Of budget", "num"), ("Pending savings a month", "num"),
               ("By month end", "num"), ("Forecast if applied", "num")]  # fmt: skip
    rows = []
    for b in budgets:
        money = lambda v, c=b["currency"]: _e(format_money(v, c))  # noqa: E731
        scope = b["label"] or (f"namespace {b['namespace']}" if b["namespace"] else "cluster")
        over = ' class="over"' if b["over"] else ""
        rows.append([
            (b["name"], _e(b["name"])), (scope, _e(scope)), (b["month"], _e(b["month"])),
            *((b[k], money(b[k])) for k in ("budget", "spent", "forecast")),
            (b["used_percent"], f"<span{over}>{b['used_percent']:.0f} %</span>"),
            *((b[k], money(b[k])) for k in ("pending_monthly_savings", "savings_to_month_end", "forecast_if_applied")),
        ])  # fmt: skip
    note = (
        "<p>Spent: this calendar month's (UTC) measured hours; forecast: spent plus the hours left at the rate of "
        "the last 7 days; pending savings: the recommendations below, applied now.</p>"
    )
    return f'<section id="budgets"><h2>Budgets</h2>{note}{_table("budget-table", headers, rows)}</section>'


def _schedule(schedule: dict[str, Any] | None) -> str:
    if not schedule:
        return "always idle"
    days = tuple(DAY_NAMES.index(d) for d in schedule["days"])
    return window_text(days, schedule["sleep_at"], schedule["wake_up_at"], _e(schedule["time_zone"]), "&ndash;")


def _idle(doc: dict[str, Any]) -> str:
    money = doc["summary"]["currency"]
    items = doc["idle"]
    if not items:
        return '<section id="idle"><h2>Idle workloads</h2><p>No idle workloads in the window.</p></section>'
    table = _table(
        "idle-table",
        [
            ("Namespace", "text"),
            ("Kind", "text"),
            ("Workload", "text"),
            ("Finding", "text"),
            ("Replicas", "num"),
            ("Idle since", "text"),
            ("Idle for (h)", "num"),
            ("Confidence", "num"),
            ("Sleep schedule", "text"),
            ("Saves a month", "num"),
        ],
        [
            [
                (i["namespace"], _e(i["namespace"])),
                (i["workload_kind"], _e(i["workload_kind"])),
                (i["workload"], _e(i["workload"])),
                (i["kind"], _e(i["kind"])),
                (i["replicas"], _e(i["replicas"])),
                (i["idle_since"], _e(i["idle_since"])),
                (i["idle_hours"], _e(i["idle_hours"])),
                (i["confidence"], _e(i["confidence"])),
                ((i["schedule"] or {}).get("hours_per_week", 168), _schedule(i["schedule"])),
                (i["monthly_savings"], _e(format_money(i["monthly_savings"], money))),
            ]
            for i in items
        ],
    )
    return f'<section id="idle"><h2>Idle workloads</h2>{table}</section>'


def _levels(rec: dict[str, Any], resource: str) -> list[Level]:
    now, then = rec["current"], rec["recommended"]
    candidates = [
        ("request", now[f"{resource}_request"], "request"),
        ("limit", now[f"{resource}_limit"], "limit"),
        ("recommended request", then[f"{resource}_request"], "recommended"),
        ("recommended limit", then[f"{resource}_limit"], "recommended-limit"),
    ]
    return [Level(label, float(value), css) for label, value, css in candidates if value is not None]


FOUND = {"rightsize": "right-sizing", "idle": "idle: scale to zero", "sleep": "idle on a schedule: sleep"}
LEGEND = (
    '<div class="legend"><span class="key usage-mean">mean</span><span class="key usage-peak">peak</span>'
    '<span class="key request">request</span><span class="key limit">limit</span>'
    '<span class="key recommended">recommended request</span>'
    '<span class="key recommended-limit">recommended limit</span></div>'
)


def _chart_card(chart: dict[str, Any], money: str) -> str:
    rec, series = chart["container"], chart["series"]
    title = f"{rec['namespace']}/{rec['workload_kind'].lower()}/{rec['workload']}"
    risk = rec.get("risk") or {}
    shortfall = risk.get("cpu_shortfall")
    cpu = usage_chart(
        "cpu", series["start"], series["step"], series["cpu_mean"], series["cpu_max"], _levels(rec, "cpu"), format_cpu
    )
    memory = usage_chart(
        "memory",
        series["start"],
        series["step"],
        series["memory_mean"],
        series["memory_max"],
        _levels(rec, "memory"),
        format_bytes,
    )
    search = " ".join(str(rec[k]) for k in ("namespace", "workload_kind", "workload", "container")).lower()
    risk_text = (
        f"backtest: CPU shortfall {shortfall * 100:.1f}%, OOM kills {risk.get('oom_count')}"
        if shortfall is not None
        else "backtest: not enough history"
    )
    return (
        f'<article class="workload" data-namespace="{_e(rec["namespace"])}" data-search="{_e(search)}">'
        f"<header><h3>{_e(title)} <small>container {_e(rec['container'])}</small></h3>"
        f'<span class="badge sev-{_e(rec["severity"])}">{_e(rec["severity"])}</span>'
        f'<span class="saving">{_e(format_money(rec["counted_monthly_savings"], money))} a month, '
        f"{_e(FOUND[rec['finding']])}</span></header>"
        f'<div class="charts"><figure><figcaption>CPU (cores)</figcaption>{cpu}</figure>'
        f"<figure><figcaption>Memory (working set)</figcaption>{memory}</figure></div>"
        f'<p class="note">{_e(risk_text)}{"; " + _e(rec["reason"]) if rec.get("reason") else ""}</p></article>'
    )


def _workloads(report: dict[str, Any]) -> str:
    doc = report["analysis"]
    money = doc["summary"]["currency"]
    charts = report["charts"]
    names = sorted({c["container"]["namespace"] for c in charts})
    options = "".join(f'<option value="{_e(n)}">{_e(n)}</option>' for n in names)
    cards = "".join(_chart_card(c, money) for c in charts)
    total = len(doc["recommendations"])
    return (
        f'<section id="workloads"><h2>Usage against requests, limits and recommendations</h2>'
        f'<p class="hint">{len(charts)} of {total} containers charted, the worst severity first. Mean and peak are '
        f"per pod, so they compare with the per-pod request and limit.</p>{LEGEND}"
        f'<div class="filters"><input id="filter" type="search" placeholder="filter by name" aria-label="filter">'
        f'<select id="namespace-filter" aria-label="namespace"><option value="">all namespaces</option>{options}'
        f'</select><span id="shown"></span></div>{cards}</section>'
    )


def _recommendations(doc: dict[str, Any]) -> str:
    money = doc["summary"]["currency"]
    rows = []
    for r in doc["recommendations"]:
        now, then, risk = r["current"], r["recommended"], r.get("risk") or {}
        shortfall = risk.get("cpu_shortfall")
        rows.append(
            [
                (r["namespace"], _e(r["namespace"])),
                (r["workload"], _e(r["workload"])),
                (r["container"], _e(r["container"])),
                (now["cpu_request"], _change(format_cpu(now["cpu_request"]), format_cpu(then["cpu_request"]))),
                (
                    now["memory_request"],
                    _change(format_bytes(now["memory_request"]), format_bytes(then["memory_request"])),
                ),
                (SEVERITIES.index(r["severity"]), f'<span class="badge sev-{r["severity"]}">{r["severity"]}</span>'),
                (shortfall, "-" if shortfall is None else f"{shortfall * 100:.1f}%"),
                (risk.get("oom_count"), _e(risk.get("oom_count"))),
                (r["monthly_savings"], _e(format_money(r["monthly_savings"], money))),
            ]
        )
    table = _table(
        "recommendations-table",
        [
            ("Namespace", "text"),
            ("Workload", "text"),
            ("Container", "text"),
            ("CPU request", "num"),
            ("Memory request", "num"),
            ("Severity", "num"),
            ("CPU shortfall", "num"),
            ("OOM kills", "num"),
            ("Savings a month", "num"),
        ],
        rows,
    )
    return f'<section id="recommendations"><h2>All recommendations</h2>{table}</section>'


def render(report: dict[str, Any]) -> str:
    """The whole page for a report document (upid.report.model.report_document)."""
    doc = report["analysis"]
    window = doc["window"]
    title = f"upid report: {doc['cluster']}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"<title>{_e(title)}</title><style>{_asset('report.css')}</style></head><body>"
        f"<header class='page'><h1>{_e(title)}</h1><p>window {_e(window['start'])} .. {_e(window['end'])}, "
        f"strategy {_e(doc['strategy'])}, generated {_e(report['generated'])} by upid {_e(report['upid_version'])}"
        f"</p></header><main>{_summary(doc)}{_budgets(report.get('budgets') or [])}"
        f"{_namespaces(doc, report['namespaces'])}{_idle(doc)}"
        f"{_workloads(report)}{_recommendations(doc)}</main>"
        f"<script>{_asset('report.js')}</script></body></html>\n"
    )
