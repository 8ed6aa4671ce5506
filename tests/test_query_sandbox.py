"""`upid storage query` reaches the store's data and nothing else: hostile statements fail with exit 2 and
leave every store file byte-identical (docs/security.md)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from upid.errors import ExitCode

OUTSIDE = "/tmp/upid-sandbox-probe"


def _digest(home: Path) -> dict[str, str]:
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def stored(upid, home: Path) -> Path:
    """The bundled real sample (201,175 samples: large enough for a block file) in the store."""
    from upid.workflows.demo import sample_path

    assert upid("storage", "import", sample_path(), "--cluster", "demo").code == 0
    blocks = list(home.rglob("*.parquet"))
    assert blocks, "the sample should have been written as a block"
    return blocks[0]


def hostile(store: Path, block: Path) -> list[str]:
    s, b = str(store), str(block)
    return [
        # writes and DDL
        "INSERT INTO clusters VALUES (99, 'x')",
        "UPDATE clusters SET name = 'x'",
        "DELETE FROM clusters",
        "DROP TABLE clusters",
        "CREATE TABLE t AS SELECT 1",
        "CREATE TEMP TABLE t AS SELECT 1",
        "ALTER TABLE clusters ADD COLUMN x INT",
        "TRUNCATE clusters",
        "CHECKPOINT",
        "VACUUM",
        # COPY, also as EXPLAIN ANALYZE (which runs what it explains) and onto the store's own files
        f"COPY (SELECT 'x') TO '{s}' (FORMAT csv)",
        f"COPY (SELECT 1) TO '{b}' (FORMAT parquet, USE_TMP_FILE false)",
        f"EXPLAIN ANALYZE COPY (SELECT 'x') TO '{s}' (FORMAT csv)",
        f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{b}' (FORMAT parquet, USE_TMP_FILE false)",
        f"EXPLAIN /* a comment */ ANALYZE COPY (SELECT 1) TO '{b}' (FORMAT parquet, USE_TMP_FILE false)",
        f"explain analyse copy (select 1) to '{OUTSIDE}.csv'",
        f"COPY clusters TO '{OUTSIDE}.csv'",
        f"COPY clusters FROM '{OUTSIDE}.csv'",
        "EXPORT DATABASE '/tmp/upid-sandbox-export'",
        "IMPORT DATABASE '/tmp/upid-sandbox-export'",
        # other databases and extensions
        f"ATTACH '{OUTSIDE}.duckdb' AS x",
        f"ATTACH '{s}' AS again",
        "DETACH upid",
        "INSTALL httpfs",
        "LOAD httpfs",
        "FORCE INSTALL json",
        # settings and pragmas
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET enable_external_access",
        "PRAGMA enable_profiling",
        "SET memory_limit = '100GB'",
        "CALL enable_logging()",
        # file table functions, alone and nested in CTEs and subqueries
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/hostname')",
        "SELECT * FROM read_csv('/proc/self/environ')",
        "SELECT * FROM read_csv_auto('/etc/passwd')",
        "SELECT * FROM glob('/root/**')",
        "SELECT * FROM read_json_auto('/etc/os-release')",
        "SELECT * FROM read_parquet('/nonexistent/x.parquet')",
        "SELECT * FROM '/etc/passwd'",
        "WITH x AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM x",
        "SELECT (SELECT content FROM read_text('/etc/passwd'))",
        "SELECT * FROM usage WHERE pod IN (SELECT content FROM read_text('/etc/passwd'))",
        "SELECT * FROM (SELECT * FROM glob('/etc/*')) g",
        "SELECT * FROM query('SELECT * FROM read_text(''/etc/passwd'')')",
        "SELECT * FROM read_text('http://127.0.0.1:9/x')",
        # several statements, and a write behind a read
        "SELECT 1; DROP TABLE clusters",
        "SELECT 1; COPY (SELECT 1) TO '/tmp/upid-sandbox-x.csv'",
        "  ",
    ]


def test_hostile_statements_fail_and_change_nothing(upid, home: Path, stored: Path) -> None:
    store = home / "upid.duckdb"
    statements = hostile(store, stored)
    assert len(statements) >= 40
    before = _digest(home)
    for sql in statements:
        r = upid("storage", "query", sql)
        assert r.code == ExitCode.USAGE, (sql, r.code, r.out, r.err)
        assert r.err.startswith("error: ") and len(r.err.strip().splitlines()) <= 2, (sql, r.err)
        assert "root:" not in r.out + r.err, sql  # nothing of /etc/passwd came back
    assert _digest(home) == before
    assert not list(Path("/tmp").glob("upid-sandbox-*"))
    ok = upid("storage", "query", "SELECT count(*) AS n FROM usage", "-o", "json")
    assert ok.code == 0 and ok.json()["rows"] == [[201175]]


def test_the_store_data_stays_queryable(upid, stored: Path) -> None:
    for sql in (
        "EXPLAIN SELECT namespace, avg(cpu_cores) FROM usage GROUP BY 1",
        "WITH w AS (SELECT workload, max(memory_bytes) m FROM usage GROUP BY 1) SELECT count(*) FROM w",
        "SELECT count(*) FROM clusters",
        "SUMMARIZE SELECT cpu_cores FROM usage",
        f"SELECT count(*) FROM read_parquet('{stored}')",  # the store's own block: its data, allowed
    ):
        r = upid("storage", "query", sql)
        assert r.code == 0, (sql, r.err)


def test_a_query_that_runs_too_long_is_interrupted(upid, stored: Path) -> None:
    slow = "SELECT count(*) FROM range(100000000000) a"
    r = upid("storage", "query", slow, "--timeout", "1s")
    assert r.code == ExitCode.USAGE and "interrupted after 1 s" in r.err
    assert upid("storage", "query", "SELECT 1", "--timeout", "0s").code == ExitCode.USAGE
