"""DuckDBStore: the Store interface over one DuckDB file, its Parquet blocks and its spool.

Every call opens a connection and closes it before returning, so no process holds DuckDB's file lock
for longer than one operation. Writers that cannot get the lock within a share of the lock timeout
spool their batch instead of failing; readers wait up to the full lock timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from upid.errors import StoreLockedError
from upid.inventory import Collection
from upid.samples import SampleBatch
from upid.store.base import (
    AuditEntry,
    AuditRecord,
    ChangeRecord,
    Extent,
    QueryResult,
    Removed,
    StoreStatus,
    WriteResult,
)
from upid.store.duckdb import (
    alerts,
    batches,
    blocks,
    changes,
    integrity,
    migrations,
    queries,
    rollups,
    sandbox,
    spool,
    window,
)
from upid.store.duckdb.connection import connect, one, wrapped
from upid.store.duckdb.inventory import cluster_identities, previous_counters, write_collection
from upid.store.duckdb.writer import add_audit, write_batches

if TYPE_CHECKING:
    from upid.analysis.window import ClusterWindow, Scope  # numpy: imported only by the reads that build one

WRITE_MEMORY_LIMIT = "150MB"
WRITER_SHARE = 1 / 3  # of the lock timeout a writer waits before spooling


class DuckDBStore:
    def __init__(
        self,
        path: Path,
        lock_timeout: float = 30.0,
        thresholds: blocks.Thresholds | None = None,
        notify: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.thresholds = thresholds or blocks.Thresholds()
        self.notify = notify  # warnings for people (a quarantined spool file): the CLI prints them on stderr
        self._held: duckdb.DuckDBPyConnection | None = None  # the snapshot's connection, while one is open

    # -- connections -------------------------------------------------------------------------

    @contextmanager
    def _writer(self, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(
            self.path,
            read_only=False,
            timeout=self.lock_timeout * WRITER_SHARE if timeout is None else timeout,
        )
        try:
            with wrapped(self.path):
                con.execute(f"SET memory_limit = '{WRITE_MEMORY_LIMIT}'")  # staging spills rather than grows
                migrations.migrate(con, self.path)
                blocks.sweep_orphans(con, self.path)
                integrity.record_missing(con, blocks.blocks_dir(self.path))
                self._merge_spool(con)
                yield con
        finally:
            con.close()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside sees one consistent state through one connection, the schema checked once (a
        command's reads: a few milliseconds each instead of a connection each). Writers wait for it or spool."""
        if self._held is not None:
            yield
            return
        with self._reader() as con:
            self._held = con
            try:
                yield
            finally:
                self._held = None

    @contextmanager
    def _reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._held is not None:
            yield self._held
            return
        self._settle()
        con = connect(self.path, read_only=True, timeout=self.lock_timeout)
        try:
            with wrapped(self.path):
                migrations.check_not_newer(migrations.current_version(con), self.path)
                yield con
        finally:
            con.close()

    def _settle(self) -> None:
        """Before reading: bring the schema up to date and merge spooled batches, if the lock is free."""
        if not self.path.exists():
            return
        needs_migration = False
        if not spool.pending(self.path):
            con = connect(self.path, read_only=True, timeout=self.lock_timeout)
            try:
                with wrapped(self.path):
                    version = migrations.current_version(con)
                    migrations.check_not_newer(version, self.path)
                    needs_migration = version < migrations.latest()
            finally:
                con.close()
            if not needs_migration:
                return
        try:
            with self._writer(timeout=self.lock_timeout if needs_migration else 0.2):
                pass
        except StoreLockedError:
            if needs_migration:
                raise

    def _merge_spool(self, con: duckdb.DuckDBPyConnection) -> None:
        for path in spool.pending(self.path):
            try:
                batch, audit, extra = spool.load(path)
            except spool.BadSpoolFile as e:
                aside = spool.quarantine(path)
                self.notify(f"spooled batch {path.name} cannot be read ({e}); moved aside to {aside.name}, not merged")
                continue
            if extra and "collection" in extra:
                collection = Collection.from_inventory_json(extra["collection"], batch)
                write_collection(con, self.path, collection, extra["name"], audit, self.thresholds, spooled=True)
            else:
                write_batches(con, self.path, [batch], audit, self.thresholds, spooled=True)
            path.unlink(missing_ok=True)

    # -- writing ------------------------------------------------------------------------------

    def write(self, batch: SampleBatch, audit: AuditRecord) -> WriteResult:
        return self.write_many([batch], audit)[0]

    def write_many(self, batches: Iterable[SampleBatch], audit: AuditRecord) -> list[WriteResult]:
        """Several batches (a file's, built one at a time) through one connection and transaction: all or none.
        When the store stays busy, each is spooled instead."""
        try:
            with self._writer() as con:
                return write_batches(con, self.path, batches, audit, self.thresholds)
        except StoreLockedError:
            out = []
            for batch in batches:
                spool.put(self.path, batch, audit)
                out.append(WriteResult(cluster=batch.cluster, received=len(batch), written=0, series_created=0,
                                       spooled=True))  # fmt: skip
            return out

    def write_collection(self, collection: Collection, name: str, audit: AuditRecord) -> WriteResult:
        """A cluster snapshot (samples and inventory) in one transaction, or spooled whole when busy."""
        try:
            with self._writer() as con:
                return write_collection(con, self.path, collection, name, audit, self.thresholds)
        except StoreLockedError:
            extra = {"collection": collection.inventory_json(), "name": name}
            spool.put(self.path, collection.batch, audit, extra)
            return WriteResult(cluster=name, received=len(collection.batch), written=0, series_created=0, spooled=True)

    def compact(self, audit: AuditRecord) -> dict[str, int]:
        """Roll up every block that waits for its hourly rows (each in its own transaction)."""
        with self._writer(timeout=self.lock_timeout) as con:
            pending = one(con, "SELECT count(*), coalesce(sum(samples), 0) FROM blocks WHERE NOT rolled_up")
            rows = rollups.backfill(con, blocks.blocks_dir(self.path))
            details = {"blocks": int(pending[0]), "samples": int(pending[1]), "hourly_rows": rows}
            add_audit(con, audit, None, "ok", details)
        return details

    def previous_counters(self, uid: str) -> dict[tuple[str, str, str], tuple[int, float, float, float]]:
        if not self.path.exists():
            return {}
        with self._reader() as con:
            return previous_counters(con, uid)

    def cluster_identities(self) -> list[dict[str, object]]:
        with self._reader() as con:
            return cluster_identities(con)

    def cleanup(
        self,
        days_to_keep: int,
        audit: AuditRecord,
        now: float | None = None,
        clusters: list[str] | None = None,
        dry_run: bool = False,
        hourly_days_to_keep: int | None = None,
    ) -> dict[str, Removed]:
        clock = time.time() if now is None else now
        tiers = (days_to_keep, audit, clock, clusters)
        if dry_run:  # counts only: a reader, no lock taken from writers
            with self._reader() as con:
                return queries.cleanup(con, self.path, *tiers, dry_run=True, hourly_days_to_keep=hourly_days_to_keep)[0]
        with self._writer(timeout=self.lock_timeout) as con:
            rollups.backfill(con, blocks.blocks_dir(self.path))  # nothing leaves the raw tier before it is rolled up
            removed, old_files = queries.cleanup(con, self.path, *tiers, hourly_days_to_keep=hourly_days_to_keep)
        for path in old_files:
            path.unlink(missing_ok=True)
        return removed

    # -- reading ------------------------------------------------------------------------------

    def clusters(self) -> list[str]:
        with self._reader() as con:
            return [r[0] for r in con.execute("SELECT name FROM clusters ORDER BY name").fetchall()]

    def extent(self, cluster: str) -> Extent:
        with self._reader() as con:
            return queries.extent(con, self.path, cluster)

    def sample_times(self, cluster: str, start: int, end: int, namespaces: list[str] | None = None) -> set[int]:
        if not self.path.exists():
            return set()
        with self._reader() as con:
            return queries.sample_times(con, self.path, cluster, start, end, namespaces)

    def status(self) -> StoreStatus:
        with self._reader() as con:
            clusters = queries.cluster_status(con, self.path)
            version = migrations.current_version(con)
        size = self.path.stat().st_size + blocks.total_bytes(self.path)
        wal = self.path.with_name(self.path.name + ".wal")
        if wal.exists():
            size += wal.stat().st_size
        return StoreStatus(
            path=self.path,
            schema_version=version,
            size_bytes=size,
            clusters=clusters,
            spooled_batches=len(spool.pending(self.path)),
        )

    def batches(self, cluster: str) -> Iterator[SampleBatch]:
        """The cluster's stored samples as batches, a group of series at a time (`storage copy`)."""
        with self._reader() as con:
            yield from batches.batches(con, self.path, cluster)

    def window(self, cluster: str, start: int, end: int, scope: Scope) -> ClusterWindow:
        with self._reader() as con:
            return window.window(con, self.path, cluster, start, end, scope)

    def audit_log(self, limit: int) -> list[AuditEntry]:
        with self._reader() as con:
            return queries.audit_log(con, limit)

    def changes(self, limit: int = 50, cluster: str | None = None) -> list[ChangeRecord]:
        if not self.path.exists():
            return []
        with self._reader() as con:
            return changes.read(con, limit, cluster)

    def begin_change(self, change: ChangeRecord) -> int:
        """Written before the change is made; waits the full lock timeout (a change is never spooled)."""
        with self._writer(timeout=self.lock_timeout) as con:
            return changes.begin(con, change)

    def end_change(self, change_id: int, status: str, message: str | None, after: dict[str, Any] | None = None) -> None:
        with self._writer(timeout=self.lock_timeout) as con:
            changes.end(con, change_id, status, message, after)

    def alert_states(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self._reader() as con:
            return alerts.load(con)

    def save_alert_states(self, states: list[dict[str, Any]]) -> None:
        with self._writer(timeout=self.lock_timeout) as con:
            alerts.save(con, states)

    def verify(self) -> dict[str, Any]:
        """Read everything: every table of the DuckDB file (its own block checksums), every block whole."""
        with self._reader() as con:
            tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY ALL").fetchall()]
            for table in tables:
                con.execute(f'SELECT count(*), sum(hash(COLUMNS(*))) FROM "{table}"').fetchall()
            problems = integrity.verify(con, self.path, blocks.blocks_dir(self.path))
            count = one(con, "SELECT count(*), coalesce(sum(samples), 0) FROM blocks")
            head = one(con, "SELECT count(*) FROM samples")
        return {
            "store": str(self.path),
            "tables": len(tables),
            "blocks": int(count[0]),
            "samples": int(count[1]) + int(head[0]),
            "problems": problems,
        }

    def query(self, sql: str, timeout: float = 300.0) -> QueryResult:
        sandbox.check(sql)  # refused before the store is even opened
        with self._reader() as con:
            return sandbox.run(con, self.path, queries.usage_view(con, self.path), sql, timeout)

    def export(self, directory: Path, overwrite: bool) -> dict[str, int]:
        with self._reader() as con:
            return queries.export(con, self.path, directory, overwrite)
