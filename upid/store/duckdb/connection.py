"""Opening the DuckDB file: bounded waiting on DuckDB's whole-file lock, and driver errors made upid's own.

DuckDB allows one writer or many readers per file across processes, and fails at once instead of
waiting; every connection here is short-lived, so a caller retries with backoff up to its timeout.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from upid.errors import NoDataError, StoreCorruptError, StoreError, StoreLockedError, StoreVersionError

_LOCK_MARKERS = (
    "could not set lock",
    "conflicting lock",
    "different configuration than existing connections",  # this process holds it the other way (upid serve)
)
_CORRUPT_MARKERS = (
    "not a valid duckdb database",
    "corrupt",
    "checksum",
    "invalid database",
    "not a database",
    "could not read enough bytes",  # a truncated database file
)
# a damaged Parquet block (the store reads no other Parquet): truncated, undecodable pages or footer
_BLOCK_MARKERS = ("no magic bytes", "zstd", "decompress", "snappy", "thrift", "tprotocolexception", "parquet file")
_VERSION_MARKERS = ("newer version", "older version", "storage version", "incompatible")


def classify(error: Exception, path: Path) -> StoreError:
    """Turn a DuckDB exception into the matching StoreError."""
    text = str(error)
    low = text.lower()
    if "no files found that match" in low and ".blocks" in low:
        return StoreCorruptError(
            f"store {path} is missing a sample block file: {_first(text)}",
            hint=f"a store is the file plus its {path.name}.blocks folder; copy both",
        )
    if any(m in low for m in _BLOCK_MARKERS):
        return StoreCorruptError(
            f"store {path} has a damaged sample block: {_first(text)}",
            hint="run 'upid storage verify' to list every damaged block",
        )
    if any(m in low for m in _LOCK_MARKERS):
        return StoreLockedError(f"store {path} is locked by another process", hint="try again in a moment")
    if any(m in low for m in _VERSION_MARKERS):
        return StoreVersionError(f"store {path} was written by an incompatible DuckDB/upid version: {_first(text)}")
    if any(m in low for m in _CORRUPT_MARKERS):
        return StoreCorruptError(
            f"store {path} is not a readable upid store: {_first(text)}",
            hint="the file was left untouched; move it aside to start a new store",
        )
    return StoreError(f"store {path}: {_first(text)}")


def corruption(error: Exception, path: Path) -> StoreCorruptError | None:
    """The StoreCorruptError a DuckDB error means, or None when it means something else."""
    found = classify(error, path)
    return found if isinstance(found, StoreCorruptError) else None


def _first(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


BLOCK_SIZE = 16384  # DuckDB's default 256 KiB blocks cost ~5 MB for upid's small tables; samples live in Parquet


def sql_literal(value: object) -> str:
    """A string (a path, a name) as a SQL literal, for the few places DuckDB takes no parameter."""
    return "'" + str(value).replace("'", "''") + "'"


def epoch_sql(epoch: int) -> str:
    """SQL for a UNIX time as a TIMESTAMP, for the few places a parameter cannot go."""
    return f"make_timestamp({int(epoch)}::BIGINT * 1000000)"


def sql_ts(con: duckdb.DuckDBPyConnection, epoch: int) -> str:
    """A UNIX time as a SQL timestamp literal's text (UTC)."""
    row = one(con, "SELECT make_timestamp(CAST(? AS BIGINT) * 1000000)::VARCHAR", [int(epoch)])
    assert row is not None
    return str(row[0])


def _create(path: Path) -> None:
    """Create an empty store file with small blocks (later opens read the block size from the file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {sql_literal(path)} AS store (BLOCK_SIZE {BLOCK_SIZE})")
        con.execute("DETACH store")
    except duckdb.Error as e:
        if not path.exists():
            raise classify(e, path) from e
    finally:
        con.close()


def _open_once(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as e:
        raise classify(e, path) from e


def _first_steps(path: Path) -> str:
    """What to do when there is no store yet; `upid demo` keeps its own store in UPID_HOME/demo/."""
    demo = path.parent / "demo" / path.name
    if demo.exists():
        return f"the demo's store is {demo}: add --store {demo}; for your own data: upid storage collect or import"
    return "collect or import data first: upid storage collect, or upid storage import FILE"


def connect(path: Path, *, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    """Open the store, waiting up to `timeout` seconds for another process's lock to go."""
    if read_only and not path.exists():
        raise NoDataError(f"no store at {path}", hint=_first_steps(path))
    if not read_only and not path.exists():
        _create(path)
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            con = _open_once(path, read_only)
            break
        except StoreLockedError:
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 1.6, 0.25)
    con.execute("SET TimeZone = 'UTC'")
    return con


@contextmanager
def wrapped(path: Path) -> Iterator[None]:
    """Inside, any DuckDB error surfaces as a StoreError."""
    try:
        yield
    except duckdb.Error as e:
        raise classify(e, path) from e


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> tuple[Any, ...]:
    """The first row of a query, with the result consumed (DuckDB 2 refuses new work on a half-read result)."""
    rows = con.execute(sql, params or []).fetchall()
    return tuple(rows[0]) if rows else ()
