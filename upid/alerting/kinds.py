"""The built-in conditions: each turns one cluster's facts and a rule's parameters into the instances that are
active now, each with its labels and a value. Pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from upid.analysis.budget import BudgetStatus
from upid.analysis.capacity import Trend
from upid.analysis.history import ContainerHistory
from upid.analysis.window import ClusterWindow

CONTAINER = ("namespace", "workload_kind", "workload", "container")


@dataclass(frozen=True)
class Facts:
    """What the rules look at, for one cluster, as of `now` (UNIX seconds)."""

    cluster: str
    now: float
    analysis: dict[str, Any] | None = None  # analyze's document (recommendations, idle, summary)
    containers: list[ContainerHistory] = field(default_factory=list)
    capacity: list[Trend] = field(default_factory=list)
    last_sample: int | None = None
    window: ClusterWindow | None = None  # the analysed window itself (anomaly reads its usage history)
    budgets: list[BudgetStatus] = field(default_factory=list)  # this month against each budget (budget)
    error: str | None = None  # why the analysis could not be read (collect_stale still works)


def inline_source(params: dict[str, Any]) -> str:
    """Where a budget rule's own budget (params monthly > 0) comes from: its statuses carry this source."""
    return f"rule:{params['per']}:{params['monthly']:g}"


@dataclass(frozen=True)
class Instance:
    labels: dict[str, str]
    value: float


def _container_labels(cluster: str, key: tuple[str, ...]) -> dict[str, str]:
    return {"cluster": cluster, **dict(zip(CONTAINER, key, strict=True))}


def oom_risk(f: Facts, p: dict[str, Any]) -> list[Instance]:
    """Memory p99 within margin_percent of the limit (value: p99 / limit), or OOM kills in the window (value:
    the kills, label reason=oom_killed)."""
    out = []
    for h in f.containers:
        limit = h.current.get("memory_limit")
        if h.oom_kills:
            out.append(Instance({**_container_labels(f.cluster, h.key), "reason": "oom_killed"}, len(h.oom_kills)))
            continue
        if limit and len(h.memory_peaks):
            ratio = float(np.percentile(h.memory_peaks, 99)) / float(limit)
            if ratio >= 1 - p["margin_percent"] / 100:
                out.append(Instance({**_container_labels(f.cluster, h.key), "reason": "near_limit"}, round(ratio, 4)))
    return out


def cpu_starved(f: Facts, p: dict[str, Any]) -> list[Instance]:
    """Usage above the request in more than above_request_percent of the samples (value: that share), or the
    p95 at limit_percent of the CPU limit or more: throttling (value: p95 / limit)."""
    out = []
    for h in f.containers:
        request, limit = h.current.get("cpu_request"), h.current.get("cpu_limit")
        if not len(h.cpu):
            continue
        if request:
            share = float((h.cpu > request).mean())
            if share * 100 > p["above_request_percent"]:
                out.append(
                    Instance({**_container_labels(f.cluster, h.key), "reason": "above_request"}, round(share, 4))
                )
                continue
        if limit:
            ratio = float(np.percentile(h.cpu, 95)) / float(limit)
            if ratio * 100 >= p["limit_percent"]:
                out.append(Instance({**_container_labels(f.cluster, h.key), "reason": "throttling"}, round(ratio, 4)))
    return out


def idle(f: Facts, p: dict[str, Any]) -> list[Instance]:
    """Idle workloads (value: what scaling them to zero saves a month); schedules too with include_schedules."""
    out = []
    for i in (f.analysis or {}).get("idle") or []:
        if (
            i["kind"] == "idle"
            and (i.get("idle_hours") or 0) >= p["min_hours"]
            or (i["kind"] == "schedule" and p["include_schedules"])
        ):
            labels = {"cluster": f.cluster, **{k: i[k] for k in ("namespace", "workload_kind", "workload")}}
            out.append(Instance({**labels, "finding": i["kind"]}, float(i.get("monthly_savings") or 0.0)))
    return out


def waste(f: Facts, p: dict[str, Any]) -> list[Instance]:
    """Possible savings a month per workload, namespace or cluster at or above min_monthly (value: the amount,
    each workload counted once, as analyze's SAVINGS/MO)."""
    keys = {"workload": ("namespace", "workload_kind", "workload"), "namespace": ("namespace",), "cluster": ()}[
        p["per"]
    ]
    doc = f.analysis or {}
    totals: dict[tuple[str, ...], float] = {}
    for r in doc.get("recommendations") or []:
        k = tuple(r[x] for x in keys)
        totals[k] = totals.get(k, 0.0) + float(r.get("counted_monthly_savings") or 0.0)
    currency = (doc.get("summary") or {}).get("currency", "USD")
    return [Instance({"cluster": f.cluster, **dict(zip(keys, k, strict=True)), "currency": currency}, round(v, 2))
            for k, v in sorted(totals.items()) if v >= p["min_monthly"] and v > 0]  # fmt: skip


def collect_stale(f: Facts, p: dict[str, Any]) -> list[Instance]:
    """No sample for longer than intervals x interval (value: seconds since the newest sample)."""
    from upid.units import parse_duration

    if f.last_sample is None:
        return []
    age = f.now - f.last_sample
    return (
        [Instance({"cluster": f.cluster}, round(age))] if age > p["intervals"] * parse_duration(p["interval"]) else []
    )


def capacity(f: Facts, p: dict[str, Any]) -> list[Instance]:
    """The cluster's requests or usage reach its allocatable within `days` on their trend (value: days)."""
    out = []
    for t in f.capacity:
        if t.scope != "cluster":
            continue
        for what, days in (("requests", t.days_until_requests_full), ("usage", t.days_until_usage_full)):
            if days is not None and days < p["days"]:
                out.append(Instance({"cluster": f.cluster, "resource": t.resource, "measure": what}, float(days)))
    return out


def anomaly(f: Facts, p: dict[str, Any]) -> list[Instance]:
    """The newest hour of a group's CPU or memory far outside the same hour on other days (upid top's modified
    z-score above 3.5; value: that hour's mean). With `for:`, for a duration."""
    from upid.analysis.top import top

    if f.window is None or not len(f.window.usage.ts):
        return []
    report = top(f.window, p["scope"], "hour")
    out = []
    for row in report.rows:
        for resource, s in (("cpu", row.cpu), ("memory", row.memory)):
            if len(s.starts) and s.anomalies and s.anomalies[-1] == int(s.starts[-1]):
                labels = {
                    "cluster": f.cluster,
                    **dict(zip(report.key_names, row.key, strict=True)),
                    "resource": resource,
                }
                out.append(Instance(labels, round(float(s.mean[-1]), 4)))
    return out


def budget(f: Facts, p: dict[str, Any]) -> list[Instance]:
    """A budget whose forecast for the month (spend to date plus the hours left at the last 7 days' rate) is at
    `percent` of its amount or more (value: the forecast). The rule's own budget when it has `monthly` (per
    cluster, or each namespace), else every configured one (config.toml's and the rules file's)."""
    own = inline_source(p) if p["monthly"] > 0 else None
    out = []
    for s in f.budgets:
        mine = s.budget.source == own if own else s.budget.source in ("config", "rules")
        if mine and s.used * 100 >= p["percent"]:
            scope = {"namespace": {"namespace": s.group}, "label": {"label": s.group}}.get(s.budget.scope, {})
            labels = {"cluster": f.cluster, "budget": s.budget.name, **scope, "currency": s.currency}
            out.append(Instance(labels, round(s.forecast, 2)))
    return out


CONDITIONS: dict[str, Callable[[Facts, dict[str, Any]], list[Instance]]] = {
    "oom_risk": oom_risk,
    "cpu_starved": cpu_starved,
    "idle": idle,
    "waste": waste,
    "collect_stale": collect_stale,
    "capacity": capacity,
    "anomaly": anomaly,
    "budget": budget,
}
