"""Backfill a cluster's history from Prometheus: discover the containers, group namespaces so each query covers
a bounded number of series, cut the window into chunks under the 11,000-points-per-series limit, skip chunks the
store already holds, ask a few queries at a time, and write one batch per chunk."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from upid.errors import NoDataError
from upid.ingest.prometheus import queries
from upid.ingest.prometheus.client import Prometheus
from upid.ingest.prometheus.convert import Owners, Rejected, to_batch
from upid.samples import Acceptance
from upid.store.base import AuditRecord, Store
from upid.units import iso

MAX_POINTS = 10_000  # per series and query; Prometheus refuses more than 11,000


@dataclass(frozen=True)
class PromImport:
    cluster: str
    history: int  # seconds back from `until`
    step: int = 300  # seconds between samples
    until: int | None = None  # UNIX seconds; now by default
    namespaces: list[str] | None = None  # None: all
    match: str = ""  # extra label matchers for every selector, e.g. 'cluster="prod"'
    max_series: int = 500  # containers per query, at most (a bigger namespace is queried alone)
    chunk: int = 86400  # seconds of history per range query, at most (and at most MAX_POINTS steps)
    concurrency: int = 2  # queries at once
    rate_window: int | None = None  # seconds of counter history per rate(); default max(step, 5m)
    accept: Acceptance = field(default_factory=Acceptance.now)  # points dated outside it are counted, not stored


@dataclass
class PromOutcome:
    url: str
    version: str
    window: tuple[int, int]
    containers: int = 0
    groups: int = 0
    chunks: int = 0
    chunks_skipped: int = 0
    queries: int = 0
    requests: int = 0
    received: int = 0
    written: int = 0
    oom_kills: int = 0
    bad_points: int = 0  # answered points that cannot be stored: dated outside the accepted window, absurd values
    spooled: bool = False
    seconds: float = 0.0
    notices: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "prometheus_version": self.version,
            "window": {"start": iso(self.window[0]), "end": iso(self.window[1])},
            "containers": self.containers,
            "query_groups": self.groups,
            "chunks": self.chunks,
            "chunks_skipped": self.chunks_skipped,
            "queries": self.queries,
            "requests": self.requests,
            "samples": self.received,
            "written": self.written,
            "oom_kills": self.oom_kills,
            "bad_points": self.bad_points,
            "spooled": self.spooled,
            "seconds": round(self.seconds, 2),
        }


def groups_of(counts: dict[str, int], most: int) -> list[list[str]]:
    """Namespaces packed into groups of at most `most` containers, biggest first; a bigger one goes alone."""
    groups: list[list[str]] = []
    sizes: list[int] = []
    for ns, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        slot = next((i for i, size in enumerate(sizes) if size + n <= most), None)
        if slot is None:
            groups.append([ns])
            sizes.append(n)
        else:
            groups[slot].append(ns)
            sizes[slot] += n
    return groups


def chunks_of(start: int, end: int, step: int, length: int) -> list[tuple[int, int]]:
    """[first, last] sample times of each range query, never overlapping. Boundaries fall on multiples of the
    chunk length since the epoch, so the runs of a cron job cut history the same way whenever they run."""
    length = max(step, min(length, MAX_POINTS * step) // step * step)
    out = []
    a = start
    while a <= end:
        last = min((a // length + 1) * length - step, end)
        last -= (last - a) % step  # on the step grid that starts at `a`
        out.append((a, last))
        a = last + step
    return out


RESOURCE_STEP = 3600  # requests and limits: a change is seen within the hour, at a twelfth of the points


def _step(query: str, step: int) -> int:
    return max(step, RESOURCE_STEP) if query in queries.RESOURCES else step


def import_prometheus(
    store: Store,
    prom: Prometheus,
    req: PromImport,
    audit: AuditRecord,
    progress: Callable[[str], None] = lambda step: None,
) -> PromOutcome:
    began = time.monotonic()
    extra = f", {req.match}" if req.match else ""
    end = (req.until if req.until is not None else int(time.time())) // req.step * req.step
    start = (end - req.history) // req.step * req.step + req.step
    out = PromOutcome(prom.base, prom.check(), (start, end))
    progress("finding containers")
    found = {(s.get("namespace", ""), s.get("pod", ""), s.get("container", ""))
             for s in prom.series(queries.containers(extra), start, end)}  # fmt: skip
    counts = Counter(ns for ns, _, _ in found if req.namespaces is None or ns in req.namespaces)
    if not counts:
        scope = f" in namespace(s) {', '.join(req.namespaces)}" if req.namespaces else ""
        raise NoDataError(
            f"Prometheus at {prom.base} has no container_memory_working_set_bytes series{scope} "
            f"between {iso(start)} and {iso(end)}",
            hint="is cAdvisor (the kubelet's /metrics/cadvisor) scraped? Is --history long enough?",
        )
    out.containers = sum(counts.values())
    groups = [queries.namespaces_matcher(g) for g in groups_of(dict(counts), req.max_series)]
    out.groups = len(groups)
    owners = Owners()
    for matcher in groups:
        for kind, selector in queries.owners(matcher, extra).items():
            owners.add(kind, prom.series(selector, start, end))
    if not owners.pods:
        out.notices.append("no kube_pod_owner series (kube-state-metrics): each pod is stored as its own workload")
    chunks = chunks_of(start, end, req.step, req.chunk)
    have = store.sample_times(req.cluster, start, end, sorted(counts))
    todo = [c for c in chunks if not all(t in have for t in range(c[0], c[1] + 1, req.step))]
    out.chunks, out.chunks_skipped = len(chunks), len(chunks) - len(todo)
    window = req.rate_window or max(req.step, 300)
    rejected = Rejected(req.accept)
    per_group = [queries.usage(m, f"{window}s", extra, f"{window + req.step}s") for m in groups]

    def ask(pool: ThreadPoolExecutor, chunk: tuple[int, int]) -> list[tuple[str, Future[list[dict[str, Any]]]]]:
        return [(name, pool.submit(prom.query_range, q, chunk[0], chunk[1], _step(name, req.step)))
                for qs in per_group for name, q in qs.items()]  # fmt: skip

    with ThreadPoolExecutor(max_workers=max(1, req.concurrency)) as pool:
        pending = ask(pool, todo[0]) if todo else []
        for n, chunk in enumerate(todo):
            answers: dict[str, list[dict[str, Any]]] = {}
            try:
                for name, future in pending:
                    answers.setdefault(name, []).extend(future.result())
            except BaseException:
                for _, future in pending:
                    future.cancel()
                raise
            out.queries += len(pending)
            pending = ask(pool, todo[n + 1]) if n + 1 < len(todo) else []  # the next chunk's queries run meanwhile
            progress(f"chunk {n + 1}/{len(todo)} from {iso(chunk[0])}")
            batch = to_batch(req.cluster, answers, owners, req.step, rejected)
            result = store.write(batch, audit)
            out.received += result.received
            out.written += result.written
            out.oom_kills += len(batch.oom_kills.get("ts", ()))
            out.spooled = out.spooled or result.spooled
    out.requests = prom.requests
    out.bad_points = sum(rejected.counts.values())
    out.notices += rejected.notices()
    out.seconds = time.monotonic() - began
    return out
