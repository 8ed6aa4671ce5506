"""`upid top pods|workloads|namespaces|nodes`: kubectl top over the stored history, by hour or day."""

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
    choice,
)
from upid.cli.printers import Column, View, emit, output_option
from upid.cli.session import session
from upid.units import format_bytes, format_cpu

HELP = "Usage history, kubectl top style: min, mean, p95 and max per hour or day, the trend, and anomalies."
EXAMPLES = """Examples:

  upid top namespaces --history 7d          # what each namespace used, by day

  upid top pods -n shop --by hour -o wide

  upid top nodes -o csv > nodes.csv         # one row per node and day
"""
SCOPES = {"pods": "pods", "pod": "pods", "po": "pods", "workloads": "workloads", "workload": "workloads",
          "namespaces": "namespaces", "namespace": "namespaces", "ns": "namespaces", "nodes": "nodes",
          "node": "nodes", "no": "nodes"}  # fmt: skip  # kubectl's names and short names
BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 30


def sparkline(values: list[float]) -> str:
    """The last SPARK_WIDTH values as bars from the lowest to the highest of them."""
    tail = values[-SPARK_WIDTH:]
    if not tail:
        return ""
    low, high = min(tail), max(tail)
    if high <= low:
        return BARS[0] * len(tail)
    return "".join(BARS[min(len(BARS) - 1, int((v - low) / (high - low) * len(BARS)))] for v in tail)


def _scope(value: str) -> str:
    from upid.errors import UsageError

    if value not in SCOPES:
        raise UsageError(f"unknown resource {value!r}; allowed: pods, workloads, namespaces, nodes")
    return SCOPES[value]


def _trend(t: dict[str, Any], fmt: Any) -> str:
    if t["per_day"] is None:
        return "-"
    sign = "+" if t["per_day"] >= 0 else "-"
    r2 = "" if t["r2"] is None else f" (R2 {t['r2']:.2f})"
    return f"{sign}{fmt(abs(t['per_day']))}/d{r2}"


def _record(doc: dict[str, Any], row: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    cpu, mem = row["cpu"], row["memory"]
    means_cpu = [b["mean"] for b in cpu["buckets"]]
    return {
        "cluster": doc["cluster"],
        **{k: row[k] for k in keys},
        "name": "/".join(str(row[k]) for k in keys if k != "workload_kind"),
        "series": row["series"],
        "cpu_mean": sum(means_cpu) / len(means_cpu) if means_cpu else None,
        "cpu_p95": max((b["p95"] for b in cpu["buckets"]), default=None),
        "cpu_max": max((b["max"] for b in cpu["buckets"]), default=None),
        "memory_mean": (sum(b["mean"] for b in mem["buckets"]) / len(mem["buckets"])) if mem["buckets"] else None,
        "memory_max": max((b["max"] for b in mem["buckets"]), default=None),
        "cpu_trend": _trend(cpu["trend"], format_cpu),
        "memory_trend": _trend(mem["trend"], format_bytes),
        "cpu_per_day": cpu["trend"]["per_day"],
        "anomalies": len(set(cpu["anomalies"]) | set(mem["anomalies"])),
        "cpu_history": sparkline(means_cpu),
        "memory_history": sparkline([b["mean"] for b in mem["buckets"]]),
    }


def _bucket_rows(doc: dict[str, Any], keys: list[str]) -> list[dict[str, Any]]:
    """-o csv: one row per group and bucket, raw values in base units."""
    rows = []
    for row in doc["rows"]:
        anomalies = {"cpu": set(row["cpu"]["anomalies"]), "memory": set(row["memory"]["anomalies"])}
        for c, m in zip(row["cpu"]["buckets"], row["memory"]["buckets"], strict=True):
            rows.append({
                "cluster": doc["cluster"], **{k: row[k] for k in keys}, "bucket_start": c["start"],
                **{f"cpu_{k}_cores": c[k] for k in ("min", "mean", "p95", "max")},
                **{f"memory_{k}_bytes": m[k] for k in ("min", "mean", "p95", "max")},
                "cpu_anomaly": c["start"] in anomalies["cpu"], "memory_anomaly": m["start"] in anomalies["memory"],
            })  # fmt: skip
    return rows


def top(
    ctx: typer.Context,
    resource: Annotated[
        str, typer.Argument(metavar="RESOURCE", help="pods, workloads, namespaces or nodes.", show_default=False)
    ],
    cluster: ClusterOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    all_namespaces: AllNamespacesOpt = False,
    selector: SelectorOpt = None,
    history: Annotated[
        str, typer.Option("--history", metavar="DURATION", help="How far back from the newest sample.")
    ] = "7d",
    until: UntilOpt = None,
    by: Annotated[
        str, typer.Option("--by", metavar="BUCKET", callback=choice(("hour", "day"), "--by"), help="hour or day.")
    ] = "day",
    output: Annotated[str, output_option()] = "table",
    no_headers: NoHeadersOpt = False,
    sort_by: SortByOpt = None,
    store: StoreOpt = None,
) -> None:
    from upid.analysis.top import KEY_NAMES
    from upid.cli.window import analysis_request, query
    from upid.workflows.documents import top_document
    from upid.workflows.top import usage_history

    scope = _scope(resource)
    s = session(ctx, store)
    request = analysis_request(s, query(cluster, context, namespace, all_namespaces, selector, history, until))
    with s.progress(f"reading the history of {scope}"):
        doc = top_document(usage_history(s.store(), request, scope, by))
    keys = list(KEY_NAMES[scope])
    records = [_record(doc, row, keys) for row in doc["rows"]]
    footer = [
        f"cluster {doc['cluster']}  window {doc['window']['start']} .. {doc['window']['end']}  by {by}  "
        f"{len(records)} {scope}  sums of samples on a {doc['step_seconds']} s grid"
        + (f"  {doc['unplaced_samples']} samples without a node left out" if doc["unplaced_samples"] else "")
    ]
    cores, size = lambda v: "-" if v is None else format_cpu(v), lambda v: "-" if v is None else format_bytes(v)  # noqa: E731
    columns = [
        *([Column("namespace", "NAMESPACE")] if scope in ("pods", "workloads") else []),
        Column("name" if scope != "namespaces" else "namespace", scope.upper()[:-1]),
        Column("series", "SERIES", wide=True, numeric=True),
        Column("cpu_mean", "CPU MEAN", cores, numeric=True),
        Column("cpu_p95", "CPU P95", cores, numeric=True),
        Column("cpu_max", "CPU MAX", cores, numeric=True, wide=True),
        Column("cpu_trend", "CPU TREND", sort_key="cpu_per_day"),
        Column("memory_mean", "MEM MEAN", size, numeric=True),
        Column("memory_max", "MEM MAX", size, numeric=True),
        Column("memory_trend", "MEM TREND", wide=True),
        Column("anomalies", "ANOMALIES", numeric=True),
        Column("cpu_history", f"CPU BY {by.upper()}"),
        Column("memory_history", f"MEM BY {by.upper()}", wide=True),
    ]
    if scope == "pods":
        for r in records:
            r["name"] = r["pod"]
    stats = ("min", "mean", "p95", "max")
    csv_keys = ["cluster", *keys, "bucket_start", *(f"cpu_{k}_cores" for k in stats),
                *(f"memory_{k}_bytes" for k in stats), "cpu_anomaly", "memory_anomaly"]  # fmt: skip
    view = View(
        document=doc,
        records=_bucket_rows(doc, keys) if output == "csv" else records,
        columns=columns,
        footer=footer,
        empty=f"No {scope} with samples in the window.",
        csv=csv_keys,
    )
    if not records and doc["unplaced_samples"]:
        s.notice(
            f"notice: {doc['unplaced_samples']} samples have no node recorded (imported history has none; "
            "storage collect records each pod's node)"
        )
    emit(view, output, s, no_headers, sort_by)
