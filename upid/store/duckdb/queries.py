"""Read-side SQL of the DuckDB backend: status, usage for analysis, audit, user queries, export, cleanup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from upid.errors import NoDataError
from upid.store.base import AuditEntry, AuditRecord, ClusterStatus, Extent, Removed, prepare_export
from upid.store.duckdb import blocks, rollups
from upid.store.duckdb.connection import one, sql_literal, sql_ts
from upid.store.duckdb.writer import add_audit, transaction

if TYPE_CHECKING:
    pass  # annotations only; numpy is imported where it is used


def cluster_id(con: duckdb.DuckDBPyConnection, cluster: str) -> int:
    row = one(con, "SELECT cluster_id FROM clusters WHERE name = ?", [cluster])
    if not row:
        names = [r[0] for r in con.execute("SELECT name FROM clusters ORDER BY name").fetchall()]
        raise NoDataError(f"no cluster {cluster!r} in the store", hint=f"known clusters: {', '.join(names) or 'none'}")
    return int(row[0])


def all_samples(con: duckdb.DuckDBPyConnection, store: Path, cluster_id: int | None = None) -> str:
    return blocks.samples_sql(blocks.block_files(con, store, cluster_id))


def usage_view(con: duckdb.DuckDBPyConnection, store: Path) -> str:
    """Every sample with readable names and SI units: what `storage query` and `export` show."""
    return f"""
        SELECT c.name AS cluster, s.namespace, s.workload_kind, s.workload, s.pod, s.container, s.node,
               x.ts AS timestamp, x.cpu_m / 1000.0 AS cpu_cores, x.mem_kib * 1024 AS memory_bytes,
               x.net_rx AS network_rx_bytes_per_s, x.net_tx AS network_tx_bytes_per_s,
               CASE x.source WHEN 1 THEN 'import' WHEN 2 THEN 'metrics-server' WHEN 3 THEN 'kubelet-summary'
                             WHEN 4 THEN 'prometheus' END AS source
        FROM ({all_samples(con, store)}) x
        JOIN series s USING (series_id) JOIN clusters c USING (cluster_id)"""


def newest_sample(con: duckdb.DuckDBPyConnection, store: Path, cluster: str) -> int | None:
    cid = cluster_id(con, cluster)
    row = one(
        con,
        f"SELECT epoch(max(ts))::BIGINT FROM ({all_samples(con, store, cid)}) x "
        "WHERE series_id IN (SELECT series_id FROM series WHERE cluster_id = ?)",
        [cid],
    )
    return int(row[0]) if row and row[0] is not None else None


def extent(con: duckdb.DuckDBPyConnection, store: Path, cluster: str) -> Extent:
    cid = cluster_id(con, cluster)
    in_cluster = f"series_id IN (SELECT series_id FROM series WHERE cluster_id = {cid})"
    row = one(
        con,
        f"""SELECT epoch(least((SELECT min(min_ts) FROM blocks WHERE cluster_id = {cid}),
                              (SELECT min(ts) FROM samples WHERE {in_cluster})))::BIGINT,
                   (SELECT min(min_hour) FROM rollup_blocks WHERE cluster_id = {cid})::BIGINT * 3600""",
    )
    first, hourly = (None, None) if row is None else (row[0], row[1])
    return Extent(first, newest_sample(con, store, cluster), hourly)


def sample_times(
    con: duckdb.DuckDBPyConnection, store: Path, cluster: str, start: int, end: int, namespaces: list[str] | None
) -> set[int]:
    """The distinct sample times in [start, end] of the cluster (of these namespaces, when given)."""
    if cluster not in {r[0] for r in con.execute("SELECT name FROM clusters").fetchall()}:
        return set()
    cid = cluster_id(con, cluster)
    where = "" if not namespaces else f" AND namespace IN ({', '.join(sql_literal(n) for n in namespaces)})"
    rows = con.execute(
        f"SELECT DISTINCT epoch(ts)::BIGINT FROM ({all_samples(con, store, cid)}) x "
        f"WHERE ts BETWEEN make_timestamp(?::BIGINT * 1000000) AND make_timestamp(?::BIGINT * 1000000) "
        f"AND series_id IN (SELECT series_id FROM series WHERE cluster_id = ?{where})",
        [start, end, cid],
    ).fetchall()
    return {int(r[0]) for r in rows}


def cluster_status(con: duckdb.DuckDBPyConnection, store: Path) -> list[ClusterStatus]:
    rows = con.execute(f"""
        SELECT c.name, count(DISTINCT s.series_id), count(x.ts), epoch(min(x.ts))::BIGINT, epoch(max(x.ts))::BIGINT
        FROM clusters c LEFT JOIN series s USING (cluster_id)
        LEFT JOIN ({all_samples(con, store)}) x USING (series_id)
        GROUP BY c.name ORDER BY c.name""").fetchall()
    return [ClusterStatus(name=r[0], series=int(r[1]), samples=int(r[2]), first=r[3], last=r[4]) for r in rows]


def audit_log(con: duckdb.DuckDBPyConnection, limit: int) -> list[AuditEntry]:
    rows = con.execute(
        "SELECT id, epoch(logged_at)::BIGINT, command, cluster, os_user, result, details, args "
        "FROM audit_log ORDER BY id DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [
        AuditEntry(
            id=r[0],
            at=r[1],
            command=r[2],
            cluster=r[3],
            user=r[4],
            result=r[5],
            details={**json.loads(r[6] or "{}"), "args": list(r[7])},
        )
        for r in rows
    ]


def export(con: duckdb.DuckDBPyConnection, store: Path, directory: Path, overwrite: bool) -> dict[str, int]:
    """Every sample as Parquet, hive-partitioned by cluster and day, readable by any Parquet engine."""
    prepare_export(directory, overwrite)
    target = sql_literal(directory)
    row = one(con, f"SELECT count(*) FROM ({usage_view(con, store)})")
    con.execute(
        f"COPY (SELECT *, strftime(timestamp, '%Y-%m-%d') AS day FROM ({usage_view(con, store)}) "
        f"ORDER BY cluster, day, namespace, workload, pod, container, timestamp) "
        f"TO {target} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (cluster, day))"
    )
    files = len(list(directory.rglob("*.parquet")))
    return {"samples": int(row[0]) if row else 0, "files": files}


def cleanup(
    con: duckdb.DuckDBPyConnection,
    store: Path,
    days_to_keep: int,
    audit: AuditRecord,
    now: float,
    clusters: list[str] | None = None,
    dry_run: bool = False,
    hourly_days_to_keep: int | None = None,
) -> tuple[dict[str, Removed], list[Path]]:
    """Drop samples older than `days_to_keep` before each cluster's newest sample, as Prometheus' retention
    counts from its newest data, so that imported history is not wiped by the wall clock. A newest sample
    after `now` (the wall clock) counts as `now`: one sample from the future never wipes real history.

    Hourly rollups older than `hourly_days_to_keep` go by whole rollup blocks (None: all are kept).

    Returns per-cluster removed counts (what would go, with `dry_run`, which changes nothing) and the block files
    to delete once the transaction has committed.
    """
    cutoffs = []
    for cid, name in con.execute("SELECT cluster_id, name FROM clusters ORDER BY name").fetchall():
        newest = newest_sample(con, store, name)
        if newest is not None and (clusters is None or name in clusters):
            since = min(newest, int(now))
            hourly = None if hourly_days_to_keep is None else (since - hourly_days_to_keep * 86400) // rollups.HOUR
            cutoffs.append((int(cid), str(name), sql_ts(con, since - days_to_keep * 86400), hourly))
    root = blocks.blocks_dir(store)
    if dry_run:
        return {
            name: Removed(
                _count_older(con, store, cid, cutoff), 0 if hour is None else rollups.count_older(con, cid, hour)
            )
            for cid, name, cutoff, hour in cutoffs
        }, []
    removed: dict[str, Removed] = {}
    old_files: list[Path] = []
    with transaction(con):
        for cid, name, cutoff, hour in cutoffs:
            samples, files = _cleanup_cluster(con, store, cid, cutoff)
            rows, hourly_files = (0, []) if hour is None else rollups.drop_older(con, root, cid, hour)
            removed[name] = Removed(samples, rows)
            old_files += files + hourly_files
        details = {"days_to_keep": days_to_keep, "hourly_days_to_keep": hourly_days_to_keep,
                   "removed": {k: v.samples for k, v in removed.items()},
                   "removed_hourly_rows": {k: v.hourly_rows for k, v in removed.items()}}  # fmt: skip
        add_audit(con, audit, None, "ok", details)
    con.execute("CHECKPOINT")
    return removed, old_files


def _count_older(con: duckdb.DuckDBPyConnection, store: Path, cid: int, cutoff: str) -> int:
    files = blocks.block_files(con, store, cid, None, cutoff)
    in_cluster = f"series_id IN (SELECT series_id FROM series WHERE cluster_id = {int(cid)})"
    row = one(con, f"SELECT count(*) FROM ({blocks.samples_sql(files)}) WHERE {in_cluster} AND ts < ?::TIMESTAMP",
              [cutoff])  # fmt: skip
    return int(row[0]) if row else 0


def _cleanup_cluster(con: duckdb.DuckDBPyConnection, store: Path, cid: int, cutoff: str) -> tuple[int, list[Path]]:
    in_cluster = f"series_id IN (SELECT series_id FROM series WHERE cluster_id = {int(cid)})"
    row = one(con, f"SELECT count(*) FROM samples WHERE {in_cluster} AND ts < ?::TIMESTAMP", [cutoff])
    count = int(row[0]) if row else 0
    if count:  # head samples leave the store here without becoming a block: their hours are kept as rollups
        rollups.write_rollups(
            con,
            blocks.blocks_dir(store),
            cid,
            f"SELECT * FROM samples WHERE {in_cluster} AND ts < {sql_literal(cutoff)}::TIMESTAMP",
        )
    con.execute(f"DELETE FROM samples WHERE {in_cluster} AND ts < ?::TIMESTAMP", [cutoff])
    old = con.execute(
        "SELECT block_id, file, max_ts < ?::TIMESTAMP, samples FROM blocks "
        "WHERE cluster_id = ? AND min_ts < ?::TIMESTAMP",
        [cutoff, cid, cutoff],
    ).fetchall()
    files = []
    root = blocks.blocks_dir(store)
    for block_id, file, whole, rows in old:
        path = root / file
        if whole:
            count += int(rows)
        else:  # keep the block's recent part as a new block
            kept = blocks.write_block(
                con,
                store,
                cid,
                f"SELECT * FROM read_parquet({sql_literal(path)}) WHERE ts >= {sql_literal(cutoff)}::TIMESTAMP",
                rolled_up=True,  # cleanup rolls every block up before it drops anything
            )
            count += int(rows) - kept
        con.execute("DELETE FROM blocks WHERE block_id = ?", [block_id])
        files.append(path)
    return count, files
