"""The report's document: the analysis document, cost by namespace, and the charted containers' usage."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from upid.analysis.rightsizing import SEVERITIES

REPORT_VERSION = 1
KEY = ("namespace", "workload_kind", "workload", "container")


def key_of(record: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(record[k]) for k in KEY)


def namespace_costs(analysis: dict[str, Any]) -> list[dict[str, Any]]:
    """Monthly cost per namespace now and as recommended, and its savings as the summary counts them (an idle
    workload's under idle only), most expensive first."""
    fields = ("current", "recommended", "rs", "idle")
    rows: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(fields, 0.0))
    for r in analysis["recommendations"]:  # each container as the summary counts it (docs/cost.md)
        cost, row = r.get("monthly_cost") or {}, rows[r["namespace"]]
        row["current"] += cost.get("current", 0.0)
        row["recommended"] += cost.get("recommended", 0.0)
        row["rs" if r["finding"] == "rightsize" else "idle"] += r["counted_monthly_savings"]
    out = [
        {
            "namespace": ns,
            "current": round(v["current"], 2),
            "recommended": round(v["recommended"], 2),
            "savings": round(v["rs"], 2),
            "idle_savings": round(v["idle"], 2),
        }
        for ns, v in rows.items()
    ]
    return sorted(out, key=lambda r: (-r["current"], r["namespace"]))


def charted(analysis: dict[str, Any], limit: int) -> list[tuple[str, ...]]:
    """The containers worth a chart: the worst severity first, then the biggest savings."""
    ranked = sorted(
        analysis["recommendations"],
        key=lambda r: (-SEVERITIES.index(r["severity"]), -(r.get("monthly_savings") or 0.0), key_of(r)),
    )
    return [key_of(r) for r in ranked[:limit]]


def report_document(
    analysis: dict[str, Any],
    series: dict[tuple[str, ...], dict[str, Any]],
    generated: str,
    version: str,
    budgets: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`series` maps a container key to upid.analysis.series.bucketed(); its order is the charts' order;
    `budgets`: BudgetStatus.to_dict() of the cluster's budgets."""
    records = {key_of(r): r for r in analysis["recommendations"]}
    return {
        "report_version": REPORT_VERSION,
        "generated": generated,
        "upid_version": version,
        "analysis": analysis,
        "namespaces": namespace_costs(analysis),
        "budgets": budgets or [],
        "charts": [{"container": records[k], "series": s} for k, s in series.items() if k in records],
    }
