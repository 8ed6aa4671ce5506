"""`upid alerts`: evaluate the alert rules on the store now, show firing and pending alerts, deliver them to
Alertmanager or a webhook, and gate cron or CI on them; `alerts rules` and `alerts test FILE`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from upid.cli.options import HistoryOpt, NoHeadersOpt, SortByOpt, StoreOpt, UntilOpt, choice
from upid.cli.printers import Column, View, emit, output_option
from upid.cli.session import session
from upid.units import iso

HELP = "Evaluate alert rules over the store (Prometheus-style, with for:), and deliver them to Alertmanager."
EXAMPLES = """Examples:

  upid alerts                      # the default rules, every cluster, now

  upid alerts --alertmanager http://alertmanager:9093 --fail-on critical

  upid alerts test alerts.yaml     # every problem with its line (exit 2)
"""
app = typer.Typer(help=HELP, epilog=EXAMPLES, invoke_without_command=True, no_args_is_help=False)
RulesOpt = Annotated[
    Path | None,
    typer.Option("--rules", metavar="FILE", help="Rules file [default: UPID_HOME/alerts.yaml, else the shipped "
                 "defaults].", show_default=False),
]  # fmt: skip
LEVELS = ("info", "warning", "critical")

COLUMNS = [
    Column("alert", "ALERT"),
    Column("state", "STATE"),
    Column("severity", "SEVERITY"),
    Column("cluster", "CLUSTER"),
    Column("object", "OBJECT"),
    Column("value", "VALUE", numeric=True),
    Column("since", "SINCE"),
    Column("summary", "SUMMARY", wide=True),
]


def _record(s: Any) -> dict[str, Any]:
    labels = s.labels
    parts = [labels.get(k) for k in ("budget", "namespace", "label", "workload", "container", "resource")]
    return {
        "alert": s.alert,
        "state": s.state,
        "severity": s.severity,
        "cluster": s.cluster,
        "object": "/".join(p for p in parts if p) or "-",
        "value": s.value,
        "since": iso(s.fired_at if s.state == "firing" and s.fired_at else s.active_since),
        "summary": s.annotations.get("summary", ""),
    }


def _document(ev: Any) -> dict[str, Any]:
    def one(s: Any) -> dict[str, Any]:
        return {
            "alert": s.alert, "state": s.state, "severity": s.severity, "cluster": s.cluster, "labels": s.labels,
            "annotations": s.annotations, "value": s.value, "active_since": iso(s.active_since),
            "fired_at": iso(s.fired_at) if s.fired_at else None,
            "resolved_at": iso(s.resolved_at) if s.resolved_at else None, "fingerprint": s.fingerprint,
        }  # fmt: skip

    return {
        "evaluated_at": iso(ev.at),
        "rules": len(ev.rules),
        "alerts": [one(s) for s in ev.states],
        "summary": {k: sum(s.state == k for s in ev.states) for k in ("firing", "pending", "resolved")},
        "errors": [{"cluster": c, "error": m} for c, m in sorted(ev.errors.items())],
    }


@app.callback(epilog=EXAMPLES)
def alerts(
    ctx: typer.Context,
    rules: RulesOpt = None,
    cluster: Annotated[
        list[str] | None,
        typer.Option("--cluster", metavar="NAME", help="Only this cluster (repeatable) [default: every one].",
                     show_default=False),
    ] = None,
    history: HistoryOpt = "14d",
    until: UntilOpt = None,
    alertmanager: Annotated[
        str | None,
        typer.Option("--alertmanager", metavar="URL", help="Send to this Alertmanager's API v2 (user:password@ for "
                     "basic auth).", show_default=False),
    ] = None,
    webhook: Annotated[
        str | None,
        typer.Option("--webhook", metavar="URL", help="Post a Slack-compatible message here.", show_default=False),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", metavar="FILE", help="A bearer token for the receivers.", show_default=False),
    ] = None,
    external_url: Annotated[
        str, typer.Option("--external-url", metavar="URL", help="Where a upid serve runs: the alerts' generatorURL.")
    ] = "http://127.0.0.1:8080",
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", metavar="LEVEL", callback=choice(LEVELS, "--fail-on level"), show_default=False,
                     help="Exit 20 when an alert of severity LEVEL or worse fires: info, warning or critical."),
    ] = None,
    output: Annotated[str, output_option()] = "table",
    no_headers: NoHeadersOpt = False,
    sort_by: SortByOpt = None,
    store: StoreOpt = None,
) -> None:  # fmt: skip
    """Evaluate every rule now: firing and pending alerts (kept across runs for `for:`), delivered if asked."""
    if ctx.invoked_subcommand:
        return
    from upid.errors import AlertsFiringError
    from upid.workflows.alerts import evaluate, load_rules

    s = session(ctx, store)
    chosen = load_rules(rules, s.settings.home)
    token = None
    if token_file:
        from upid.server.auth import read_token

        token = read_token(token_file)
    with s.progress("evaluating the alert rules"):
        ev = evaluate(s.store(), s.settings, chosen, cluster, history, until)
    for c, message in sorted(ev.errors.items()):
        s.warn(f"cluster {c}: {message}")
    shown = [x for x in ev.states if x.state in ("firing", "pending")]
    doc = _document(ev)
    counts = doc["summary"]
    footer = [
        f"{counts['firing']} firing, {counts['pending']} pending, {counts['resolved']} resolved; "
        f"{len(chosen.rules)} rules at {doc['evaluated_at']}"
    ]
    records = [_record(x) for x in shown]
    view = View(document=doc, records=records, columns=COLUMNS, empty="No alerts firing or pending.", footer=footer)
    emit(view, output, s, no_headers, sort_by)
    _deliver(s, ev, alertmanager, webhook, token, external_url)
    if fail_on:
        worst = [x for x in ev.states if x.state == "firing" and LEVELS.index(x.severity) >= LEVELS.index(fail_on)]
        if worst:
            raise AlertsFiringError(f"{len(worst)} alert(s) of severity {fail_on} or worse firing (--fail-on)")


def _deliver(s: Any, ev: Any, alertmanager: str | None, webhook: str | None, token: str | None, external: str) -> None:
    from upid.alerting import delivery

    sent = [x for x in ev.states if x.state != "pending"]
    if alertmanager:
        t = delivery.target(alertmanager.rstrip("/") + "/api/v2/alerts", token)
        if sent:
            delivery.post(t, delivery.alertmanager_body(sent, ev.at, external))
        s.notice(f"sent {len(sent)} alert(s) to {t.shown}")
    if webhook:
        t = delivery.target(webhook, token)
        if sent:
            delivery.post(t, delivery.webhook_body(sent))
        s.notice(f"sent {len(sent)} alert(s) to {t.shown}")


@app.command("rules", epilog="Example:\n\n  upid alerts rules --rules alerts.yaml -o wide")
def rules_cmd(
    ctx: typer.Context,
    rules: RulesOpt = None,
    output: Annotated[str, output_option()] = "table",
    no_headers: NoHeadersOpt = False,
    store: StoreOpt = None,
) -> None:
    """The rules, with their alerts' last state in the store."""
    from upid.workflows.alerts import last_states, load_rules

    s = session(ctx, store)
    chosen = load_rules(rules, s.settings.home)
    try:
        states = last_states(s.store())
    except Exception:  # no store yet: every rule has no state
        states = []
    records = []
    for r in chosen.rules:
        mine = [x for x in states if x.alert == r.alert]
        records.append({
            "alert": r.alert, "kind": r.kind, "for_seconds": r.for_seconds, "severity": r.severity,
            "params": r.params, "firing": sum(x.state == "firing" for x in mine),
            "pending": sum(x.state == "pending" for x in mine), "line": r.line,
        })  # fmt: skip
    columns = [Column("alert", "ALERT"), Column("kind", "KIND"), Column("for_seconds", "FOR", numeric=True),
               Column("severity", "SEVERITY"), Column("firing", "FIRING", numeric=True),
               Column("pending", "PENDING", numeric=True), Column("params", "PARAMS", wide=True)]  # fmt: skip
    emit(View(document={"rules": records}, records=records, columns=columns), output, s, no_headers)


@app.command("test", epilog="Example:\n\n  upid alerts test alerts.yaml && echo valid")
def test_cmd(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="The rules file to check.", show_default=False)],
) -> None:
    """Validate a rules file: every problem with its line, exit 2 if there is one."""
    from upid.alerting.rules import RulesInvalid, parse_file
    from upid.errors import UsageError
    from upid.workflows.alerts import rules_text

    text, source = rules_text(path, Path("."))
    try:
        found = parse_file(text, source)
    except RulesInvalid as e:
        for problem in e.problems[1:]:
            print(f"error: {problem}", file=sys.stderr)
        raise UsageError(e.problems[0] + (f" ({len(e.problems)} problems)" if len(e.problems) > 1 else "")) from None
    print(f"{source}: {len(found.rules)} rules, {len(found.budgets)} budgets, valid")
