"""`upid storage copy`: history from one store to another (DuckDB -> PostgreSQL to adopt a fleet store, PostgreSQL
-> DuckDB for a laptop), cluster by cluster through the Store interface; idempotent, as every write is."""

from __future__ import annotations

from collections.abc import Callable

from upid.errors import NoDataError
from upid.store.base import AuditRecord, Store, WriteResult


def copy(
    source: Store,
    target: Store,
    clusters: list[str] | None,
    audit: AuditRecord,
    step: Callable[[str], None] = lambda name: None,
) -> list[WriteResult]:
    """Each cluster's samples, change points and OOM kills, in one write per cluster (all of it, or none)."""
    known = source.clusters()
    names = clusters or known
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise NoDataError(f"unknown cluster(s) {', '.join(unknown)}; the source has {', '.join(known) or 'none'}")
    out = []
    for name in names:
        step(name)
        results = target.write_many(source.batches(name), audit)
        out.append(WriteResult(
            name, sum(r.received for r in results), sum(r.written for r in results),
            sum(r.series_created for r in results), any(r.spooled for r in results),
        ))  # fmt: skip
    return out
