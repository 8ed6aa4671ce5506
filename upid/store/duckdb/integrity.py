"""Block integrity: what each Parquet block was when it was written (size, a digest of its footer, the SHA-256 of
the whole file; its rows, cluster and time range are in the registry row), checked cheaply on every read (size
and footer) and fully by `upid storage verify`. A block changed on disk, or swapped for another one, is
StoreCorruptError (exit 6) naming the file, never a different answer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from upid.errors import StoreCorruptError
from upid.store.duckdb.connection import one, sql_literal

FOOTER_BYTES = 65536  # the tail hashed on every read: the Parquet footer (schema, row groups, statistics)


def _digest(path: Path, tail_only: bool) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        if tail_only:
            size = f.seek(0, 2)
            f.seek(max(0, size - FOOTER_BYTES))
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _corrupt(store: Path, path: Path, what: str) -> StoreCorruptError:
    return StoreCorruptError(
        f"store {store}: block {path} {what}",
        hint="run 'upid storage verify'; restore the block from a backup of the store, or move the store aside",
    )


def missing(store: Path, path: Path) -> StoreCorruptError:
    return StoreCorruptError(
        f"store {store} is missing a sample block file: {path}",
        hint=f"a store is the file plus its {store.name}.blocks folder; copy both",
    )


def check_cheaply(store: Path, path: Path, size: int, footer: str | None) -> None:
    try:
        actual = path.stat().st_size
    except FileNotFoundError:
        raise missing(store, path) from None
    if actual != size:
        raise _corrupt(store, path, f"has {actual} bytes, {size} when it was written")
    if footer and _digest(path, tail_only=True) != footer:
        raise _corrupt(store, path, "has another footer than when it was written (another block, or damaged)")


TABLES = ("blocks", "rollup_blocks")  # sample blocks, hourly rollup blocks


def record(con: duckdb.DuckDBPyConnection, block_id: int, path: Path, table: str = "blocks") -> None:
    """Record a block's size, footer digest and SHA-256, in the transaction that registers it."""
    assert table in TABLES
    con.execute(
        f"UPDATE {table} SET bytes = ?, footer_sha256 = ?, sha256 = ? WHERE block_id = ?",
        [path.stat().st_size, _digest(path, tail_only=True), _digest(path, tail_only=False), block_id],
    )


def record_missing(con: duckdb.DuckDBPyConnection, root: Path) -> int:
    """Blocks written before upid recorded checksums get them now, from their files (in `root`) as they are."""
    count = 0
    for table in TABLES:
        missing = con.execute(f"SELECT block_id, file FROM {table} WHERE sha256 IS NULL").fetchall()
        for block_id, name in missing:
            if (root / name).exists():
                record(con, int(block_id), root / name, table)
        count += len(missing)
    return count


# per table: the registry's count and time range columns, and the file's time column
_SHAPES = {"blocks": ("samples", "min_ts", "max_ts", "ts"), "rollup_blocks": ("rows", "min_hour", "max_hour", "hour")}


def verify(con: duckdb.DuckDBPyConnection, store: Path, root: Path) -> list[str]:
    """Every block (sample and rollup blocks) read whole: its SHA-256, and its rows, cluster and time range against
    the registry. Returns one problem per bad block (empty when all are sound)."""
    problems = []
    for table, (count, lo, hi, _) in _SHAPES.items():
        rows = con.execute(
            f"SELECT cluster_id, file, {count}, {lo}, {hi}, bytes, sha256 FROM {table} ORDER BY block_id"
        ).fetchall()
        for cluster_id, name, n, first, last, size, sha in rows:
            path = root / name
            try:
                _check_whole(con, store, path, int(cluster_id), (n, first, last), size, sha, table)
            except StoreCorruptError as e:
                problems.append(e.message)
            except duckdb.Error as e:
                problems.append(f"store {store}: block {path} cannot be read: {str(e).strip().splitlines()[0]}")
    return problems


def _check_whole(
    con: duckdb.DuckDBPyConnection,
    store: Path,
    path: Path,
    cluster_id: int,
    written: tuple[object, object, object],
    size: int | None,
    sha: str | None,
    table: str = "blocks",
) -> None:
    if not path.exists():
        raise missing(store, path)
    if size is not None:
        check_cheaply(store, path, int(size), None)
    if sha and _digest(path, tail_only=False) != sha:
        raise _corrupt(store, path, "has another SHA-256 than when it was written")
    time = _SHAPES[table][3]
    got = one(
        con,
        f"""SELECT count(*), min({time}), max({time}), count(*) FILTER (WHERE series_id NOT IN
            (SELECT series_id FROM series WHERE cluster_id = {int(cluster_id)}))
        FROM read_parquet({sql_literal(path)})""",
    )
    if got[:3] != written or got[3]:
        n, lo, hi = written
        what = "samples" if table == "blocks" else "hourly rows"
        raise _corrupt(
            store,
            path,
            f"holds {got[0]} {what} from {got[1]} to {got[2]} ({got[3]} of another cluster); "
            f"{n} from {lo} to {hi} were written",
        )
