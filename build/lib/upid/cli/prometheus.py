"""`upid storage import-prometheus`: weeks of history from an existing Prometheus, in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from upid.cli.options import AllNamespacesOpt, ClusterOpt, NamespaceOpt, RequestTimeoutOpt, StoreOpt
from upid.cli.printers import Column, View, emit, output_option
from upid.cli.session import session

HELP = (
    "Backfill usage, requests, limits, owners and OOM kills from Prometheus (cAdvisor and kube-state-metrics), "
    "gently: chunked under the points-per-series limit, a bounded number of series and queries at once, with "
    "retries. Re-running fills gaps only."
)
EXAMPLES = """Examples:

  upid storage import-prometheus --cluster prod \\
      --url http://prometheus.monitoring:9090

  upid storage import-prometheus --url https://prom.example.org \\
      --token-file /var/run/secrets/token --history 30d -n shop \\
      --match 'cluster="prod"' -o json
"""


def _secret(value: str | None, file: Path | None, what: str) -> str | None:
    from upid.errors import ConfigError

    if file is None:
        return value
    try:
        return file.read_text().strip()
    except OSError as e:
        raise ConfigError(f"cannot read the {what} file {file}: {e.strerror}") from e


def import_prometheus(
    ctx: typer.Context,
    url: Annotated[
        str,
        typer.Option(
            "--url",
            metavar="URL",
            envvar="UPID_PROMETHEUS_URL",
            show_default=False,
            help="Prometheus' root URL.",
        ),
    ],
    cluster: ClusterOpt = None,
    namespace: NamespaceOpt = None,
    all_namespaces: AllNamespacesOpt = False,
    history: Annotated[
        str, typer.Option("--history", metavar="DURATION", help="How far back to import, from --until.")
    ] = "14d",
    step: Annotated[str, typer.Option("--step", metavar="DURATION", help="Time between samples.")] = "5m",
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="TIME",
            show_default=False,
            help="End of the import (ISO-8601 or UNIX seconds); default: now.",
        ),
    ] = None,
    match: Annotated[
        str | None,
        typer.Option(
            "--match",
            metavar="MATCHERS",
            show_default=False,
            help="Extra label matchers for every series, e.g. 'cluster=\"prod\"' (one Prometheus, many clusters).",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            metavar="TOKEN",
            envvar="UPID_PROMETHEUS_TOKEN",
            show_default=False,
            help="Bearer token.",
        ),
    ] = None,
    token_file: Annotated[
        Path | None, typer.Option("--token-file", metavar="PATH", show_default=False, help="Read the token here.")
    ] = None,
    username: Annotated[
        str | None, typer.Option("--username", metavar="NAME", show_default=False, help="Basic auth user.")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            metavar="PASSWORD",
            envvar="UPID_PROMETHEUS_PASSWORD",
            show_default=False,
            help="Basic auth password.",
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--certificate-authority",
            metavar="PATH",
            show_default=False,
            help="CA certificate to verify Prometheus' TLS certificate with.",
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure-skip-tls-verify", help="Do not verify the TLS certificate (not advised).")
    ] = False,
    request_timeout: RequestTimeoutOpt = "60s",
    concurrency: Annotated[int, typer.Option("--concurrency", metavar="N", min=1, max=16, help="Queries at once.")] = 2,
    max_series: Annotated[
        int, typer.Option("--max-series", metavar="N", min=1, help="Containers per query, at most.")
    ] = 500,
    rate_window: Annotated[
        str | None,
        typer.Option(
            "--rate-window",
            metavar="DURATION",
            show_default=False,
            help="Range of rate() over the CPU and network counters: at least two scrape intervals "
            "[default: the step, and at least 5m].",
        ),
    ] = None,
    chunk: Annotated[str, typer.Option("--chunk", metavar="DURATION", help="History per range query, at most.")] = "1d",
    output: Annotated[str, output_option(("none",))] = "none",
    store: StoreOpt = None,
) -> None:
    from upid.errors import UsageError
    from upid.ingest.prometheus.client import Connection, Prometheus
    from upid.units import parse_duration, parse_timestamp
    from upid.workflows.prometheus import PromImport
    from upid.workflows.prometheus import import_prometheus as run

    s = session(ctx, store)
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url {url!r} is not an http:// or https:// URL")
    if token_file is not None and token:
        raise UsageError("give the token once: --token or --token-file")
    secret = _secret(token, token_file, "token")
    if secret and username:
        raise UsageError("choose one: a bearer token or basic auth")
    conn = Connection(url, token=secret, username=username, password=password,
                      ca_file=str(ca_file) if ca_file else None, insecure=insecure,
                      timeout=parse_duration(request_timeout))  # fmt: skip
    req = PromImport(
        cluster=cluster or s.settings.cluster or "default",
        history=parse_duration(history),
        step=max(1, parse_duration(step)),
        until=parse_timestamp(until) if until else None,
        namespaces=None if all_namespaces or not namespace else list(namespace),
        match=(match or "").strip().strip("{}"),
        max_series=max_series,
        chunk=parse_duration(chunk),
        concurrency=concurrency,
        rate_window=parse_duration(rate_window) if rate_window else None,
        accept=s.acceptance(),
    )
    with s.progress(f"importing from {url}") as step_name:
        outcome = run(s.store(), Prometheus(conn, pool_size=concurrency), req, s.audit("storage import-prometheus"),
                      step_name)  # fmt: skip
    for line in outcome.notices:
        s.notice(f"notice: {line}")
    summary = outcome.summary()
    s.notice(
        f"imported {outcome.written:,} new samples of {outcome.containers} containers into {req.cluster} "
        f"({outcome.chunks - outcome.chunks_skipped} of {outcome.chunks} chunks asked, {outcome.queries} queries, "
        f"{outcome.oom_kills} OOM kills, {outcome.seconds:.1f} s)"
    )
    if output != "none":
        columns = [Column(k, k.upper().replace("_", " ")) for k in ("containers", "chunks", "chunks_skipped",
                                                                      "samples", "written", "oom_kills")]  # fmt: skip
        emit(View(document=summary, records=[summary], columns=columns), output, s)
