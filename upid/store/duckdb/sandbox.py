"""`storage query`: a user's SQL, run where only the store's own data can be reached.

A prefix allowlist cannot be made safe (`EXPLAIN ANALYZE` runs what it wraps; table functions read any file),
so the connection is locked down in DuckDB itself before the query runs: the store is open read-only, the
only files it may touch are the store's registered sample and rollup block files (`allowed_paths`), external
access is off (no other file, no network, no ATTACH, no extension install or load), the configuration is locked so the
query cannot undo any of it, memory is capped and a timer interrupts a query that runs too long. On top of
that, only one SELECT (or a plain EXPLAIN) is accepted: `allowed_paths` would let a COPY write a block file.
The connection is closed after the query; its locked settings never serve anything else.
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb

from upid.errors import UsageError
from upid.store.base import QueryResult
from upid.store.duckdb import blocks
from upid.store.duckdb.connection import corruption, sql_literal

ALLOWED_STATEMENTS = {"SELECT", "EXPLAIN"}
QUERY_MEMORY_LIMIT = "1GB"


def _words(sql: str) -> list[str]:
    """The statement's tokens without comments, upper-cased: what DuckDB's own tokenizer sees."""
    tokens = [(pos, kind) for pos, kind in duckdb.tokenize(sql)]
    ends = [pos for pos, _ in tokens[1:]] + [len(sql)]
    return [
        sql[pos:end].strip().upper()
        for (pos, kind), end in zip(tokens, ends, strict=True)
        if kind != duckdb.token_type.comment
    ]


def check(sql: str) -> None:
    """Refuse anything but a single SELECT or a plain EXPLAIN, before it reaches the engine."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise UsageError(f"invalid SQL: {str(e).splitlines()[0]}") from e
    if len(statements) != 1:
        raise UsageError("give exactly one SQL statement")
    kind = statements[0].type.name
    if kind not in ALLOWED_STATEMENTS:
        raise UsageError(f"only read-only queries are allowed (SELECT, EXPLAIN); got {kind}")
    words = _words(sql)
    if kind == "EXPLAIN" and len(words) > 1 and words[1] in ("ANALYZE", "ANALYSE"):
        raise UsageError("EXPLAIN ANALYZE runs the statement it explains: use EXPLAIN")


def _lock_down(con: duckdb.DuckDBPyConnection, store: Path) -> None:
    root = blocks.blocks_dir(store)
    hourly = [root / f for (f,) in con.execute("SELECT file FROM rollup_blocks").fetchall()]
    files = ", ".join(sql_literal(f) for f in [*blocks.block_files(con, store), *hourly])
    con.execute(f"SET allowed_paths = [{files}]")
    for setting in (
        "SET autoinstall_known_extensions = false",
        "SET autoload_known_extensions = false",
        f"SET memory_limit = '{QUERY_MEMORY_LIMIT}'",
        "SET enable_external_access = false",
        "SET lock_configuration = true",
    ):
        con.execute(setting)


def run(con: duckdb.DuckDBPyConnection, store: Path, view: str, sql: str, timeout: float) -> QueryResult:
    """`view`: the SQL of the `usage` view, created before the connection is locked down."""
    check(sql)
    con.execute(f"CREATE OR REPLACE TEMP VIEW usage AS {view}")
    _lock_down(con, store)
    timer = threading.Timer(timeout, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        cursor = con.execute(sql)
        rows = cursor.fetchall()
    except duckdb.InterruptException as e:
        raise UsageError(f"query interrupted after {timeout:g} s (--timeout)") from e
    except duckdb.Error as e:
        raise corruption(e, store) or UsageError(f"query failed: {str(e).splitlines()[0]}") from e
    finally:
        timer.cancel()
    return QueryResult(columns=[d[0] for d in cursor.description or []], rows=rows)
