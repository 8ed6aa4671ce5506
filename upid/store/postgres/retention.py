"""Retention of a PostgreSQL store: whole monthly partitions are dropped, never rows deleted; raw day rows
(samples_day) by `days_to_keep`, hourly rollups (samples_hour) by `hourly_days_to_keep`.

A partition goes when every cluster with rows in it has them all older than its cutoff: the retention before the
cluster's newest sample (never later than the wall clock), as the DuckDB store counts. A partition that also
holds a cluster not being cleaned up, or rows newer than a cutoff, stays whole, so a cluster keeps at least its
retention and at most a month more. Dropping a partition waits for the writes in flight to commit."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from upid.errors import StoreError
from upid.store.base import AuditRecord, Removed
from upid.store.postgres import window
from upid.store.postgres.writer import DAY, add_audit

if TYPE_CHECKING:
    import psycopg

_BOUND = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


TIERS = (("samples_day", "sum(cardinality(ts))"), ("rollups_day", "sum(cardinality(hours))"))


def partitions(con: psycopg.Connection, parent: str) -> list[tuple[str, int, int]]:
    """The partitions of `parent`: name and days [first, end), oldest first."""
    rows = con.execute(
        """SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass""",
        [f"upid.{parent}"],
    ).fetchall()
    found = []
    for name, bound in rows:
        match = _BOUND.search(bound or "")
        if match:
            found.append((str(name), int(match[1]), int(match[2])))
    return sorted(found, key=lambda p: p[1])


def require_owner(con: psycopg.Connection, what: str) -> None:
    """StoreError unless this login owns the sample tables (the one that ran `storage init`)."""
    owner = con.execute("SELECT pg_has_role(current_user, c.relowner, 'USAGE'), current_user FROM pg_class c "
                        "WHERE c.oid = 'upid.samples_day'::regclass").fetchone()  # fmt: skip
    if not owner or not owner[0]:
        raise StoreError(
            f"{what}, which only the store's owner may do, and {owner[1] if owner else '?'} is not the owner",
            hint="run it as the login that ran `storage init`",
        )


def cleanup(
    con: psycopg.Connection,
    days_to_keep: int,
    hourly_days_to_keep: int | None,
    audit: AuditRecord,
    now: float,
    clusters: list[str] | None,
    dry_run: bool,
) -> dict[str, Removed]:
    """What goes (with `dry_run`: would go), per cluster; the partitions are dropped in one transaction."""
    with con.transaction():
        rows = con.execute("SELECT cluster_id, name FROM upid.clusters ORDER BY name").fetchall()
        names: dict[int, str] = {int(r[0]): str(r[1]) for r in rows}
        newest: dict[int, int] = {}  # cluster -> the time its retention counts back from
        for cid, name in names.items():
            last = window.extent(con, cid).last
            if last is not None and (clusters is None or name in clusters):
                newest[cid] = min(last, int(now))
        going: list[str] = []
        removed = {tier: dict.fromkeys(newest, 0) for tier, _ in TIERS}
        for (parent, count), days in zip(TIERS, (days_to_keep, hourly_days_to_keep), strict=True):
            if days is None:
                continue
            for part, _, end in partitions(con, parent):
                held = con.execute(f'SELECT cluster_id, {count} FROM upid."{part}" GROUP BY 1').fetchall()
                if held and all(int(c) in newest and end * DAY <= newest[int(c)] - days * DAY for c, _ in held):
                    going.append(part)
                    for c, n in held:
                        removed[parent][int(c)] += int(n)
        result = {names[c]: Removed(removed["samples_day"][c], removed["rollups_day"][c]) for c in newest}
        if dry_run:
            return result
        for part in going:
            con.execute(f'DROP TABLE upid."{part}"')
        add_audit(con, audit, None, {"days_to_keep": days_to_keep, "hourly_days_to_keep": hourly_days_to_keep,
                                     "partitions_dropped": going,
                                     "removed": {k: v.samples for k, v in result.items()},
                                     "removed_hourly_rows": {k: v.hourly_rows for k, v in result.items()}})  # fmt: skip
    return result
