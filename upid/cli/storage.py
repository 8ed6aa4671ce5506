"""`upid storage ...`: put history into the store, look at it, and keep it tidy."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from upid.cli import fleet, prometheus, retention
from upid.cli.options import (
    AllContextsOpt,
    ClusterOpt,
    ContextsOpt,
    KubeconfigOpt,
    NamespaceOpt,
    NoHeadersOpt,
    RequestTimeoutOpt,
    SelectorOpt,
    StoreOpt,
)
from upid.cli.printers import Column, View, emit, output_option, plain
from upid.cli.session import Session, session
from upid.errors import UsageError
from upid.units import format_bytes, format_count, iso, parse_duration

if TYPE_CHECKING:
    pass

app = typer.Typer(
    help="Import, inspect, query, export and clean up the history store.",
    epilog="Examples:\n\n"
    "  upid storage collect --context prod          # a snapshot from the cluster\n"
    "  upid storage import usage.csv.gz --cluster prod\n"
    "  upid storage status",
    no_args_is_help=True,
)


app.command("import-prometheus", help=prometheus.HELP, epilog=prometheus.EXAMPLES)(prometheus.import_prometheus)


IMPORT_EPILOG = """Columns (a header row; names in any case; others are ignored):

\b
  timestamp       ISO-8601 or UNIX seconds             required
  namespace, pod, container                            required
  cpu_cores       usage, cores                         required
  memory_bytes    working set, bytes                   required
  cluster         default: --cluster                   optional
  workload_kind, workload   default: Deployment, pod   optional
  node                                                 optional
  cpu_request_cores, cpu_limit_cores                   optional
  memory_request_bytes, memory_limit_bytes             optional
  network_rx_bytes_per_s, network_tx_bytes_per_s       optional

A bad row is skipped and counted, never the whole file.

Example:

  upid storage import usage.csv.gz --cluster prod
"""


@app.command("import", epilog=IMPORT_EPILOG)
def import_(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV, gzip CSV or Parquet file in the canonical format (the columns are below).",
            show_default=False,
        ),
    ],
    cluster: ClusterOpt = None,
    output: Annotated[str, output_option(("none",))] = "none",
    store: StoreOpt = None,
) -> None:
    """Import usage samples from a file; importing the same samples again stores them once."""
    from upid.workflows.importing import import_file

    s = session(ctx, store)
    with s.progress(f"importing {path.name}"):
        outcome = import_file(
            s.store(), path, cluster or s.settings.cluster or "default", s.audit("storage import"), s.acceptance()
        )
    _report_import(s, outcome, output)


@app.command(
    "pull",
    epilog="Example:\n\n  kubectl -n upid port-forward svc/upid 8080 &\n  "
    "upid storage pull http://127.0.0.1:8080 --cluster prod",
)
def pull(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The base URL of a upid serve.", show_default=False)],
    cluster: Annotated[
        str, typer.Option("--cluster", metavar="NAME", help="The remote cluster to pull (stored under its name).")
    ],
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="TIME", help="Only samples from TIME on (RFC 3339 or UNIX seconds).",
                     show_default=False),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", metavar="FILE", help="A bearer token for the server (--auth token or "
                     "kubernetes: e.g. kubectl create token).", show_default=False),
    ] = None,
    timeout: Annotated[str, typer.Option("--timeout", metavar="DURATION", help="Give up after this long.")] = "5m",
    output: Annotated[str, output_option(("none",))] = "none",
    store: StoreOpt = None,
) -> None:  # fmt: skip
    """Copy a cluster's samples from a upid serve (its /api/v1/export) into this store; pulling again stores
    only what is new."""
    from upid.server.auth import read_token
    from upid.settings import ensure_home
    from upid.units import parse_timestamp
    from upid.workflows.pulling import pull as run

    s = session(ctx, store)
    token = read_token(token_file) if token_file else None
    start = int(parse_timestamp(since)) if since else None
    ensure_home(s.settings.home)
    with s.progress(f"pulling {cluster}"):
        outcome = run(s.store(), url, cluster, start, token, s.settings.home, s.audit("storage pull"),
                      parse_duration(timeout))  # fmt: skip
    _report_import(s, outcome, output)


MAX_CLUSTER_LINES = 10


def _report_import(s: Session, outcome: Any, output: str) -> None:
    """What an import did, on stderr; with -o, its summary on stdout (storage import and pull)."""
    if output != "none":
        summary = outcome.summary()
        columns = [Column(k, k.upper().replace("_", " ")) for k in ("cluster", "samples", "written", "already_stored")]
        emit(View(document=summary, records=list(summary["clusters"]), columns=columns), output, s)  # type: ignore[arg-type]
    r = outcome.report
    if r.ignored_columns:
        s.notice(f"notice: ignored unknown column(s): {', '.join(r.ignored_columns)}")
    if r.bad:
        s.warn(f"{format_count(r.bad)} of {format_count(r.rows)} rows skipped as bad: " + "; ".join(r.reasons))
    if r.duplicates:
        s.notice(f"notice: {format_count(r.duplicates)} duplicate rows (same series and second) kept once")
    writes = outcome.writes
    if len(writes) > MAX_CLUSTER_LINES:  # a file of many clusters: one line for all of them (-o json has each)
        spooled = sum(w.spooled for w in writes)
        s.notice(
            f"imported {format_count(outcome.written)} samples into {len(writes)} clusters "
            f"({format_count(sum(w.received - w.written for w in writes if not w.spooled))} already stored, "
            f"{sum(w.series_created for w in writes)} new series" + (f", {spooled} spooled)" if spooled else ")")
        )
        return
    for w in writes:
        if w.spooled:
            s.notice(
                f"store busy: {format_count(w.received)} samples of cluster {w.cluster} spooled; the next "
                "upid command that opens the store merges them"
            )
        else:
            s.notice(
                f"imported {format_count(w.written)} samples into cluster {w.cluster} "
                f"({format_count(w.received - w.written)} already stored, {w.series_created} new series)"
            )


@app.command("status", epilog="Example:\n\n  upid storage status -o json")
def status(
    ctx: typer.Context,
    output: Annotated[str, output_option()] = "table",
    no_headers: NoHeadersOpt = False,
    store: StoreOpt = None,
) -> None:
    """Per cluster: series, samples, first and last sample; the store's size and bytes per sample."""
    from upid.workflows.documents import status_document

    s = session(ctx, store)
    st = s.store().status()
    doc = status_document(st)
    per_sample = st.size_bytes / st.samples if st.samples else None
    clusters = doc["clusters"]
    footer = [
        f"store {st.path}  {format_bytes(st.size_bytes)}B  "
        + (f"{per_sample:.2f} bytes/sample" if per_sample else "no samples")
        + (f"  {st.spooled_batches} spooled batches waiting" if st.spooled_batches else "")
    ]
    columns = [
        Column("cluster", "CLUSTER"),
        Column("series", "SERIES", format_count, numeric=True),
        Column("samples", "SAMPLES", format_count, numeric=True),
        Column("first", "FIRST"),
        Column("last", "LAST"),
    ]
    emit(View(document=doc, records=clusters, columns=columns, footer=footer), output, s, no_headers)


app.command("init", epilog=fleet.INIT_EPILOG)(fleet.init)
app.command("copy", epilog=fleet.COPY_EPILOG)(fleet.copy)
app.command("compact", epilog=retention.COMPACT_EPILOG)(retention.compact)


@app.command("verify", epilog="Example:\n\n  upid storage verify && echo sound")
def verify(
    ctx: typer.Context,
    output: Annotated[str, output_option(("none",))] = "none",
    store: StoreOpt = None,
) -> None:
    """Read the whole store: every table, and every sample block against the size, SHA-256, rows, cluster and time
    range recorded when it was written. Exit 6 naming each damaged file; nothing is changed."""
    from upid.errors import StoreCorruptError

    s = session(ctx, store)
    doc = s.store().verify()
    if output != "none":
        columns = [Column(k, k.upper()) for k in ("tables", "blocks", "samples")]
        emit(View(document=doc, records=[doc], columns=columns), output, s)
    for problem in doc["problems"][1:]:
        s.notice(f"error: {problem}")
    if doc["problems"]:
        raise StoreCorruptError(
            doc["problems"][0] + (f" (and {len(doc['problems']) - 1} more above)" if len(doc["problems"]) > 1 else "")
        )
    s.notice(f"store {doc['store']}: {doc['tables']} tables, {doc['blocks']} blocks, "
             f"{format_count(doc['samples'])} samples read: no damage found")  # fmt: skip


app.command("cleanup", epilog=retention.CLEANUP_EPILOG)(retention.cleanup)


@app.command("audit-log", epilog="Example:\n\n  upid storage audit-log --limit 5 -o json")
def audit_log(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, metavar="N", help="Newest entries to show.")] = 20,
    output: Annotated[str, output_option()] = "table",
    no_headers: NoHeadersOpt = False,
    store: StoreOpt = None,
) -> None:
    """Every command that changed the store: when, who, what, and the result."""
    s = session(ctx, store)
    entries = s.store().audit_log(limit)
    records = [
        {
            "id": e.id,
            "time": iso(e.at),
            "user": e.user,
            "command": e.command,
            "cluster": e.cluster,
            "result": e.result,
            "details": e.details,
        }
        for e in entries
    ]
    columns = [
        Column("id", "ID", numeric=True),
        Column("time", "TIME"),
        Column("user", "USER"),
        Column("command", "COMMAND"),
        Column("cluster", "CLUSTER"),
        Column("result", "RESULT"),
        Column("details", "DETAILS", _details, wide=True),
    ]
    emit(View(document={"entries": records}, records=records, columns=columns), output, s, no_headers)


def _details(details: Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(details.items()) if k != "args") if details else "-"


@app.command(
    "query",
    epilog='Example:\n\n  upid storage query "SELECT namespace, avg(cpu_cores) FROM usage GROUP BY 1"',
)
def query(
    ctx: typer.Context,
    sql: Annotated[
        str,
        typer.Argument(
            help="One read-only SQL statement (SELECT or EXPLAIN). The view `usage` "
            "has every sample with readable names.",
            show_default=False,
        ),
    ],
    output: Annotated[str, output_option()] = "table",
    no_headers: NoHeadersOpt = False,
    timeout: Annotated[
        str, typer.Option("--timeout", metavar="DURATION", help="Interrupt the query after this long.")
    ] = "5m",
    store: StoreOpt = None,
) -> None:
    """Run a read-only SQL query on the store's data; nothing else (files, network, settings) is reachable."""
    seconds = parse_duration(timeout)
    if seconds <= 0:
        raise UsageError(f"--timeout must be positive, got {timeout}")
    s = session(ctx, store)
    result = s.store().query(sql, timeout=seconds)
    records = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    columns = [Column(c, c.upper(), plain) for c in result.columns]
    emit(
        View(
            document={"columns": result.columns, "rows": [list(r) for r in result.rows]},
            records=records,
            columns=columns,
            empty="(no rows)",
        ),
        output,
        s,
        no_headers,
    )


@app.command(
    "export",
    epilog="Example:\n\n  upid storage export ./upid-export\n\n"
    "  duckdb -c \"SELECT count(*) FROM './upid-export/**/*.parquet'\"",
)
def export(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Target directory (created; must be empty).", show_default=False)],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace what the directory holds.")] = False,
    store: StoreOpt = None,
) -> None:
    """Write every sample as Parquet, partitioned by cluster and day (hive layout), for any Parquet engine."""
    s = session(ctx, store)
    result = s.store().export(directory, overwrite)
    s.notice(f"exported {format_count(result['samples'])} samples to {directory} ({result['files']} files)")


@app.command(
    "collect",
    epilog="Examples:\n\n  upid storage collect          # the current context, all namespaces\n\n"
    "  upid storage collect --all-contexts -o json\n\n  */5 * * * * upid storage collect   # cron",
)
def collect(
    ctx: typer.Context,
    kubeconfig: KubeconfigOpt = None,
    context: ContextsOpt = None,
    all_contexts: AllContextsOpt = False,
    namespace: NamespaceOpt = None,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="All namespaces (the default).")
    ] = False,
    selector: SelectorOpt = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster", metavar="NAME", show_default=False, help="Store under this name [default: the context name]."
        ),
    ] = None,
    request_timeout: RequestTimeoutOpt = "30s",
    timeout: Annotated[
        str,
        typer.Option(
            "--timeout",
            metavar="DURATION",
            help="Give up on the whole run (every context) after this long, storing nothing of what is unfinished "
            "(exit 10).",
        ),
    ] = "5m",
    output: Annotated[str, output_option(("none",))] = "none",
    store: StoreOpt = None,
) -> None:
    """Record one snapshot of pods, workloads, nodes and usage from the cluster API (for cron or a CronJob)."""
    from upid.cluster.api import DeadlineExceeded
    from upid.cluster.connect import kubeconfig_path
    from upid.errors import ClusterError
    from upid.workflows.collect import CollectRequest, collect_context, contexts_to_collect

    s = session(ctx, store)
    if cluster and (all_contexts or len(context or []) > 1):
        raise UsageError("--cluster names one cluster; it cannot be used with several contexts")
    per_request, whole = parse_duration(request_timeout), parse_duration(timeout)  # checked before anything is read
    if whole <= 0:
        raise UsageError(f"--timeout must be positive, got {timeout}")
    req = CollectRequest(
        kubeconfig=kubeconfig_path(kubeconfig),
        namespaces=None if all_namespaces or not namespace else namespace,
        selector=selector,
        request_timeout=per_request,
        accept=s.acceptance(),
        deadline=time.monotonic() + whole,
    )
    target_store = s.store()
    outcomes, failures = [], []
    names = contexts_to_collect(req.kubeconfig, context, all_contexts)
    for name in names:
        try:
            with s.progress(f"collecting {name or 'in-cluster'}") as step:
                outcomes.append(
                    collect_context(target_store, s.settings.home, req, name, cluster, s.audit("storage collect"), step)
                )
        except ClusterError as e:
            if len(names) == 1:
                raise
            failures.append(e)
            s.notice(f"error: context {name}: {e.message}")
            if isinstance(e, DeadlineExceeded):  # the contexts left would fail the same way at once
                break
    for o in outcomes:
        for line in o.notices:
            s.notice(f"notice: {o.context or 'in-cluster'}: {line}")
        if o.result and o.result.spooled:
            s.notice(f"store busy: the snapshot of {o.cluster} was spooled; the next upid command merges it")
    if output != "none":
        docs = [o.summary() for o in outcomes]
        emit(
            View(
                document={"collections": docs},
                records=docs,
                columns=[Column(k, k.upper()) for k in ("context", "cluster", "pods", "nodes", "samples", "written")],
            ),
            output,
            s,
        )
    if failures:
        raise typer.Exit(int(failures[0].exit_code))
