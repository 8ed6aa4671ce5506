"""Writing one SampleBatch: series upsert, idempotent sample insert, request/limit change points, audit.

Everything happens in one transaction. Samples already stored (same series and timestamp) are skipped,
so importing or collecting the same data twice stores it once, and a commit that landed without being
acknowledged (kill -9) is harmless to repeat.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from upid.samples import SOURCES, SampleBatch
from upid.store.base import AuditRecord, WriteResult
from upid.store.duckdb import blocks
from upid.store.duckdb.connection import one

if TYPE_CHECKING:
    pass  # annotations only; numpy is imported where it is used

_KEY_MATCH = (
    "s.namespace = b.namespace AND s.workload_kind = b.workload_kind AND s.workload = b.workload "
    "AND s.pod = b.pod AND s.container = b.container"
)
_TS = "make_timestamp(CAST(ts AS BIGINT) * 1000000)"


def ensure_cluster(con: duckdb.DuckDBPyConnection, name: str) -> int:
    row = one(con, "SELECT cluster_id FROM clusters WHERE name = ?", [name])
    if row:
        return int(row[0])
    con.execute(
        "INSERT INTO clusters SELECT coalesce(max(cluster_id), 0) + 1, ?, now()::TIMESTAMP FROM clusters",
        [name],
    )
    row = one(con, "SELECT cluster_id FROM clusters WHERE name = ?", [name])
    assert row is not None
    return int(row[0])


def _map_series(con: duckdb.DuckDBPyConnection, batch: SampleBatch, cluster_id: int) -> int:
    """Create the batch's unknown series and build temp table b_map(idx, series_id); returns how many were new."""
    import numpy as np

    series = dict(batch.series)
    series["idx"] = np.arange(batch.series_count, dtype=np.int32)
    con.register("b_series", series)
    before = one(con, "SELECT count(*) FROM series")
    con.execute(
        f"""INSERT INTO series
        SELECT (SELECT coalesce(max(series_id), 0) FROM series) + row_number() OVER (ORDER BY idx),
               ?, namespace, workload_kind, workload, pod, container, nullif(node, '')
        FROM b_series b
        WHERE NOT EXISTS (SELECT 1 FROM series s WHERE s.cluster_id = ? AND {_KEY_MATCH})""",
        [cluster_id, cluster_id],
    )
    after = one(con, "SELECT count(*) FROM series")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE b_map AS
        SELECT b.idx, s.series_id, nullif(b.node, '') AS node FROM b_series b
        JOIN series s ON s.cluster_id = ? AND {_KEY_MATCH}""",
        [cluster_id],
    )
    con.execute(
        """UPDATE series SET node = m.node FROM b_map m
        WHERE series.series_id = m.series_id AND m.node IS NOT NULL AND series.node IS DISTINCT FROM m.node"""
    )
    con.unregister("b_series")
    return int(after[0]) - int(before[0]) if after and before else 0


def _stage_samples(
    con: duckdb.DuckDBPyConnection, batch: SampleBatch, cluster_id: int, store: Path, fresh: bool = False
) -> int:
    """Build temp table b_new of samples not stored yet; returns its row count. `fresh`: every series of the
    batch was created by this write, so none has a stored sample to skip (no scan of the blocks)."""
    import numpy as np

    con.register(
        "b_samples",
        {
            "series_idx": batch.series_idx,
            "ts": batch.ts,
            "cpu_m": batch.cpu_m,
            "mem_kib": batch.mem_kib,
            "net_rx": batch.net_rx,
            "net_tx": batch.net_tx,
            "source": batch.source_codes
            if batch.source_codes is not None
            else np.full(len(batch), SOURCES[batch.source], dtype=np.uint8),
        },
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE b_staged AS
        SELECT m.series_id, {_TS} AS ts,
               CAST(cpu_m AS INTEGER) AS cpu_m, CAST(mem_kib AS BIGINT) AS mem_kib,
               CAST(round(CASE WHEN isnan(net_rx) THEN NULL ELSE net_rx END) AS BIGINT) AS net_rx,
               CAST(round(CASE WHEN isnan(net_tx) THEN NULL ELSE net_tx END) AS BIGINT) AS net_tx,
               CAST(source AS UTINYINT) AS source
        FROM b_samples JOIN b_map m ON m.idx = b_samples.series_idx"""
    )
    con.unregister("b_samples")
    lo, hi = one(con, "SELECT min(ts)::VARCHAR, max(ts)::VARCHAR FROM b_staged") or (None, None)
    if lo is None or fresh:
        con.execute("CREATE OR REPLACE TEMP TABLE b_new AS FROM b_staged")
        row = one(con, "SELECT count(*) FROM b_new")
        return int(row[0]) if row else 0
    existing = blocks.samples_sql(blocks.block_files(con, store, cluster_id, lo, hi))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE b_new AS
        SELECT n.* FROM b_staged n ANTI JOIN (
            SELECT e.series_id, e.ts FROM ({existing}) e
            WHERE e.ts BETWEEN ?::TIMESTAMP AND ?::TIMESTAMP
              AND e.series_id IN (SELECT series_id FROM b_map)) old USING (series_id, ts)""",
        [lo, hi],
    )
    row = one(con, "SELECT count(*) FROM b_new")
    return int(row[0]) if row else 0


def _store_resources(con: duckdb.DuckDBPyConnection, batch: SampleBatch) -> None:
    """Insert request/limit change points that differ from the value in force at their time."""
    if not batch.resources or not len(batch.resources.get("ts", ())):
        return
    con.register("b_res_raw", batch.resources)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE b_res AS
        SELECT m.series_id, {_TS} AS ts,
               CAST(nullif(cpu_request_m, -1) AS INTEGER) AS cpu_request_m,
               CAST(nullif(cpu_limit_m, -1) AS INTEGER) AS cpu_limit_m,
               CAST(nullif(memory_request, -1) AS BIGINT) AS memory_request,
               CAST(nullif(memory_limit, -1) AS BIGINT) AS memory_limit
        FROM b_res_raw r JOIN b_map m ON m.idx = r.series_idx"""
    )
    con.unregister("b_res_raw")
    con.execute(
        """INSERT INTO resources
        SELECT n.* FROM b_res n ASOF LEFT JOIN resources p ON n.series_id = p.series_id AND n.ts >= p.ts
        WHERE p.series_id IS NULL
           OR n.cpu_request_m IS DISTINCT FROM p.cpu_request_m OR n.cpu_limit_m IS DISTINCT FROM p.cpu_limit_m
           OR n.memory_request IS DISTINCT FROM p.memory_request OR n.memory_limit IS DISTINCT FROM p.memory_limit"""
    )


def _store_oom_kills(con: duckdb.DuckDBPyConnection, batch: SampleBatch) -> None:
    """OOMKilled terminations as container_status rows, as a collect records them; each kill is stored once."""
    if not batch.oom_kills or not len(batch.oom_kills.get("ts", ())):
        return
    con.register("b_oom", batch.oom_kills)
    con.execute("""INSERT INTO container_status
        SELECT DISTINCT k.series_id, k.ts, NULL, NULL, NULL, 'OOMKilled', k.at
        FROM (SELECT m.series_id, make_timestamp(o.ts * 1000000) AS ts,
                     strftime(make_timestamp(o.ts * 1000000), '%Y-%m-%dT%H:%M:%SZ') AS at
              FROM b_oom o JOIN b_map m ON m.idx = o.series_idx) k
        WHERE NOT EXISTS (SELECT 1 FROM container_status c WHERE c.series_id = k.series_id
                          AND c.last_termination_reason = 'OOMKilled' AND c.last_termination_at = k.at)""")
    con.unregister("b_oom")


def add_audit(
    con: duckdb.DuckDBPyConnection,
    audit: AuditRecord,
    cluster: str | None,
    result: str,
    details: dict[str, Any],
) -> None:
    con.execute(
        "INSERT INTO audit_log SELECT coalesce(max(id), 0) + 1, now()::TIMESTAMP, ?, ?, ?, ?, ?, ? FROM audit_log",
        [audit.command, audit.args, cluster, audit.user, result, json.dumps(details, sort_keys=True)],
    )


def write_samples(
    con: duckdb.DuckDBPyConnection, store: Path, batch: SampleBatch, cluster_id: int, thresholds: blocks.Thresholds
) -> tuple[int, int]:
    """Inside the caller's transaction: series, samples, resources and the run record; leaves temp table
    b_map (batch series index -> series_id) for the caller. Returns (samples written, series created)."""
    created = _map_series(con, batch, cluster_id)
    new = _stage_samples(con, batch, cluster_id, store, fresh=created == batch.series_count)
    if new >= thresholds.block_min_samples:
        blocks.write_block(con, store, cluster_id, "SELECT * FROM b_new")
    elif new:
        con.execute(f"INSERT INTO samples SELECT {blocks.SAMPLE_COLUMNS} FROM b_new ORDER BY series_id, ts")
        blocks.compact_head(con, store, cluster_id, thresholds.head_compact_samples)
    _store_resources(con, batch)
    _store_oom_kills(con, batch)
    con.execute(
        "INSERT INTO runs SELECT coalesce(max(run_id), 0) + 1, ?, ?, now()::TIMESTAMP, ?, ? FROM runs",
        [cluster_id, batch.source, len(batch), new],
    )
    return new, created


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN ... COMMIT, or ROLLBACK on any exception; the writers' temp tables are dropped either way."""
    con.execute("BEGIN")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for name in ("b_map", "b_staged", "b_new", "b_res"):
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")


def audited(details: dict[str, Any], spooled: bool) -> dict[str, Any]:
    return {**details, "spooled": True} if spooled else details


def write_batches(
    con: duckdb.DuckDBPyConnection,
    store: Path,
    batches: Iterable[SampleBatch],
    audit: AuditRecord,
    thresholds: blocks.Thresholds,
    spooled: bool = False,
) -> list[WriteResult]:
    """Every batch (one per cluster of a file) in one transaction: all of them are stored, or none."""
    results = []
    with transaction(con):
        for batch in batches:
            cluster_id = ensure_cluster(con, batch.cluster)
            new, created = write_samples(con, store, batch, cluster_id, thresholds)
            details = {"source": batch.source, "received": len(batch), "written": new, "series_created": created}
            add_audit(con, audit, batch.cluster, "ok", audited(details, spooled))
            results.append(WriteResult(cluster=batch.cluster, received=len(batch), written=new, series_created=created))
    return results
