"""PostgresStore: the Store interface over a PostgreSQL database, for a fleet of clusters (docs/fleet.md).

Each method opens its own connection (or uses the one a `snapshot` holds) and delegates to a module: writer
(samples), inventory (a collection's records), window (the read of an analysis), hourly (rollups), retention
(partitions dropped), changes (optimize's trail), checks (export, verify), roles (`storage init`). The URL follows
libpq: PGPASSWORD, ~/.pgpass and PGSERVICE work; a password in the URL is never printed."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from upid import redact
from upid.errors import UsageError
from upid.store.base import (
    AuditEntry,
    AuditRecord,
    ChangeRecord,
    ClusterStatus,
    Extent,
    QueryResult,
    Removed,
    StoreStatus,
    WriteResult,
)
from upid.store.postgres import changes as change_log
from upid.store.postgres import checks, hourly, inventory, migrations, retention, roles, window, writer
from upid.store.postgres.connection import connect

if TYPE_CHECKING:
    import psycopg

    from upid.analysis.window import ClusterWindow, Scope
    from upid.inventory import Collection
    from upid.samples import SampleBatch


class PostgresStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self._held: psycopg.Connection | None = None
        self._migrated = False

    @contextmanager
    def _con(self) -> Iterator[psycopg.Connection]:
        if self._held is not None:
            yield self._held
            return
        with connect(self.url) as con:
            if not self._migrated:
                migrations.ensure(con, self.url)
                self._migrated = True
            yield con

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One connection and one REPEATABLE READ transaction for every read inside."""
        if self._held is not None:
            yield
            return
        with self._con() as con, con.transaction():
            con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            self._held = con
            try:
                yield
            finally:
                self._held = None

    # -- writing ------------------------------------------------------------------------------

    def write(self, batch: SampleBatch, audit: AuditRecord) -> WriteResult:
        return self.write_many([batch], audit)[0]

    def write_many(self, batches: Iterable[SampleBatch], audit: AuditRecord) -> list[WriteResult]:
        with self._con() as con:
            return writer.write_batches(con, batches, audit)

    def write_collection(self, collection: Collection, name: str, audit: AuditRecord) -> WriteResult:
        with self._con() as con:
            return inventory.write_collection(con, collection, name, audit)

    def previous_counters(self, uid: str) -> dict[tuple[str, str, str], tuple[int, float, float, float]]:
        with self._con() as con:
            return inventory.previous_counters(con, uid)

    def cluster_identities(self) -> list[dict[str, object]]:
        with self._con() as con:
            return inventory.cluster_identities(con)

    def compact(self, audit: AuditRecord) -> dict[str, int]:
        with self._con() as con:
            retention.require_owner(con, "storage compact merges and rewrites day rows")
            done = hourly.compact(con)
            writer.add_audit(con, audit, None, done)
        return done

    def cleanup(self, days_to_keep: int, audit: AuditRecord, now: float | None = None,
                clusters: list[str] | None = None, dry_run: bool = False,
                hourly_days_to_keep: int | None = None) -> dict[str, Removed]:  # fmt: skip
        """Whole monthly partitions older than their tier's retention (retention.py), rolled up first."""
        with self._con() as con:
            retention.require_owner(con, "storage cleanup drops partitions")
            if not dry_run:
                hourly.compact(con)  # nothing leaves the raw tier before it is rolled up
            return retention.cleanup(con, days_to_keep, hourly_days_to_keep, audit,
                                     time.time() if now is None else now, clusters, dry_run)  # fmt: skip

    def begin_change(self, change: ChangeRecord) -> int:
        with self._con() as con:
            return change_log.begin(con, change)

    def end_change(self, change_id: int, status: str, message: str | None, after: dict[str, Any] | None = None) -> None:
        with self._con() as con:
            change_log.end(con, change_id, status, message, after)

    def changes(self, limit: int = 50, cluster: str | None = None) -> list[ChangeRecord]:
        with self._con() as con:
            return change_log.read(con, limit, cluster)

    def alert_states(self) -> list[dict[str, Any]]:
        from upid.store.postgres import alerts

        with self._con() as con:
            return alerts.load(con)

    def save_alert_states(self, states: list[dict[str, Any]]) -> None:
        from upid.store.postgres import alerts

        with self._con() as con:
            alerts.save(con, states)

    def init(self, writers: dict[str, str], readers: list[str], audit: AuditRecord) -> dict[str, Any]:
        """The schema, the writer and reader roles with row-level security, and the logins granted them."""
        with self._con() as con, con.transaction():
            con.execute(roles.schema_sql())
            if writers or readers:
                con.execute(roles.grants_sql(writers, readers))
            writer.add_audit(con, audit, None, {"writers": writers, "readers": readers})
            version = migrations.version(con)
        return {"store": redact.url(self.url), "schema_version": version, "writers": writers, "readers": readers}

    # -- reading ------------------------------------------------------------------------------

    def clusters(self) -> list[str]:
        with self._con() as con:
            return [r[0] for r in con.execute("SELECT name FROM upid.clusters ORDER BY name").fetchall()]

    def extent(self, cluster: str) -> Extent:
        with self._con() as con:
            return window.extent(con, window.cluster_id(con, cluster))

    def sample_times(self, cluster: str, start: int, end: int, namespaces: list[str] | None = None) -> set[int]:
        from upid.analysis.window import Scope

        if cluster not in self.clusters():
            return set()
        ts = self.window(cluster, start - 1, end, Scope(tuple(namespaces) if namespaces else None)).usage.ts
        return {int(t) for t in ts}

    def batches(self, cluster: str) -> Iterator[SampleBatch]:
        with self._con() as con:
            yield from window.batches(con, cluster)

    def window(self, cluster: str, start: int, end: int, scope: Scope) -> ClusterWindow:
        with self._con() as con:
            return window.window(con, cluster, start, end, scope)

    def status(self) -> StoreStatus:
        with self._con() as con:
            rows = con.execute("""
                SELECT c.name, c.cluster_id, count(DISTINCT s.series_id), coalesce(sum(cardinality(d.ts)), 0)
                FROM upid.clusters c LEFT JOIN upid.series s USING (cluster_id)
                LEFT JOIN upid.samples_day d USING (series_id)
                GROUP BY c.name, c.cluster_id ORDER BY c.name""").fetchall()
            extents = {name: window.extent(con, cid) for name, cid, _, samples in rows if samples}
            size = con.execute("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                               "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'upid' "
                               "AND c.relkind IN ('r', 'p')").fetchone()  # fmt: skip
            version = con.execute("SELECT max(version) FROM upid.schema_migrations").fetchone()
        clusters = []
        for name, _, series, samples in rows:
            ext = extents.get(name, Extent(None, None, None))
            clusters.append(ClusterStatus(name, int(series), int(samples), ext.first, ext.last))
        return StoreStatus(redact.url(self.url), int(version[0] if version else 0), int(size[0] if size else 0),
                           clusters, 0)  # fmt: skip

    def audit_log(self, limit: int) -> list[AuditEntry]:
        with self._con() as con:
            rows = con.execute(
                "SELECT id, extract(epoch FROM logged_at)::bigint, command, cluster, os_user, result, details, args "
                "FROM upid.audit_log ORDER BY id DESC LIMIT %s",
                [limit],
            ).fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], {**(r[6] or {}), "args": list(r[7])}) for r in rows]

    def verify(self) -> dict[str, Any]:
        with self._con() as con:
            return checks.verify(con, self.url)

    def query(self, sql: str, timeout: float = 300.0) -> QueryResult:
        """One statement in a READ ONLY transaction, as the reader role when this login may take it (the server
        then refuses any write), under a statement timeout; the view `upid.usage` decodes the samples."""
        import psycopg

        with self._con() as con:
            try:
                with con.transaction():
                    con.execute("SET TRANSACTION READ ONLY")
                    con.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}")
                    con.execute("SET LOCAL search_path = upid, pg_catalog")
                    member = con.execute(  # `storage init` ran here, and this login may be the reader
                        """SELECT CASE WHEN r.oid IS NULL THEN false ELSE has_schema_privilege(r.oid, 'upid', 'USAGE')
                                  AND pg_has_role(session_user, r.oid, 'MEMBER') END
                           FROM (SELECT 1) x LEFT JOIN pg_roles r ON r.rolname = %s""",
                        [roles.READER],
                    ).fetchone()
                    if member and member[0]:
                        con.execute(f"SET LOCAL ROLE {roles.READER}")
                    cursor = con.execute(sql)
                    rows = cursor.fetchall() if cursor.description else []
                    columns = [d.name for d in cursor.description or []]
            except psycopg.errors.QueryCanceled:
                raise UsageError(f"query interrupted after {timeout:g} s (--timeout)") from None
            except (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege) as e:
                raise UsageError(f"only read-only queries are allowed: {str(e).splitlines()[0]}") from None
            except (psycopg.ProgrammingError, psycopg.DataError) as e:  # the query's own mistake
                raise UsageError(f"query failed: {str(e).splitlines()[0]}") from None
        return QueryResult(columns, [tuple(_plain(v) for v in r) for r in rows])

    def export(self, directory: Path, overwrite: bool) -> dict[str, int]:
        with self._con() as con:
            return checks.export(con, directory, overwrite)


def _plain(value: object) -> object:
    """A NUMERIC (sum() of integers, division) as the JSON and table printers show DuckDB's: a number."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
