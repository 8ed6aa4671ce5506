"""Sample blocks: immutable zstd Parquet files of samples sorted by (series, time), registered in the store.

A block becomes visible only when its registry row commits, in the same transaction that removes the
same samples from the head, so a crash leaves at worst an unregistered file, swept on the next write.
Measured on 4.3 M real samples: ~2.5 bytes/sample (CPU + memory) against ~5.5 in a DuckDB table.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from upid.store.duckdb import integrity, rollups
from upid.store.duckdb.connection import one, sql_literal


@dataclass(frozen=True)
class Thresholds:
    block_min_samples: int = 200_000  # a write at least this large goes straight to a block
    head_compact_samples: int = 1_000_000  # the head of a cluster is compacted once it holds this many


_COPY_OPTIONS = "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000"
SAMPLE_COLUMNS = "series_id, ts, cpu_m, mem_kib, net_rx, net_tx, source"


def blocks_dir(store: Path) -> Path:
    return store.parent / (store.name + ".blocks")


def block_files(
    con: duckdb.DuckDBPyConnection,
    store: Path,
    cluster_id: int | None = None,
    lo: str | None = None,
    hi: str | None = None,
) -> list[Path]:
    """Registered block files, optionally of one cluster and overlapping [lo, hi] (timestamps as SQL text), each
    checked cheaply against what was recorded when it was written (size and footer): StoreCorruptError if not."""
    sql = "SELECT file, bytes, footer_sha256 FROM blocks WHERE 1=1"
    params: list[object] = []
    if cluster_id is not None:
        sql += " AND cluster_id = ?"
        params.append(cluster_id)
    if lo is not None:
        sql += " AND max_ts >= ?::TIMESTAMP"
        params.append(lo)
    if hi is not None:
        sql += " AND min_ts <= ?::TIMESTAMP"
        params.append(hi)
    root = blocks_dir(store)
    files = []
    for name, size, footer in con.execute(sql + " ORDER BY block_id", params).fetchall():
        path = root / name
        if size is not None:
            integrity.check_cheaply(store, path, int(size), footer)
        files.append(path)
    return files


def samples_sql(files: list[Path]) -> str:
    """A relation of every sample: the head plus the given blocks."""
    head = f"SELECT {SAMPLE_COLUMNS} FROM samples"
    if not files:
        return head
    listing = ", ".join(sql_literal(f) for f in files)
    return f"{head} UNION ALL SELECT {SAMPLE_COLUMNS} FROM read_parquet([{listing}])"


def write_block(
    con: duckdb.DuckDBPyConnection, store: Path, cluster_id: int, relation: str, rolled_up: bool = False
) -> int:
    """Write `relation` (SQL yielding SAMPLE_COLUMNS) as a new block and register it; returns its rows.
    `rolled_up`: its samples are in the hourly rollups already (cleanup keeping a block's recent part); else the
    block waits for them (rollups.py: `storage compact`, cleanup, and reads until then).

    Must run inside the caller's transaction, which the caller commits.
    """
    stats = one(con, f"SELECT count(*), min(ts), max(ts) FROM ({relation})")
    assert stats is not None
    rows, min_ts, max_ts = stats
    if not rows:
        return 0
    row = one(con, "SELECT coalesce(max(block_id), 0) + 1 FROM blocks")
    assert row is not None
    block_id = int(row[0])
    name = f"c{cluster_id}/b{block_id:08d}-{uuid.uuid4().hex[:8]}.parquet"
    target = blocks_dir(store) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY (SELECT {SAMPLE_COLUMNS} FROM ({relation}) ORDER BY series_id, ts) "
        f"TO {sql_literal(target)} ({_COPY_OPTIONS})"
    )
    con.execute(
        "INSERT INTO blocks (block_id, cluster_id, file, min_ts, max_ts, samples, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
        [block_id, cluster_id, name, min_ts, max_ts, rows],
    )
    integrity.record(con, block_id, target)
    if rolled_up:
        rollups.mark_rolled_up(con, block_id)
    return int(rows)


def compact_head(con: duckdb.DuckDBPyConnection, store: Path, cluster_id: int, threshold: int) -> int:
    """Move the cluster's head samples into a block once there are enough of them."""
    in_cluster = "series_id IN (SELECT series_id FROM series WHERE cluster_id = " + str(int(cluster_id)) + ")"
    row = one(con, f"SELECT count(*) FROM samples WHERE {in_cluster}")
    if not row or row[0] < threshold:
        return 0
    moved = write_block(con, store, cluster_id, f"SELECT * FROM samples WHERE {in_cluster}")
    con.execute(f"DELETE FROM samples WHERE {in_cluster}")
    return moved


def sweep_orphans(con: duckdb.DuckDBPyConnection, store: Path) -> int:
    """Delete block files no registry row names (left by a crash between writing and committing)."""
    root = blocks_dir(store)
    if not root.exists():
        return 0
    registered = con.execute("SELECT file FROM blocks UNION ALL SELECT file FROM rollup_blocks").fetchall()
    known = {row[0] for row in registered}
    removed = 0
    for path in root.glob("c*/*.parquet"):
        if str(path.relative_to(root)) not in known:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def total_bytes(store: Path) -> int:
    root = blocks_dir(store)
    return sum(p.stat().st_size for p in root.glob("c*/*.parquet")) if root.exists() else 0
