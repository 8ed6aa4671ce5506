"""Collect one snapshot from each asked-for cluster context into the store."""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from upid.errors import StoreLockedError
from upid.samples import Acceptance
from upid.store.base import AuditRecord, Store, WriteResult


@dataclass(frozen=True)
class CollectRequest:
    """What every context of one `storage collect` run is asked for."""

    kubeconfig: str | None = None
    namespaces: list[str] | None = None  # None: all
    selector: str | None = None
    request_timeout: float = 30.0  # seconds per API request
    accept: Acceptance = field(default_factory=Acceptance.now)  # sample times outside it are skipped, counted
    deadline: float | None = None  # time.monotonic() by which the whole run must be done (--timeout)


@dataclass
class CollectOutcome:
    context: str | None
    cluster: str
    result: WriteResult | None  # None when another collect of the same context was running
    pods: int = 0
    nodes: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    distribution: str = ""

    def summary(self) -> dict[str, object]:
        r = self.result
        return {
            "context": self.context,
            "cluster": self.cluster,
            "skipped": r is None,
            "pods": self.pods,
            "nodes": self.nodes,
            "samples": r.received if r else 0,
            "written": r.written if r else 0,
            "spooled": bool(r and r.spooled),
            "sources": self.sources,
            "distribution": self.distribution,
            "notices": self.notices,
        }


@contextmanager
def exclusive(folder: Path, name: str) -> Iterator[bool]:
    """A non-blocking lock per context, so that overlapping cron runs never both collect and write."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"collect-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def contexts_to_collect(path: str | None, asked: list[str] | None, all_contexts: bool) -> list[str | None]:
    from upid.cluster.connect import list_contexts

    if asked:
        return list(asked)
    if all_contexts:
        names, _ = list_contexts(path)
        return list(names)
    return [None]  # the current context, or in-cluster


def collect_context(
    store: Store,
    lock_folder: Path,
    req: CollectRequest,
    context: str | None,
    name: str | None,
    audit: AuditRecord,
    progress: Callable[[str], None] | None = None,
) -> CollectOutcome:
    from upid.cluster.api import Api
    from upid.cluster.collect import Collector
    from upid.cluster.connect import target

    t = target(req.kubeconfig, context)
    label = t.context or "in-cluster"
    with exclusive(lock_folder, label) as mine:
        if not mine:
            return CollectOutcome(
                context=t.context,
                cluster=name or label,
                result=None,
                notices=[f"another collect of {label} is running; skipped"],
            )
        api = Api(t.client, timeout=req.request_timeout, deadline=req.deadline)
        collector = Collector(api, t.context, t.server, req.namespaces, req.selector, progress, req.accept)
        collection = collector.run(partial(_counters, store, collector.notices))
        result = store.write_collection(collection, name or label, audit)
    return CollectOutcome(
        context=t.context,
        cluster=result.cluster,
        result=result,
        pods=collection.pods,
        nodes=len(collection.nodes),
        sources=collection.sources,
        notices=collection.notices,
        distribution=collection.identity.distribution,
    )


def _counters(
    store: Store, notices: list[str], uid: str
) -> dict[tuple[str, str, str], tuple[int, float, float, float]]:
    """The last kubelet counters, or none when the store stays busy: then CPU is the kubelet's recent rate."""
    try:
        return store.previous_counters(uid)
    except StoreLockedError:
        notices.append("store busy: no previous kubelet counters; this snapshot uses the kubelet's recent rates")
        return {}


def cluster_info(path: str | None, context: str | None, timeout: float) -> dict[str, object]:
    from upid.cluster.api import Api
    from upid.cluster.collect import Collector
    from upid.cluster.connect import target
    from upid.cluster.objects import parse_node

    t = target(path, context)
    api = Api(t.client, timeout=timeout)
    nodes = [parse_node(n) for n in api.list("/api/v1/nodes")]
    identity = Collector(api, t.context, t.server, None, None).identity(nodes)
    return {
        **identity.to_dict(),
        "nodes": len(nodes),
        "cpu_allocatable": sum(n.cpu_allocatable for n in nodes),
        "memory_allocatable": int(sum(n.memory_allocatable for n in nodes)),
        "spot_nodes": sum(n.capacity_type == "spot" for n in nodes),
    }
