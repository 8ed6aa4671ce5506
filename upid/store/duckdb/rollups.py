"""Hourly rollups in the DuckDB backend (#20): per series and hour, the count, sum and max of CPU, memory and
network, and the +5 % histograms of CPU and memory (upid.analysis.rollup.Buckets), so that any quantile over any
run of hours is a merge of rows, and a window longer than the raw retention can still be analysed.

Each sample block is rolled up once, into a zstd Parquet "rollup block" registered in `rollup_blocks`, in the
transaction that marks the block `rolled_up`: by `upid storage compact`, and by `storage cleanup` before anything
leaves the raw tier (not by the write itself: an import stays at full speed). An hour whose samples came in two
blocks has two rows; readers merge rows per (series, hour) by sum and max. A read at hourly resolution rolls up on
the fly what has no rollups yet: the head and the blocks still waiting. Cleanup keeps rollups for
`hourly_days_to_keep` and drops whole rollup blocks.

A histogram row is a list of cells, each `bucket * 65536 + count` (a series has at most 3,600 samples an hour).
"""

from __future__ import annotations

import math
import uuid
from pathlib import Path

import duckdb

from upid.store.duckdb import integrity
from upid.store.duckdb.connection import one, sql_literal

HOUR = 3600
CELL = 65536  # bucket * CELL + count
_COPY_OPTIONS = "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000"

# the bucket grids of upid.analysis.rollup (kept in step by tests/test_rollups.py; not imported, to keep numpy
# out of the write path's imports): first bucket width, ratio, bucket count
CPU_GRID = (0.001, 1.05, 270)  # cores
MEMORY_GRID = (float(2**20), 1.05, 269)  # bytes


def _bucket(value: str, grid: tuple[float, float, int]) -> str:
    """SQL for the bucket of `value` (a column name), as Buckets.index computes it: the logarithm, corrected at a
    bucket's edge, clipped to the grid."""
    first, ratio, count = grid
    step = ratio - 1

    def start(i: str) -> str:
        return f"({first!r} * (pow({ratio!r}, {i}) - 1) / {step!r})"

    guess = f"floor(ln(1 + greatest({value}, 0) * {step!r} / {first!r}) / {math.log(ratio)!r})"
    return (
        f"least(greatest({guess} + CASE WHEN {value} >= {start(guess + ' + 1')} THEN 1 "
        f"WHEN {value} < {start(guess)} THEN -1 ELSE 0 END, 0), {count - 1})::INTEGER"
    )


def rollup_sql(relation: str) -> str:
    """The hourly rows of `relation` (SQL yielding the sample columns), one per (series, hour)."""
    return f"""
        WITH x AS (
            SELECT series_id, (epoch(ts)::BIGINT // {HOUR})::INTEGER AS hour, cpu_m, mem_kib,
                   CASE WHEN net_rx IS NULL AND net_tx IS NULL THEN NULL
                        ELSE coalesce(net_rx, 0) + coalesce(net_tx, 0) END AS net,
                   cpu_m / 1000.0 AS cores, mem_kib * 1024.0 AS bytes
            FROM ({relation})),
        y AS (SELECT *, {_bucket("cores", CPU_GRID)} AS cb, {_bucket("bytes", MEMORY_GRID)} AS mb FROM x),
        a AS (
            SELECT series_id, hour, count(*)::USMALLINT AS n,
                   sum(cpu_m)::DOUBLE AS cpu_sum, max(cpu_m)::INTEGER AS cpu_max,
                   sum(mem_kib)::DOUBLE AS mem_sum, max(mem_kib)::BIGINT AS mem_max,
                   count(net)::USMALLINT AS net_n, sum(net)::DOUBLE AS net_sum, max(net)::FLOAT AS net_max
            FROM y GROUP BY ALL),
        c AS (
            SELECT series_id, hour, list_sort(list((cb * {CELL} + k)::UINTEGER)) AS cpu_cells
            FROM (SELECT series_id, hour, cb, count(*) AS k FROM y GROUP BY ALL) GROUP BY ALL),
        m AS (
            SELECT series_id, hour, list_sort(list((mb * {CELL} + k)::UINTEGER)) AS mem_cells
            FROM (SELECT series_id, hour, mb, count(*) AS k FROM y GROUP BY ALL) GROUP BY ALL)
        SELECT a.*, c.cpu_cells, m.mem_cells
        FROM a JOIN c USING (series_id, hour) JOIN m USING (series_id, hour)"""


def write_rollups(con: duckdb.DuckDBPyConnection, root: Path, cluster_id: int, relation: str) -> int:
    """Roll up `relation` (the samples a new block adds) into a new rollup block and register it, inside the
    caller's transaction; returns its rows."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE r_new AS {rollup_sql(relation)}")
    stats = one(con, "SELECT count(*), min(hour), max(hour), coalesce(sum(n), 0) FROM r_new")
    assert stats is not None
    rows, lo, hi, samples = stats
    if rows:
        row = one(con, "SELECT coalesce(max(block_id), 0) + 1 FROM rollup_blocks")
        assert row is not None
        block_id = int(row[0])
        name = f"c{cluster_id}/h{block_id:08d}-{uuid.uuid4().hex[:8]}.parquet"
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY (FROM r_new ORDER BY series_id, hour) TO {sql_literal(target)} ({_COPY_OPTIONS})")
        con.execute(
            "INSERT INTO rollup_blocks (block_id, cluster_id, file, min_hour, max_hour, rows, samples, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
            [block_id, cluster_id, name, lo, hi, rows, samples],
        )
        integrity.record(con, block_id, target, table="rollup_blocks")
    con.execute("DROP TABLE temp.r_new")
    return int(rows)


def rollup_files(
    con: duckdb.DuckDBPyConnection, store: Path, root: Path, cluster_id: int, lo: int, hi: int
) -> list[Path]:
    """The cluster's rollup blocks overlapping hours [lo, hi], each checked cheaply (size and footer)."""
    rows = con.execute(
        "SELECT file, bytes, footer_sha256 FROM rollup_blocks WHERE cluster_id = ? AND max_hour >= ? "
        "AND min_hour <= ? ORDER BY block_id",
        [cluster_id, lo, hi],
    ).fetchall()
    files = []
    for name, size, footer in rows:
        path = root / name
        if size is not None:
            integrity.check_cheaply(store, path, int(size), footer)
        files.append(path)
    return files


def hourly_sql(files: list[Path], pending: list[Path], cluster_id: int) -> str:
    """Every rollup row of the cluster: its rollup blocks (`files`), and rolled up now its head and the sample
    blocks still waiting for their rollups (`pending`)."""
    in_cluster = f"series_id IN (SELECT series_id FROM series WHERE cluster_id = {int(cluster_id)})"
    waiting = f"SELECT * FROM samples WHERE {in_cluster}"
    if pending:
        waiting += f" UNION ALL SELECT * FROM read_parquet([{', '.join(sql_literal(f) for f in pending)}])"
    now = rollup_sql(waiting)
    if not files:
        return now
    listing = ", ".join(sql_literal(f) for f in files)
    return f"({now}) UNION ALL (SELECT * FROM read_parquet([{listing}]))"


def pending_files(con: duckdb.DuckDBPyConnection, store: Path, cluster_id: int, lo: str, hi: str) -> list[Path]:
    """The cluster's sample blocks overlapping [lo, hi] (SQL timestamps) that have no rollups yet, checked."""
    from upid.store.duckdb import blocks

    rows = con.execute("SELECT file FROM blocks WHERE NOT rolled_up AND cluster_id = ?", [cluster_id]).fetchall()
    waiting = {blocks.blocks_dir(store) / r[0] for r in rows}
    return [f for f in blocks.block_files(con, store, cluster_id, lo, hi) if f in waiting]


def drop_older(con: duckdb.DuckDBPyConnection, root: Path, cluster_id: int, cutoff_hour: int) -> tuple[int, list[Path]]:
    """Unregister the cluster's rollup blocks wholly before `cutoff_hour`; returns their rows and files (to delete
    once the transaction commits). A block that straddles the cutoff is kept whole: readers filter by hour."""
    old = con.execute(
        "SELECT block_id, file, rows FROM rollup_blocks WHERE cluster_id = ? AND max_hour < ?",
        [cluster_id, cutoff_hour],
    ).fetchall()
    for block_id, _, _ in old:
        con.execute("DELETE FROM rollup_blocks WHERE block_id = ?", [block_id])
    return sum(int(r[2]) for r in old), [root / r[1] for r in old]


def count_older(con: duckdb.DuckDBPyConnection, cluster_id: int, cutoff_hour: int) -> int:
    row = one(
        con,
        "SELECT coalesce(sum(rows), 0) FROM rollup_blocks WHERE cluster_id = ? AND max_hour < ?",
        [cluster_id, cutoff_hour],
    )
    return int(row[0]) if row else 0


def mark_rolled_up(con: duckdb.DuckDBPyConnection, block_id: int) -> None:
    con.execute("UPDATE blocks SET rolled_up = true WHERE block_id = ?", [block_id])


def backfill(con: duckdb.DuckDBPyConnection, root: Path) -> int:
    """Roll up every sample block written before rollups existed (migration 6), one transaction per block, so a
    crash leaves no block counted twice; returns the rollup rows written."""
    written = 0
    pending = con.execute("SELECT block_id, cluster_id, file FROM blocks WHERE NOT rolled_up ORDER BY block_id")
    for block_id, cluster_id, file in pending.fetchall():
        path = root / file
        if not path.exists():
            continue
        con.execute("BEGIN")
        try:
            written += write_rollups(con, root, int(cluster_id), f"SELECT * FROM read_parquet({sql_literal(path)})")
            mark_rolled_up(con, int(block_id))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return written
