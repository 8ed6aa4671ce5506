"""Retention of a PostgreSQL store: whole monthly partitions of samples_day are dropped, never rows deleted.

A partition goes when every cluster with rows in it has them all older than its cutoff: `days_to_keep` before
the cluster's newest sample (never later than the wall clock), as the DuckDB store counts. A partition that also
holds a cluster not being cleaned up, or rows newer than a cutoff, stays whole, so a cluster keeps at least its
retention and at most a month more. Dropping a partition waits for the writes in flight to commit."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from upid.store.base import AuditRecord, Removed
from upid.store.postgres import window
from upid.store.postgres.writer import DAY, add_audit

if TYPE_CHECKING:
    import psycopg

_BOUND = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


def partitions(con: psycopg.Connection) -> list[tuple[str, int, int]]:
    """samples_day's partitions: name and days [first, end), oldest first."""
    rows = con.execute(
        """SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'upid.samples_day'::regclass"""
    ).fetchall()
    found = []
    for name, bound in rows:
        match = _BOUND.search(bound or "")
        if match:
            found.append((str(name), int(match[1]), int(match[2])))
    return sorted(found, key=lambda p: p[1])


def cleanup(
    con: psycopg.Connection,
    days_to_keep: int,
    audit: AuditRecord,
    now: float,
    clusters: list[str] | None,
    dry_run: bool,
) -> dict[str, Removed]:
    """What goes (with `dry_run`: would go), per cluster; the partitions are dropped in one transaction."""
    with con.transaction():
        rows = con.execute("SELECT cluster_id, name FROM upid.clusters").fetchall()
        names: dict[int, str] = {int(r[0]): str(r[1]) for r in rows}
        cutoffs: dict[int, int] = {}  # cluster -> the first second it keeps
        for cid, name in names.items():
            last = window.extent(con, int(cid)).last
            if last is not None and (clusters is None or name in clusters):
                cutoffs[int(cid)] = min(last, int(now)) - days_to_keep * DAY
        going: list[str] = []
        removed: dict[str, int] = {}
        for part, _, end in partitions(con):
            held = con.execute(
                f'SELECT cluster_id, sum(cardinality(ts)) FROM upid."{part}" GROUP BY 1'  # noqa: S608 (a catalog name)
            ).fetchall()
            if held and all(int(cid) in cutoffs and end * DAY <= cutoffs[int(cid)] for cid, _ in held):
                going.append(part)
                for cid, samples in held:
                    removed[names[int(cid)]] = removed.get(names[int(cid)], 0) + int(samples)
        result = {name: Removed(removed.get(name, 0)) for cid, name in sorted(names.items(), key=lambda x: x[1])
                  if int(cid) in cutoffs}  # fmt: skip
        if dry_run:
            return result
        for part in going:
            con.execute(f'DROP TABLE upid."{part}"')
        add_audit(con, audit, None, {"days_to_keep": days_to_keep, "partitions_dropped": going,
                                     "removed": {k: v.samples for k, v in result.items()}})  # fmt: skip
    return result
