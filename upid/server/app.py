"""The Starlette application of `upid serve`: routes, the guard on every request, bounded work, timeouts, and
errors as one-line JSON bodies. Every endpoint reads; none writes."""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from upid import __version__
from upid.errors import NoDataError, StoreError, StoreLockedError, UpidError, UsageError
from upid.server.auth import Guard
from upid.server.collector import Collector
from upid.server.params import Params
from upid.settings import Settings
from upid.store.base import Store

LOOPBACK = ("127.0.0.1", "::1")  # exactly: a sidecar or a host on 127.0.0.2 is not kubectl port-forward
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


class Busy(Exception):
    """Every worker is busy: 503 with Retry-After."""


class ReadWriteLock:
    """Readers share; the collector's write waits for them and keeps new readers out (DuckDB lets one process
    hold a file either read-only or read-write, not both at once)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing)
            self._writing = True
            self._cond.wait_for(lambda: self._readers == 0)
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


@dataclass
class Limits:
    workers: int = 2  # analyses at once (the CPUs the process may use)
    queue_seconds: float = 10.0  # how long a request waits for a worker before a 503
    request_timeout: float = 120.0  # seconds before a 504 (the work itself finishes, and is dropped)
    metrics_ttl: float = 60.0  # /metrics recomputes the analyses at most this often


@dataclass
class ServerState:
    settings: Settings
    guard: Guard
    limits: Limits = field(default_factory=Limits)
    collector: Collector | None = None
    debug: bool = False
    trust_loopback: bool = False  # --trust-loopback
    store_lock: ReadWriteLock = field(default_factory=ReadWriteLock)
    ready: bool = False
    slots: threading.BoundedSemaphore = field(init=False)
    _metrics: tuple[float, str] | None = None
    _metrics_lock: threading.Lock = field(default_factory=threading.Lock)
    _generation: int = 0

    def __post_init__(self) -> None:
        self.slots = threading.BoundedSemaphore(max(1, self.limits.workers))

    def open_store(self) -> Store:
        from upid.store import open_store

        return open_store(self.settings)

    def reading(self, work: Callable[[Store], Any]) -> Any:
        """`work` on the store, in a worker slot, under the read lock."""
        if not self.slots.acquire(timeout=self.limits.queue_seconds):
            raise Busy
        try:
            with self.store_lock.reading():
                store = self.open_store()
                with store.snapshot():
                    return work(store)
        finally:
            self.slots.release()

    def forget_metrics(self) -> None:
        self._generation += 1  # a page being computed now is not cached when it ends
        self._metrics = None

    def metrics(self) -> str:
        """The analyses' part at most every --metrics-ttl (and after each collect); the collector's part always
        as it is now."""
        from upid.server.monitor import analysis_page, collect_page

        with self._metrics_lock:
            cached = self._metrics
            if not cached or cached[0] <= time.monotonic():
                generation = self._generation
                cached = (time.monotonic() + self.limits.metrics_ttl, analysis_page(self))
                if generation == self._generation:
                    self._metrics = cached
        return cached[1] + collect_page(self)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _failure(state: ServerState, e: BaseException) -> Response:
    """An error as a status and one line; store and unexpected errors say no more than what kind they are."""
    if isinstance(e, Busy):
        return _error(503, "busy: every worker is in use", {"Retry-After": "5"})
    if isinstance(e, UsageError):
        return _error(400, e.message)
    if isinstance(e, NoDataError):
        return _error(404, e.message)
    if isinstance(e, StoreLockedError):
        return _error(503, "the store is busy", {"Retry-After": "5"})
    if isinstance(e, StoreError):
        return _error(503, "the store cannot be read")
    if state.debug:
        import traceback

        traceback.print_exception(e, file=sys.stderr)
    elif isinstance(e, UpidError):
        print(f"error: {e.message}", file=sys.stderr)
    else:
        print(f"error: unexpected {type(e).__name__} (run with --debug for the traceback)", file=sys.stderr)
    return _error(500, "internal error")


async def _answer(
    state: ServerState,
    work: Callable[[], Any],
    respond: Callable[[Any], Response],
    timed: bool = True,
) -> Response:
    """`work` in a thread (within --timeout, if `timed`), its value through `respond`; an error as its status
    and one line."""
    try:
        wait = state.limits.request_timeout if timed else None
        value = await asyncio.wait_for(run_in_threadpool(work), timeout=wait)
    except TimeoutError:
        return _error(504, "timed out")
    except Exception as e:
        return _failure(state, e)
    return respond(value)


def _json(doc: Any) -> Response:
    return Response(orjson.dumps(doc), media_type="application/json")


def _params(request: Request, allowed: tuple[str, ...]) -> Params:
    return Params(request.query_params.multi_items(), allowed)


def endpoint(state: ServerState, name: str) -> Callable[[Request], Any]:
    from upid.server.views import ENDPOINTS

    view, allowed = ENDPOINTS[name][0], ENDPOINTS[name][1]

    async def handle(request: Request) -> Response:
        def work() -> Any:
            p = _params(request, allowed)
            return state.reading(lambda store: view(state.settings, store, p))

        return await _answer(state, work, _json)

    return handle


def build(state: ServerState) -> Starlette:
    from upid.server.openapi import document
    from upid.server.views import ENDPOINTS, REPORT_PARAMS, report_page

    openapi = orjson.dumps(document(__version__))

    async def report(request: Request) -> Response:
        def work() -> str:
            p = _params(request, REPORT_PARAMS)
            page: str = state.reading(lambda store: report_page(state.settings, store, p))
            return page

        return await _answer(
            state, work, lambda page: HTMLResponse(page, headers={"Content-Security-Policy": REPORT_CSP})
        )

    async def metrics(request: Request) -> Response:
        return await _answer(
            state, state.metrics, lambda text: PlainTextResponse(text, media_type="text/plain; version=0.0.4")
        )

    async def export(request: Request) -> Response:
        from upid.workflows.exporting import parquet_stream

        def work() -> Iterator[bytes]:
            """The slot is taken, the cluster checked and the file's first piece made before the answer's 200:
            a busy server says 503 and an unknown cluster 404, never a 200 that ends empty."""
            p = _params(request, ("cluster", "since"))
            cluster = p.get("cluster")
            if not cluster:
                raise UsageError("parameter 'cluster' is required")
            since = _since(p.get("since"))
            if not state.slots.acquire(timeout=state.limits.queue_seconds):
                raise Busy
            pieces = _exported(state, cluster, since, parquet_stream)  # releases the slot when it ends
            first = next(pieces, b"")  # an error here has released it already
            return itertools.chain([first], pieces)

        def stream(pieces: Iterator[bytes]) -> Response:
            cluster = _safe(request.query_params.get("cluster", ""))
            return StreamingResponse(
                iterate_in_threadpool(pieces),
                media_type="application/vnd.apache.parquet",
                headers={"Content-Disposition": f'attachment; filename="{cluster}.parquet"'},
            )

        return await _answer(state, work, stream, timed=False)  # a big export may take longer than --timeout

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        try:
            await run_in_threadpool(lambda: state.reading(lambda store: store.clusters()))
        except Exception:
            return PlainTextResponse("not ready: the store cannot be read\n", status_code=503)
        return PlainTextResponse("ok\n")

    async def spec(request: Request) -> Response:
        return Response(openapi, media_type="application/json")

    routes = [Route(f"/api/v1/{name}", endpoint(state, name), methods=["GET"]) for name in ENDPOINTS]
    routes += [
        Route("/", report, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/api/v1/export", export, methods=["GET"]),
        Route("/openapi.json", spec, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    return _guarded(app, state)


def _since(value: str | None) -> int | None:
    from upid.units import parse_timestamp

    if not value:
        return None
    try:
        return int(parse_timestamp(value))
    except UsageError:
        raise UsageError(f"parameter 'since' must be RFC 3339 or UNIX seconds, got {value!r}") from None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100] or "cluster"


def _exported(
    state: ServerState, cluster: str, since: int | None, stream: Callable[..., Iterator[bytes]]
) -> Iterator[bytes]:
    """The Parquet pieces under the read lock for the whole stream, in the worker slot the caller took: it is
    released when the stream ends, fails, or is dropped unfinished (a client gone)."""
    from upid.workflows.exporting import check_cluster

    try:
        with state.store_lock.reading():
            store = state.open_store()
            with store.snapshot():
                check_cluster(store, cluster)
                yield from stream(store, cluster, since, state.settings.home / "tmp")
    finally:
        state.slots.release()


def _guarded(app: Starlette, state: ServerState) -> Any:
    """ASGI middleware: the guard decides before any route runs; 401 and 403 carry no detail."""

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if state.trust_loopback and (scope.get("client") or ("",))[0] in LOOPBACK:
            await app(scope, receive, send)  # kubectl port-forward: RBAC allowed it (pods/portforward)
            return
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1") or None
        decision = await run_in_threadpool(state.guard.check, scope["path"], authorization)
        if decision.status != 200:
            body = {401: "unauthorized", 403: "forbidden"}.get(decision.status, "authorization unavailable")
            extra = {"WWW-Authenticate": "Bearer"} if decision.status == 401 else None
            await _error(decision.status, body, extra)(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded
