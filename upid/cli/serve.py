"""`upid serve`: a read-only HTTP server over the store: the JSON API (the commands' -o json documents),
Prometheus /metrics, the live report, /healthz and /readyz; optionally collecting on a timer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from upid.cli.options import KubeconfigOpt, NamespaceOpt, RequestTimeoutOpt, StoreOpt, choice
from upid.cli.session import session
from upid.errors import UsageError
from upid.units import parse_duration

HELP = "Serve the store read-only over HTTP: the JSON API, Prometheus /metrics and the live report."
EXAMPLES = """Examples:

  upid serve                  # http://127.0.0.1:8080/, this machine only

  upid serve --address 0.0.0.0 --auth token --token-file /etc/upid/token

  upid serve --address 0.0.0.0 --auth kubernetes --collect-every 5m
"""
AUTH_MODES = ("none", "token", "kubernetes")


def serve(
    ctx: typer.Context,
    address: Annotated[
        str, typer.Option("--address", metavar="IP", help="Listen on this address (loopback unless told otherwise).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="PORT", min=0, max=65535, help="Listen on this port.")] = 8080,
    auth: Annotated[
        str,
        typer.Option(
            "--auth",
            metavar="MODE",
            callback=choice(AUTH_MODES, "--auth"),
            help="none; token: a static bearer token (--token-file); kubernetes: the caller's token checked with "
            "a TokenReview and a SubjectAccessReview (docs/kubernetes.md).",
        ),
    ] = "none",
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", metavar="FILE", help="The bearer token of --auth token.", show_default=False),
    ] = None,
    trust_loopback: Annotated[
        bool,
        typer.Option(
            "--trust-loopback",
            help="Requests from 127.0.0.1 or ::1 skip --auth: in a pod only kubectl port-forward comes from there, "
            "and RBAC allowed it (pods/portforward). Not with a sidecar proxy in the pod.",
        ),
    ] = False,
    auth_namespace: Annotated[
        str | None,
        typer.Option(
            "--auth-namespace",
            metavar="NAME",
            help="Namespace of the SubjectAccessReview's virtual resource [default: the pod's own, else upid].",
            show_default=False,
        ),
    ] = None,
    collect_every: Annotated[
        str | None,
        typer.Option(
            "--collect-every",
            metavar="DURATION",
            help="Also run storage collect in-process now and then every DURATION (one at a time; longer "
            "pauses after failures).",
            show_default=False,
        ),
    ] = None,
    kubeconfig: KubeconfigOpt = None,
    context: Annotated[
        str | None,
        typer.Option(
            "--context", metavar="NAME", help="Kubeconfig context of --collect-every and --auth kubernetes.",
            show_default=False,
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster", metavar="NAME", help="Store collected samples under this name [default: the context name].",
            show_default=False,
        ),
    ] = None,
    namespace: NamespaceOpt = None,
    request_timeout: RequestTimeoutOpt = "30s",
    timeout: Annotated[
        str, typer.Option("--timeout", metavar="DURATION", help="Answer 504 when a request takes longer.")
    ] = "2m",
    workers: Annotated[
        int,
        typer.Option(
            "--workers", metavar="N", min=0, help="Requests worked on at once [default 0: the CPUs upid may use]."
        ),
    ] = 0,
    metrics_ttl: Annotated[
        str, typer.Option("--metrics-ttl", metavar="DURATION", help="Recompute /metrics at most this often.")
    ] = "60s",
    store: StoreOpt = None,
) -> None:  # fmt: skip
    from upid.cpus import usable_cpus
    from upid.server.app import Limits
    from upid.server.auth import guard
    from upid.server.run import CollectJob
    from upid.server.run import serve as run

    s = session(ctx, store)
    every = parse_duration(collect_every) if collect_every else None
    if every is not None and every < 10:
        raise UsageError(f"--collect-every must be at least 10s, got {collect_every}")
    per_request, limit, ttl = parse_duration(request_timeout), parse_duration(timeout), parse_duration(metrics_ttl)
    if limit <= 0:
        raise UsageError(f"--timeout must be positive, got {timeout}")

    def cluster_api() -> object:
        from upid.cluster.api import Api
        from upid.cluster.connect import kubeconfig_path, target

        return Api(target(kubeconfig_path(kubeconfig), context).client, timeout=per_request, attempts=2)

    checks = guard(auth, token_file, cluster_api, auth_namespace)
    job = None
    if every is not None:
        from upid.cluster.connect import kubeconfig_path

        job = CollectJob(
            kubeconfig=kubeconfig_path(kubeconfig), context=context, name=cluster, namespaces=namespace or None,
            request_timeout=per_request, run_timeout=max(every, 60.0), audit=s.audit("serve --collect-every"),
        )  # fmt: skip
    limits = Limits(
        workers=workers or usable_cpus(s.settings.threads, load=0.0),
        request_timeout=limit,
        metrics_ttl=ttl,
    )
    run(
        s.settings, checks, address, port, limits, job, every,
        debug=s.settings.debug, trust_loopback=trust_loopback, notice=s.notice,
    )  # fmt: skip
