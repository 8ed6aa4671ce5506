"""/metrics: the Prometheus text exposition (version 0.0.4) of the analysis of every stored cluster, the store
and the collector, so Prometheus, Grafana and Alertmanager can take over from there. Pure: documents in, text
out. A value that is unknown (null in the document) is left out, never written as 0."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

CONTAINER = ("cluster", "namespace", "workload_kind", "workload", "container")
WORKLOAD = ("cluster", "namespace", "workload_kind", "workload")
SEVERITIES = ("unknown", "good", "ok", "warning", "critical")

Sample = tuple[dict[str, str], float | None]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if value != int(value) or abs(value) >= 1e15 else str(int(value))


def _label_text(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


def _family(name: str, kind: str, help_text: str, samples: Iterable[Sample]) -> Iterator[str]:
    lines = [f"{name}{_label_text(labels)} {_number(value)}" for labels, value in samples if value is not None]
    if not lines:
        return
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} {kind}"
    yield from lines


def _labels(record: dict[str, Any], keys: tuple[str, ...], **more: str) -> dict[str, str]:
    return {**{k: str(record[k]) for k in keys}, **more}


def _containers(docs: list[dict[str, Any]]) -> Iterator[str]:
    rows = [r for d in docs for r in d["recommendations"]]
    resources = (
        ("cpu_request", "cores", "CPU request"),
        ("cpu_limit", "cores", "CPU limit"),
        ("memory_request", "bytes", "memory request"),
        ("memory_limit", "bytes", "memory limit"),
    )
    for key, unit, what in resources:
        yield from _family(
            f"upid_container_{key}_{unit}", "gauge", f"The {what} each workload container has now.",
            ((_labels(r, CONTAINER), r["current"][key]) for r in rows),
        )  # fmt: skip
        yield from _family(
            f"upid_container_{key}_recommended_{unit}", "gauge",
            f"The {what} upid recommends for each workload container.",
            ((_labels(r, CONTAINER), r["recommended"][key]) for r in rows),
        )  # fmt: skip
    yield from _family(
        "upid_container_monthly_savings", "gauge",
        "What each container's finding saves a month, counted once per workload (analyze's SAVINGS/MO).",
        ((_labels(r, CONTAINER, currency=d["summary"]["currency"]), r["counted_monthly_savings"])
         for d in docs for r in d["recommendations"]),
    )  # fmt: skip
    yield from _family(
        "upid_container_backtest_cpu_shortfall_ratio", "gauge",
        "Share of replayed CPU demand above the recommended request in the backtest (0..1).",
        ((_labels(r, CONTAINER), (r["risk"] or {}).get("cpu_shortfall")) for r in rows),
    )  # fmt: skip
    yield from _family(
        "upid_container_backtest_oom_kills", "gauge",
        "OOM kills the recommended memory limit would have caused in the backtest.",
        ((_labels(r, CONTAINER), (r["risk"] or {}).get("oom_count")) for r in rows),
    )  # fmt: skip
    yield from _family(
        "upid_container_severity", "gauge",
        "1 for each container's severity (unknown, good, ok, warning, critical), as analyze's SEVERITY.",
        ((_labels(r, CONTAINER, severity=r["severity"]), 1.0) for r in rows),
    )  # fmt: skip


def _idle(docs: list[dict[str, Any]]) -> Iterator[str]:
    items = [(d, i) for d in docs for i in d.get("idle") or []]
    yield from _family(
        "upid_workload_idle_confidence", "gauge",
        "Each idle finding (kind idle: idle now; schedule: asleep on a recurring window) and its confidence (0..1).",
        ((_labels(i, WORKLOAD, kind=i["kind"]), i["confidence"]) for _, i in items),
    )  # fmt: skip
    yield from _family(
        "upid_workload_idle_monthly_savings", "gauge",
        "What scaling each idle workload to zero (or asleep on its schedule) saves a month.",
        ((_labels(i, WORKLOAD, kind=i["kind"], currency=d["summary"]["currency"]), i.get("monthly_savings"))
         for d, i in items),
    )  # fmt: skip
    yield from _family(
        "upid_workload_sleep_ratio", "gauge", "Share of the week a schedule finding's workload can sleep (0..1).",
        ((_labels(i, WORKLOAD), round(i["sleep_hours_per_week"] / 168, 4))
         for _, i in items if i["kind"] == "schedule" and i.get("sleep_hours_per_week") is not None),
    )  # fmt: skip


def _clusters(docs: list[dict[str, Any]]) -> Iterator[str]:
    money = [(d["cluster"], d["summary"]) for d in docs]
    yield from _family(
        "upid_cluster_monthly_cost", "gauge", "The analysed workloads' cost a month at their current requests.",
        (({"cluster": c, "currency": s["currency"]}, s["monthly_cost"]["current"]) for c, s in money),
    )  # fmt: skip
    yield from _family(
        "upid_cluster_monthly_savings", "gauge",
        "Possible savings a month by finding (rightsizing, idle, sleep), each workload counted once: sum() them.",
        (({"cluster": c, "currency": s["currency"], "finding": f}, s["monthly_savings"][f])
         for c, s in money for f in ("rightsizing", "idle", "sleep")),
    )  # fmt: skip
    yield from _family(
        "upid_cluster_score", "gauge", "KRR's score of the cluster's requests (0..100).",
        (({"cluster": c}, s["score"]) for c, s in money),
    )  # fmt: skip


def _budgets(budgets: list[dict[str, Any]]) -> Iterator[str]:
    """Each budget's month (BudgetStatus.to_dict()): the amount, the spend so far, the forecast and the pending
    savings; alert on `upid_budget_forecast > upid_budget_amount`."""

    def labels(b: dict[str, Any]) -> dict[str, str]:
        scope = {"namespace": b["namespace"]} if b["namespace"] else {"label": b["label"]} if b["label"] else {}
        return {"cluster": b["cluster"], "budget": b["name"], **scope, "currency": b["currency"]}

    for key, what in (
        ("budget", "The budget's amount a month."),
        ("spent", "The budget's scope's cost over this calendar month's (UTC) measured hours so far."),
        ("forecast", "Spent so far plus the month's hours left at the last 7 days' rate."),
        ("pending_monthly_savings", "What the scope's pending recommendations save a month."),
    ):
        name = "upid_budget_amount" if key == "budget" else f"upid_budget_{key}"
        yield from _family(name, "gauge", what, ((labels(b), b[key]) for b in budgets))


def _store(status: dict[str, Any] | None, errors: dict[str, str]) -> Iterator[str]:
    from upid.units import parse_timestamp

    clusters = (status or {}).get("clusters") or []
    yield from _family(
        "upid_store_up", "gauge", "1 when the store could be read for these metrics.", [({}, float(status is not None))]
    )
    yield from _family(
        "upid_store_samples", "gauge", "Samples stored per cluster.",
        (({"cluster": c["cluster"]}, c["samples"]) for c in clusters),
    )  # fmt: skip
    yield from _family(
        "upid_store_last_sample_timestamp_seconds", "gauge", "The newest stored sample of each cluster.",
        (({"cluster": c["cluster"]}, parse_timestamp(c["last"]) if c.get("last") else None) for c in clusters),
    )  # fmt: skip
    if status is not None:
        yield from _family("upid_store_size_bytes", "gauge", "The store's size.", [({}, status["size_bytes"])])
    yield from _family(
        "upid_analysis_up", "gauge", "1 when the cluster's analysis for these metrics worked, 0 when it failed.",
        [({"cluster": c["cluster"]}, 0.0 if c["cluster"] in errors else 1.0) for c in clusters],
    )  # fmt: skip


def collect_lines(state: Any) -> Iterator[str]:
    if state is None:
        return
    with state.lock:
        runs, errors, failures, written = state.runs, state.errors, state.consecutive_failures, state.samples_written
        success, duration, next_run, interval = state.last_success, state.last_duration, state.next_run, state.interval
    yield from _family("upid_collect_runs_total", "counter", "Collect runs since upid serve started.", [({}, runs)])
    yield from _family("upid_collect_errors_total", "counter", "Collect runs that failed.", [({}, errors)])
    yield from _family(
        "upid_collect_consecutive_failures", "gauge", "Collect runs that failed since the last success.",
        [({}, failures)],
    )  # fmt: skip
    yield from _family(
        "upid_collect_samples_written_total", "counter", "Samples written by collect runs.", [({}, written)]
    )
    yield from _family(
        "upid_collect_last_success_timestamp_seconds", "gauge", "When a collect run last succeeded.",
        [({}, success)],
    )  # fmt: skip
    yield from _family(
        "upid_collect_last_duration_seconds", "gauge", "How long the last collect run took.", [({}, duration)]
    )
    yield from _family(
        "upid_collect_next_run_timestamp_seconds", "gauge", "When the next collect run starts.", [({}, next_run)]
    )
    yield from _family("upid_collect_interval_seconds", "gauge", "--collect-every.", [({}, interval)])


def _alerts(states: list[dict[str, Any]]) -> Iterator[str]:
    """Prometheus' ALERTS series, from the states `upid alerts` left in the store: 1 per pending or firing alert."""
    yield from _family(
        "upid_alerts", "gauge",
        "The alerts upid alerts found pending or firing in its last run (labels: the alert's, and alertstate).",
        (({**s["labels"], "alertstate": s["state"]}, 1.0) for s in states if s["state"] in ("pending", "firing")),
    )  # fmt: skip


def exposition(
    analyses: list[dict[str, Any]],
    status: dict[str, Any] | None,
    collect: Any,
    version: str,
    errors: dict[str, str] | None = None,
    alerts: list[dict[str, Any]] | None = None,
    budgets: list[dict[str, Any]] | None = None,
) -> str:
    """The whole /metrics page; `errors`: clusters whose analysis failed, by name (upid_analysis_up 0)."""
    lines = [
        *_family("upid_build_info", "gauge", "The running upid's version.", [({"version": version}, 1.0)]),
        *_containers(analyses),
        *_idle(analyses),
        *_clusters(analyses),
        *_budgets(budgets or []),
        *_store(status, errors or {}),
        *collect_lines(collect),
        *_alerts(alerts or []),
    ]
    return "\n".join(lines) + "\n"
