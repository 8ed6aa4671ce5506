"""Numbered schema migrations, registered by decorator and recorded in the store itself.

A store whose recorded version is higher than the newest migration here was written by a newer upid:
it is refused before anything is read or written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from upid.errors import StoreVersionError
from upid.store.duckdb.connection import one

Migration = Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: dict[int, tuple[str, Migration]] = {}


def migration(version: int, name: str) -> Callable[[Migration], Migration]:
    def register(fn: Migration) -> Migration:
        if version in MIGRATIONS:
            raise RuntimeError(f"migration {version} registered twice")
        MIGRATIONS[version] = (name, fn)
        return fn

    return register


def latest() -> int:
    return max(MIGRATIONS)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = one(con, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'")
    if not exists or not exists[0]:
        return 0
    row = one(con, "SELECT coalesce(max(version), 0) FROM schema_migrations")
    return int(row[0]) if row else 0


def check_not_newer(version: int, path: Path) -> None:
    if version > latest():
        raise StoreVersionError(
            f"store {path} has schema version {version}, newer than this upid supports ({latest()})",
            hint="upgrade upid to read it; the store was not changed",
        )


def migrate(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Apply the pending migrations, each in its own transaction; returns the resulting version."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    version = current_version(con)
    check_not_newer(version, path)
    for number in sorted(v for v in MIGRATIONS if v > version):
        name, fn = MIGRATIONS[number]
        con.execute("BEGIN")
        fn(con)
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now()::TIMESTAMP)", [number, name])
        con.execute("COMMIT")
        version = number
    return version


@migration(1, "initial schema: clusters, series, samples head, blocks, resources, runs, audit log")
def _initial(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        CREATE TABLE clusters (
            cluster_id INTEGER PRIMARY KEY,
            name VARCHAR NOT NULL UNIQUE,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE series (
            series_id INTEGER PRIMARY KEY,
            cluster_id INTEGER NOT NULL,
            namespace VARCHAR NOT NULL,
            workload_kind VARCHAR NOT NULL,
            workload VARCHAR NOT NULL,
            pod VARCHAR NOT NULL,
            container VARCHAR NOT NULL,
            node VARCHAR,
            UNIQUE (cluster_id, namespace, workload_kind, workload, pod, container)
        );
        -- the head: fresh samples; compacted into Parquet blocks once large
        CREATE TABLE samples (
            series_id INTEGER NOT NULL,
            ts TIMESTAMP NOT NULL,
            cpu_m INTEGER NOT NULL,
            mem_kib BIGINT NOT NULL,
            net_rx BIGINT,
            net_tx BIGINT,
            source UTINYINT NOT NULL
        );
        CREATE TABLE blocks (
            block_id INTEGER PRIMARY KEY,
            cluster_id INTEGER NOT NULL,
            file VARCHAR NOT NULL,
            min_ts TIMESTAMP NOT NULL,
            max_ts TIMESTAMP NOT NULL,
            samples BIGINT NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
        -- requests and limits as change points: a row only when a value changes
        CREATE TABLE resources (
            series_id INTEGER NOT NULL,
            ts TIMESTAMP NOT NULL,
            cpu_request_m INTEGER,
            cpu_limit_m INTEGER,
            memory_request BIGINT,
            memory_limit BIGINT
        );
        CREATE TABLE runs (
            run_id INTEGER PRIMARY KEY,
            cluster_id INTEGER NOT NULL,
            source VARCHAR NOT NULL,
            finished_at TIMESTAMP NOT NULL,
            samples_received BIGINT NOT NULL,
            samples_written BIGINT NOT NULL
        );
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            logged_at TIMESTAMP NOT NULL,
            command VARCHAR NOT NULL,
            args VARCHAR[] NOT NULL,
            cluster VARCHAR,
            os_user VARCHAR NOT NULL,
            result VARCHAR NOT NULL,
            details JSON
        );
    """)


@migration(2, "collected inventory: cluster identity, nodes, workloads, HPAs, PDBs, container status, kubelet counters")
def _inventory(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        CREATE TABLE cluster_identity (
            cluster_id INTEGER PRIMARY KEY,
            uid VARCHAR NOT NULL UNIQUE,   -- the kube-system namespace UID: stable across context renames
            context VARCHAR,
            server VARCHAR,
            version VARCHAR,
            distribution VARCHAR,
            provider VARCHAR,
            updated_at TIMESTAMP NOT NULL
        );
        CREATE TABLE nodes (
            cluster_id INTEGER NOT NULL,
            name VARCHAR NOT NULL,
            cpu_capacity DOUBLE, memory_capacity DOUBLE, cpu_allocatable DOUBLE, memory_allocatable DOUBLE,
            instance_type VARCHAR, region VARCHAR, zone VARCHAR, capacity_type VARCHAR, provider_id VARCHAR,
            labels JSON,
            first_seen TIMESTAMP NOT NULL,
            last_seen TIMESTAMP NOT NULL,
            PRIMARY KEY (cluster_id, name)
        );
        CREATE TABLE workloads (
            cluster_id INTEGER NOT NULL,
            namespace VARCHAR NOT NULL, kind VARCHAR NOT NULL, name VARCHAR NOT NULL,
            replicas INTEGER,
            annotations JSON,
            first_seen TIMESTAMP NOT NULL,
            last_seen TIMESTAMP NOT NULL,
            PRIMARY KEY (cluster_id, namespace, kind, name)
        );
        CREATE TABLE hpas (
            cluster_id INTEGER NOT NULL,
            namespace VARCHAR NOT NULL, name VARCHAR NOT NULL,
            target_kind VARCHAR, target_name VARCHAR,
            min_replicas INTEGER, max_replicas INTEGER, current_replicas INTEGER,
            resources VARCHAR[],           -- the resources it scales on (cpu, memory)
            last_seen TIMESTAMP NOT NULL,
            PRIMARY KEY (cluster_id, namespace, name)
        );
        CREATE TABLE pdbs (
            cluster_id INTEGER NOT NULL,
            namespace VARCHAR NOT NULL, name VARCHAR NOT NULL,
            min_available VARCHAR, max_unavailable VARCHAR, selector JSON, disruptions_allowed INTEGER,
            last_seen TIMESTAMP NOT NULL,
            PRIMARY KEY (cluster_id, namespace, name)
        );
        -- restarts and terminations as change points: a row when the restart count or reason changes
        CREATE TABLE container_status (
            series_id INTEGER NOT NULL,
            ts TIMESTAMP NOT NULL,
            restarts INTEGER,
            phase VARCHAR,
            qos VARCHAR,
            last_termination_reason VARCHAR,
            last_termination_at VARCHAR
        );
        -- the last cumulative kubelet counters per series, for exact averages at the next collection
        CREATE TABLE kubelet_counters (
            series_id INTEGER PRIMARY KEY,
            ts TIMESTAMP NOT NULL,
            cpu_ns DOUBLE, rx DOUBLE, tx DOUBLE
        );
    """)


@migration(3, "workload labels, for label selectors")
def _workload_labels(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("ALTER TABLE workloads ADD COLUMN labels JSON")


@migration(4, "changes: the audit trail of `upid optimize` (before and after values of every change made)")
def _changes(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        CREATE TABLE changes (
            id INTEGER PRIMARY KEY,
            run VARCHAR NOT NULL,          -- one `optimize --apply` (or rollback, wake) invocation
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            cluster VARCHAR NOT NULL,
            context VARCHAR,
            kube_user VARCHAR,
            os_user VARCHAR NOT NULL,
            namespace VARCHAR NOT NULL, kind VARCHAR NOT NULL, name VARCHAR NOT NULL,
            action VARCHAR NOT NULL,       -- rightsize, scale-to-zero, rollback, wake
            before JSON NOT NULL,
            after JSON NOT NULL,
            status VARCHAR NOT NULL,       -- pending, applied, failed, skipped, rolled-back
            message VARCHAR,
            rollback_of INTEGER
        );
    """)


@migration(5, "block integrity: each block's size, footer and whole-file SHA-256, recorded when it is written")
def _block_checksums(con: duckdb.DuckDBPyConnection) -> None:
    # NULL for blocks written before: the next write records them from the files as they are then
    con.execute("ALTER TABLE blocks ADD COLUMN bytes BIGINT")
    con.execute("ALTER TABLE blocks ADD COLUMN footer_sha256 VARCHAR")
    con.execute("ALTER TABLE blocks ADD COLUMN sha256 VARCHAR")


@migration(6, "hourly rollups: rollup blocks per series and hour, and which sample blocks are rolled up")
def _rollups(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        CREATE TABLE rollup_blocks (
            block_id INTEGER PRIMARY KEY,
            cluster_id INTEGER NOT NULL,
            file VARCHAR NOT NULL,         -- relative to the blocks folder
            min_hour INTEGER NOT NULL,     -- UNIX seconds // 3600
            max_hour INTEGER NOT NULL,
            rows BIGINT NOT NULL,          -- (series, hour) rows
            samples BIGINT NOT NULL,       -- the samples they roll up
            created_at TIMESTAMP NOT NULL,
            bytes BIGINT, footer_sha256 VARCHAR, sha256 VARCHAR
        )""")
    # every block waits for its rollups until `storage compact` or `cleanup` (upid/store/duckdb/rollups.py)
    con.execute("ALTER TABLE blocks ADD COLUMN rolled_up BOOLEAN DEFAULT false")
    con.execute("UPDATE blocks SET rolled_up = false")


@migration(7, "alerts: each alert's state between runs of `upid alerts` (pending since, firing since, resolved at)")
def _alerts(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        CREATE TABLE alerts (
            fingerprint VARCHAR PRIMARY KEY,  -- the alert's name and labels, hashed
            alert VARCHAR NOT NULL, cluster VARCHAR NOT NULL, labels JSON NOT NULL, annotations JSON NOT NULL,
            state VARCHAR NOT NULL,           -- pending, firing, resolved, inactive
            active_since BIGINT NOT NULL, value DOUBLE, fired_at BIGINT, resolved_at BIGINT,
            severity VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL
        );
    """)
