"""Start `upid serve`: bind the socket first (a port in use is a one-line error, and port 0 gets a free one),
then uvicorn on it, with the collector thread when asked. Stops cleanly on SIGINT and SIGTERM."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from upid.errors import UsageError
from upid.server.app import Limits, ServerState, build
from upid.server.auth import Guard
from upid.server.collector import Collector
from upid.settings import Settings
from upid.store.base import AuditRecord


@dataclass(frozen=True)
class CollectJob:
    """What the timer collects: one context (or in-cluster), stored under `name`."""

    kubeconfig: str | None
    context: str | None
    name: str | None
    namespaces: list[str] | None
    request_timeout: float
    run_timeout: float
    audit: AuditRecord


def collect_once(state: ServerState, job: CollectJob) -> int:
    from upid.samples import Acceptance
    from upid.workflows.collect import CollectRequest, collect_context

    req = CollectRequest(
        kubeconfig=job.kubeconfig,
        namespaces=job.namespaces,
        request_timeout=job.request_timeout,
        accept=Acceptance.now(state.settings.clock_skew),
        deadline=time.monotonic() + job.run_timeout,
    )
    with state.store_lock.writing():
        outcome = collect_context(state.open_store(), state.settings.home, req, job.context, job.name, job.audit)
    return outcome.result.written if outcome.result else 0


def bind(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
    except OSError as e:
        sock.close()
        raise UsageError(f"cannot listen on {address}:{port}: {e.strerror or e}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    settings: Settings,
    guard: Guard,
    address: str,
    port: int,
    limits: Limits,
    job: CollectJob | None,
    every: float | None,
    debug: bool = False,
    trust_loopback: bool = False,
    notice: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> None:
    import uvicorn

    state = ServerState(settings=settings, guard=guard, limits=limits, debug=debug, trust_loopback=trust_loopback)
    if job is not None and every:
        state.collector = Collector(every, lambda: collect_once(state, job), after=state.forget_metrics)
    app = build(state)
    sock = bind(address, port)
    host, bound = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        log_level="warning" if not debug else "info",
        access_log=debug,
        timeout_keep_alive=5,
        limit_concurrency=max(64, limits.workers * 16),  # beyond: 503 from uvicorn itself
        timeout_graceful_shutdown=10,
        server_header=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    if state.collector:
        state.collector.start()
    shown = f"[{host}]" if ":" in host else host
    trusted = ", loopback trusted" if trust_loopback and guard.name != "none" else ""
    notice(f"serving on http://{shown}:{bound} (auth {guard.name}{trusted})")
    try:
        server.run(sockets=[sock])
    finally:
        if state.collector:
            state.collector.stop()
        sock.close()
