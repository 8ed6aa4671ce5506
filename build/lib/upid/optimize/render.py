"""A plan for people and machines: the JSON document (docs/json-output.md) and a kubectl-diff-like view."""

from __future__ import annotations

import difflib
from typing import Any

from upid.optimize.patches import FIELDS, quantity
from upid.optimize.plan import Change, ContainerChange, Plan
from upid.units import format_money, iso


def _bytes(key: str, value: float | None) -> float | int | None:
    return None if value is None else (value if key.startswith("cpu") else int(round(value)))


def _values(values: dict[str, float | None]) -> dict[str, Any]:
    return {k: _bytes(k, v) for k, v in values.items()}


def change_record(c: Change) -> dict[str, Any]:
    return {
        "namespace": c.namespace,
        "workload_kind": c.kind,
        "workload": c.name,
        "action": c.action,
        "replicas": {"before": c.replicas_before, "after": c.replicas_after} if c.action == "scale-to-zero" else None,
        "containers": [
            {"container": x.name, "before": _values(x.before), "after": _values(x.after)} for x in c.containers
        ],
        "monthly_savings": c.monthly_savings,
        "confidence": c.confidence,
        "severity": c.severity,
        "risk": c.risk,
    }


def plan_document(plan: Plan) -> dict[str, Any]:
    return {
        "cluster": plan.cluster,
        "window": {"start": iso(plan.start), "end": iso(plan.end)},
        "strategy": plan.strategy,
        "changes": [change_record(c) for c in plan.changes],
        "skipped": [
            {
                "namespace": s.namespace,
                "workload_kind": s.kind,
                "workload": s.name,
                "container": s.container,
                "action": s.action,
                "rule": s.rule,
                "reason": s.reason,
                "monthly_savings": s.monthly_savings,
            }
            for s in plan.skipped
        ],
        "sleep_schedules": [
            {"namespace": k[0], "workload_kind": k[1], "workload": k[2], "monthly_savings": v}
            for k, v in sorted(plan.sleep.items())
        ],
        "summary": plan_summary(plan),
    }


def plan_summary(plan: Plan) -> dict[str, Any]:
    return {
        "changes": len(plan.changes),
        "rightsize": sum(c.action == "rightsize" for c in plan.changes),
        "scale_to_zero": sum(c.action == "scale-to-zero" for c in plan.changes),
        "skipped": len(plan.skipped),
        "below_threshold": plan.below_threshold,
        "monthly_savings": plan.monthly_savings,
        "reconciliation": plan.reconciliation(),
        "currency": plan.currency,
    }


def _resources_yaml(c: ContainerChange, values: dict[str, float | None]) -> list[str]:
    lines = [f"- name: {c.name}", "  resources:"]
    for section in ("requests", "limits"):
        items = [(res, v) for k, (sec, res) in FIELDS.items() if sec == section and (v := values.get(k)) is not None]
        if items:
            lines.append(f"    {section}:")
            lines += [f"      {res}: {quantity(res, v)}" for res, v in items]
    return lines


def _body(c: Change, after: bool) -> list[str]:
    if c.action == "scale-to-zero":
        return [f"replicas: {c.replicas_after if after else c.replicas_before}"]
    out = []
    for x in c.containers:
        out += _resources_yaml(x, x.after if after else x.before)
    return out


def diff(c: Change, currency: str) -> str:
    """A unified diff of the workload's spec, as `kubectl diff` prints one, under a line of money and risk."""
    risk = c.risk or {}
    shortfall = risk.get("cpu_shortfall")
    notes = [f"savings {format_money(c.monthly_savings, currency)}/month"]
    if c.confidence is not None:
        notes.append(f"confidence {c.confidence:.2f}")
    if c.action == "rightsize":
        cpu = "-" if shortfall is None else f"{shortfall:.1%}"
        notes.append(f"backtest: cpu shortfall {cpu}, oom kills {risk.get('oom_count', 0)}")
    header = f"# {c.action} {c.ref}: " + ", ".join(notes)
    where = "spec.jobTemplate.spec.template.spec.containers" if c.kind == "CronJob" else "spec.template.spec.containers"
    where = "spec" if c.action == "scale-to-zero" else where
    lines = difflib.unified_diff(
        _body(c, False), _body(c, True), f"a/{c.ref} {where}", f"b/{c.ref} {where}", lineterm="", n=10
    )
    return "\n".join([header, *lines])


def plan_text(plan: Plan) -> str:
    parts = [diff(c, plan.currency) for c in plan.changes]
    return "\n\n".join(parts) + ("\n" if parts else "")


def summary_lines(plan: Plan) -> list[str]:
    doc = plan_summary(plan)
    cash = lambda v: format_money(v, plan.currency)  # noqa: E731
    out = [
        f"{doc['changes']} change(s): {doc['rightsize']} right-sizing, {doc['scale_to_zero']} scale to zero; "
        f"savings {format_money(plan.monthly_savings, plan.currency)} a month",
    ]
    if plan.below_threshold:
        out.append(f"{plan.below_threshold} change(s) below --min-savings/--severity left out")
    for s in plan.skipped:
        what = f"{s.namespace}/{s.kind}/{s.name}" + (f" [{s.container}]" if s.container else "")
        out.append(f"skipped {s.action} {what}: {s.reason} (rule {s.rule}; {cash(s.monthly_savings)} a month)")
    r = plan.reconciliation()
    parts = [(r["skipped"], "skipped by safety rules"), (r["sleep_schedules"], "sleep schedules (upid idle -o "
             "kube-green)"), (r["below_threshold"], "below --min-savings/--severity"), (r["nothing_to_change"],
             "nothing to change"), (r["left_out_by_only"], "left out by --only")]  # fmt: skip
    rest = " + ".join(f"{cash(v)} {what}" for v, what in parts if v)
    out.append(f"savings a month: {cash(r['plan'])} in the plan" + (f" + {rest}" if rest else "")
               + f" = {cash(r['total'])}, analyze's savings a month")  # fmt: skip
    return out
