"""`upid optimize`: the findings as changes. A dry run by default; GitOps patches; or applied, with an audit
trail (`optimize history`), a rollback and `wake` for workloads scaled to zero."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from upid.cli.options import (
    AllNamespacesOpt,
    ClusterOpt,
    ContextOpt,
    HistoryOpt,
    KubeconfigOpt,
    NamespaceOpt,
    NoHeadersOpt,
    RequestTimeoutOpt,
    ResolutionOpt,
    SelectorOpt,
    SortByOpt,
    StoreOpt,
    StrategyOpt,
    UntilOpt,
    YesOpt,
    choice,
)
from upid.cli.printers import Column, View, emit, output_option, with_money
from upid.cli.session import Session, session
from upid.errors import NoDataError, UsageError
from upid.units import iso

HELP = "Turn findings into changes: a dry-run diff, GitOps patches, or applied with an audit trail and a rollback."
EXAMPLES = """Examples:

  upid optimize                    # dry run: the changes, savings and risk

  upid optimize -n shop -o patch --out patches/   # patches for GitOps

  upid optimize --context prod --only idle --apply

  upid optimize history; upid optimize rollback --last
"""
PLAN_FORMATS = ("diff", "patch", "json-patch", "kubectl")
SEVERITY_NAMES = (
    "unknown",
    "good",
    "ok",
    "warning",
    "critical",
)  # analysis.rightsizing.SEVERITIES, import-free for --help

app = typer.Typer(help=HELP, epilog=EXAMPLES, invoke_without_command=True)


def _connect(s: Session, kubeconfig: str | None, context: str | None, timeout: str) -> Any:
    from upid.cluster.api import Api
    from upid.cluster.connect import kubeconfig_path, target
    from upid.units import parse_duration

    t = target(kubeconfig_path(kubeconfig), context)
    return t, Api(t.client, timeout=parse_duration(timeout))


def _changes_session(s: Session, cluster: str, t: Any, api: Any) -> Any:
    from upid.workflows.changes import Session as ChangeSession

    return ChangeSession(
        store=s.store(),
        api=api,
        cluster=cluster,
        context=t.context,
        kube_user=t.user,
        os_user=s.audit("optimize").user,
        progress=s.notice,
    )


OUTCOME_COLUMNS = [
    Column("change_id", "CHANGE"),
    Column("namespace", "NAMESPACE"),
    Column("kind", "KIND"),
    Column("workload", "WORKLOAD"),
    Column("action", "ACTION"),
    Column("status", "STATUS"),
    Column("message", "MESSAGE"),
]


def _report(s: Session, outcomes: list[Any], output: str, document: dict[str, Any] | None = None) -> None:
    """Print what happened; exit with the first failure's code (a forbidden patch: 13) if any failed."""
    records = [{**o.to_dict(), "kind": o.kind} for o in outcomes]
    doc = {**(document or {}), "results": records}
    fmt = output if output in ("json", "yaml", "table", "wide", "csv") else "table"
    emit(View(document=doc, records=records, columns=OUTCOME_COLUMNS, empty="Nothing to do."), fmt, s)
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        first = failed[0]
        s.err.write(
            f"error: {len(failed)} of {len(outcomes)} change(s) failed; the others are recorded "
            f"(upid optimize history). First: {first.namespace}/{first.name}: {first.message}\n"
        )
        raise typer.Exit(int(first.error.exit_code) if first.error else 1)


@app.callback(invoke_without_command=True)
def optimize(
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
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            metavar="KIND",
            callback=choice(("rightsize", "idle"), "--only"),
            help="Only right-sizing or only idle workloads (scaled to zero).",
            show_default=False,
        ),
    ] = None,
    min_savings: Annotated[
        float, typer.Option("--min-savings", metavar="AMOUNT", help="Leave out changes saving less a month.")
    ] = 0.0,
    severity: Annotated[
        str,
        typer.Option(
            "--severity",
            metavar="LEVEL",
            callback=choice(SEVERITY_NAMES, "--severity"),
            help="Leave out right-sizing below this severity: unknown, good, ok, warning, critical.",
        ),
    ] = "good",
    allow_hpa: Annotated[
        bool, typer.Option("--allow-hpa", help="Also set the resource an HPA scales on (and scale HPA targets).")
    ] = False,
    output: Annotated[str, output_option(PLAN_FORMATS)] = "diff",
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="DIR", help="With -o patch: write the patch files here.", show_default=False),
    ] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Make the changes on the cluster (asks first).")] = False,
    yes: YesOpt = False,
    kubeconfig: KubeconfigOpt = None,
    request_timeout: RequestTimeoutOpt = "30s",
    no_headers: NoHeadersOpt = False,
    sort_by: SortByOpt = None,
    store: StoreOpt = None,
) -> None:
    """Plan the changes the analysis finds (a dry run unless --apply)."""
    if ctx.invoked_subcommand:
        return
    from upid.cli.window import query, rightsizing_request
    from upid.workflows.optimize import make_plan
    from upid.workflows.requests import idle_policy, plan_options

    if out is not None and output != "patch":
        raise UsageError("--out goes with -o patch")
    if apply and output in ("patch", "json-patch", "kubectl"):
        raise UsageError(f"-o {output} is for GitOps and scripts; --apply makes the changes itself")
    s = session(ctx, store)
    st = s.settings
    q = query(cluster, context, namespace, all_namespaces, selector, history, until, resolution)
    request = rightsizing_request(s, q, strategy)
    options = plan_options(st, only, min_savings, severity, allow_hpa)
    with s.progress("planning"):
        result = make_plan(s.store(), request, options, idle_policy(st))
    plan = result.plan
    if not apply:
        _show_plan(s, result, output, out, no_headers, context, sort_by)
        return
    _apply(s, plan, output, yes, kubeconfig, context, request_timeout)


def _show_plan(
    s: Session, result: Any, output: str, out: Path | None, no_headers: bool, context: str | None, sort_by: str | None
) -> None:
    from upid.cli.printers import gitops
    from upid.optimize.render import plan_document, plan_text, summary_lines

    plan = result.plan
    if output == "diff":
        s.out.write(plan_text(plan))
        for line in summary_lines(plan):
            s.notice(line)
        return
    if output in PLAN_FORMATS:
        gitops.write(s, plan, result.container_order, output, out, context)
        return
    records = [{**_plan_row(c), "cluster": plan.cluster, "currency": plan.currency} for c in plan.changes]
    view = View(
        document=plan_document(plan),
        records=records,
        columns=with_money(PLAN_COLUMNS, plan.currency, "savings"),
        empty="No changes to make.",
        totals={"savings": round(sum(c.monthly_savings for c in plan.changes), 2)},
        csv=PLAN_CSV,
    )
    view.footer = summary_lines(plan)
    emit(view, output, s, no_headers, sort_by)


PLAN_COLUMNS = [
    Column("namespace", "NAMESPACE"),
    Column("kind", "KIND", wide=True),
    Column("workload", "WORKLOAD"),
    Column("action", "ACTION"),
    Column("change", "CHANGE"),
    Column("savings", "SAVINGS/MO", numeric=True),
    Column("risk", "BACKTEST RISK", sort_key="cpu_shortfall"),
    Column("confidence", "CONF", lambda v: "-" if v is None else f"{v:.2f}", wide=True, numeric=True),
]


PLAN_CSV = [  # one row per change; each container's values are in analyze -o csv
    "cluster", "namespace", "workload_kind", "workload", "action", "containers", "replicas_before", "replicas_after",
    "severity", "confidence", "cpu_shortfall", "oom_count", "currency", "monthly_savings",
]  # fmt: skip


def _plan_row(c: Any) -> dict[str, Any]:
    from upid.optimize.patches import quantity

    if c.action == "scale-to-zero":
        what = f"replicas {c.replicas_before} -> 0"
    else:
        what = "; ".join(
            f"{x.name}: "
            + ", ".join(
                f"{k.replace('_', ' ')} {'-' if x.before[k] is None else quantity(k, x.before[k])} -> "
                f"{quantity(k, x.after[k]) if x.after[k] is not None else '-'}"
                for k in x.changed
            )
            for x in c.containers
        )
    risk = c.risk or {}
    shortfall = risk.get("cpu_shortfall")
    return {
        "namespace": c.namespace,
        "kind": c.kind,
        "workload": c.name,
        "action": c.action,
        "change": what,
        "savings": c.monthly_savings,
        "cpu_shortfall": shortfall,
        "risk": "-"
        if not risk
        else f"cpu {'-' if shortfall is None else f'{shortfall:.1%}'} / oom {risk.get('oom_count')}",
        "confidence": c.confidence,
        "workload_kind": c.kind,
        "containers": " ".join(x.name for x in c.containers),
        "replicas_before": c.replicas_before,
        "replicas_after": c.replicas_after,
        "severity": c.severity,
        "oom_count": risk.get("oom_count"),
        "monthly_savings": c.monthly_savings,
    }


def _apply(
    s: Session, plan: Any, output: str, yes: bool, kubeconfig: str | None, context: str | None, timeout: str
) -> None:
    from upid.optimize.render import plan_document, plan_text, summary_lines
    from upid.workflows.changes import apply_plan

    if output == "diff":
        s.out.write(plan_text(plan))
    for line in summary_lines(plan):
        s.notice(line)
    if not plan.changes:
        return
    t, api = _connect(s, kubeconfig, context, timeout)
    where = f"context {t.context}" if t.context else "this cluster"
    question = f"Apply {len(plan.changes)} change(s) to {where} (cluster {plan.cluster})?"
    outcomes = apply_plan(_changes_session(s, plan.cluster, t, api), plan, partial(s.confirm, question, yes))
    _report(s, outcomes, output, {"plan": plan_document(plan)})


@app.command("history", epilog="Example:\n\n  upid optimize history -o wide --limit 20")
def history_(
    ctx: typer.Context,
    cluster: ClusterOpt = None,
    limit: Annotated[int, typer.Option("--limit", metavar="N", help="The newest N changes.")] = 50,
    output: Annotated[str, output_option()] = "table",
    no_headers: NoHeadersOpt = False,
    store: StoreOpt = None,
) -> None:
    """The audit trail: every change upid made or tried, with who, where, before and after."""
    s = session(ctx, store)
    rows = s.store().changes(limit=limit, cluster=cluster)
    records = [
        {
            "id": r.id,
            "run": r.run,
            "started_at": iso(r.started_at),
            "finished_at": iso(r.finished_at),
            "cluster": r.cluster,
            "context": r.context,
            "kube_user": r.kube_user,
            "os_user": r.os_user,
            "namespace": r.namespace,
            "workload_kind": r.kind,
            "workload": r.name,
            "action": r.action,
            "status": r.status,
            "message": r.message,
            "rollback_of": r.rollback_of,
            "before": r.before,
            "after": r.after,
        }
        for r in rows
    ]
    columns = [
        Column("id", "ID", numeric=True),
        Column("started_at", "TIME"),
        Column("context", "CONTEXT", wide=True),
        Column("kube_user", "USER", wide=True),
        Column("namespace", "NAMESPACE"),
        Column("workload", "WORKLOAD"),
        Column("action", "ACTION"),
        Column("status", "STATUS"),
        Column("run", "RUN", wide=True),
        Column("message", "MESSAGE", wide=True),
    ]
    emit(
        View(document={"changes": records}, records=records, columns=columns, empty="No changes yet."),
        output,
        s,
        no_headers,
    )


@app.command(
    "rollback",
    epilog="Examples:\n\n  upid optimize rollback --last\n\n  upid optimize rollback 42 --context prod --yes",
)
def rollback(
    ctx: typer.Context,
    change_id: Annotated[int | None, typer.Argument(metavar="[CHANGE_ID]", help="The change to undo.")] = None,
    last: Annotated[bool, typer.Option("--last", help="Undo every change of the last apply.")] = False,
    context: ContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    request_timeout: RequestTimeoutOpt = "30s",
    yes: YesOpt = False,
    output: Annotated[str, output_option()] = "table",
    store: StoreOpt = None,
) -> None:
    """Restore exactly the values a change (or the last apply) replaced."""
    from upid.workflows.analyze import cluster_of_context
    from upid.workflows.changes import rollback as run

    if (change_id is None) == (not last):
        raise UsageError("give a CHANGE_ID or --last (not both)")
    s = session(ctx, store)
    t, api = _connect(s, kubeconfig, context, request_timeout)
    cluster = cluster_of_context(s.store(), t.context) if t.context else s.settings.cluster or ""
    what = f"change {change_id}" if change_id is not None else "the last apply"
    s.confirm(f"Roll back {what} on context {t.context}?", yes)
    _report(s, run(_changes_session(s, cluster, t, api), change_id, last), output)


@app.command(
    "wake", epilog="Examples:\n\n  upid optimize wake -n shop\n\n  upid optimize wake checkout --context prod --yes"
)
def wake(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(metavar="[WORKLOAD]...", help="Only these workloads.")] = None,
    namespace: NamespaceOpt = None,
    context: ContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    request_timeout: RequestTimeoutOpt = "30s",
    yes: YesOpt = False,
    output: Annotated[str, output_option()] = "table",
    store: StoreOpt = None,
) -> None:
    """Scale workloads upid scaled to zero back to their upid.io/original-replicas."""
    from upid.workflows.analyze import cluster_of_context
    from upid.workflows.changes import wake as run

    s = session(ctx, store)
    t, api = _connect(s, kubeconfig, context, request_timeout)
    try:
        cluster = cluster_of_context(s.store(), t.context or "")
    except NoDataError:  # never collected: the audit trail names the context
        cluster = t.context or "in-cluster"
    s.confirm(f"Wake the workloads upid scaled to zero on context {t.context}?", yes)
    _report(s, run(_changes_session(s, cluster, t, api), namespace, names), output)
