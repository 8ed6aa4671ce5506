"""The store: migrations, refusing newer or corrupt files untouched, read-only queries, export, cleanup,
blocks and the spool."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pytest
import synth

from upid.analysis.window import Scope
from upid.errors import ExitCode
from upid.ingest.canonical import read_canonical
from upid.store.base import AuditRecord
from upid.store.duckdb import migrations, spool
from upid.store.duckdb.blocks import Thresholds, blocks_dir
from upid.store.duckdb.store import DuckDBStore

AUDIT = AuditRecord(command="test", args=[], user="tester")


@contextmanager
def lock_held_by_another_process(path: Path) -> Iterator[None]:
    """DuckDB's file lock is per process: a second connection in this process would share it."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def imported(upid, home: Path, tmp_path: Path) -> Path:
    assert upid("storage", "import", synth.make().write_csv(tmp_path / "u.csv")).code == 0
    return home / "upid.duckdb"


def test_migrations_are_recorded_in_the_store(imported: Path) -> None:
    con = duckdb.connect(str(imported), read_only=True)
    rows = con.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    con.close()
    assert [r[0] for r in rows] == sorted(migrations.MIGRATIONS)
    assert all(r[1] for r in rows)


def test_home_is_private(imported: Path, home: Path) -> None:
    assert home.stat().st_mode & 0o777 == 0o700


def test_a_store_from_a_newer_upid_is_refused_and_left_untouched(upid, imported: Path) -> None:
    con = duckdb.connect(str(imported))
    con.execute("INSERT INTO schema_migrations VALUES (999, 'from the future', now()::TIMESTAMP)")
    con.close()
    before = _digest(imported)
    for args in (("analyze",), ("storage", "status"), ("storage", "import", "/dev/null")):
        r = upid(*args)
        if args[-1] == "/dev/null":
            continue  # the file is checked first; the store is not reached
        assert r.code == ExitCode.STORE_VERSION, (args, r.err)
        assert "newer than this upid supports" in r.err
    r = upid("storage", "cleanup", "--yes")
    assert r.code == ExitCode.STORE_VERSION
    assert _digest(imported) == before


def test_a_corrupt_store_gives_its_own_exit_code_and_is_not_overwritten(upid, home: Path, tmp_path: Path) -> None:
    home.mkdir(mode=0o700)
    store = home / "upid.duckdb"
    store.write_bytes(b"this is not a database" * 1000)
    before = _digest(store)
    for args in (("analyze",), ("storage", "import", synth.make().write_csv(tmp_path / "u.csv"))):
        r = upid(*args)
        assert r.code == ExitCode.STORE_CORRUPT, r.err
        assert r.err.startswith("error: ") and len(r.err.strip().splitlines()) == 1
    assert _digest(store) == before


def test_no_store_yet(upid) -> None:
    r = upid("analyze")
    assert r.code == ExitCode.NO_DATA and "no store at" in r.err


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO clusters VALUES (9, 'x', now())",
        "DELETE FROM samples",
        "DROP TABLE series",
        "COPY series TO '/tmp/x.csv'",
        "ATTACH '/tmp/other.duckdb' AS other",
        "SELECT 1; DELETE FROM samples",
        "CREATE TABLE t AS SELECT 1",
        "PRAGMA enable_profiling",
    ],
)
def test_query_refuses_anything_that_could_write(upid, imported: Path, sql: str) -> None:
    before = upid("storage", "status", "-o", "json").json()["samples"]
    r = upid("storage", "query", sql)
    assert r.code == ExitCode.USAGE, r.err
    assert r.err.startswith("error: ")
    assert upid("storage", "status", "-o", "json").json()["samples"] == before


def test_query_reads_the_usage_view(upid, imported: Path) -> None:
    data = synth.make()
    r = upid("storage", "query", "SELECT namespace, count(*) AS n FROM usage GROUP BY 1 ORDER BY 1", "-o", "csv")
    assert r.code == 0
    expected = {ns: sum(1 for x in data.rows if x["namespace"] == ns) for ns in ("batch", "shop")}
    assert r.out.splitlines() == ["namespace,n", *(f"{ns},{n}" for ns, n in sorted(expected.items()))]


def test_export_writes_parquet_partitioned_by_cluster_and_day(upid, imported: Path, tmp_path: Path) -> None:
    target = tmp_path / "export"
    r = upid("storage", "export", target)
    assert r.code == 0, r.err
    files = sorted(target.rglob("*.parquet"))
    assert files and all("cluster=alpha" in str(f) and "day=2026-01-01" in str(f) for f in files)
    con = duckdb.connect()
    n, cpu = con.execute(f"SELECT count(*), sum(cpu_cores) FROM read_parquet('{target}/**/*.parquet')").fetchone()
    data = synth.make()
    assert n == len(data.rows)
    assert cpu == pytest.approx(sum(round(float(x["cpu_cores"]) * 1000) / 1000 for x in data.rows))
    again = upid("storage", "export", target)
    assert again.code == ExitCode.USAGE and "not empty" in again.err
    assert upid("storage", "export", target, "--overwrite").code == 0


def test_cleanup_counts_back_from_the_newest_sample(upid, home: Path, tmp_path: Path) -> None:
    day = 86400
    data = synth.make(samples=5 * 24, step=3600)  # five days, hourly
    assert upid("storage", "import", data.write_csv(tmp_path / "u.csv")).code == 0
    r = upid("storage", "cleanup", "--days-to-keep", "2", "--yes")
    assert r.code == 0, r.err
    newest = max(int(x["timestamp"]) for x in data.rows)
    kept = [x for x in data.rows if int(x["timestamp"]) >= newest - 2 * day]
    assert upid("storage", "status", "-o", "json").json()["samples"] == len(kept)
    assert f"removed {len(data.rows) - len(kept):,} samples" in r.err
    log = upid("storage", "audit-log", "-o", "json").json()["entries"]
    assert log[0]["command"] == "storage cleanup" and log[0]["details"]["days_to_keep"] == 2


def test_audit_log_records_every_change(upid, imported: Path, tmp_path: Path) -> None:
    assert upid("storage", "import", synth.make(seed=2).write_csv(tmp_path / "v.csv"), "--cluster", "x").code == 0
    entries = upid("storage", "audit-log", "-o", "json").json()["entries"]
    assert [e["command"] for e in entries] == ["storage import", "storage import"]
    assert entries[1]["details"]["written"] == len(synth.make().rows)
    assert entries[0]["details"]["args"][:2] == ["storage", "import"]
    assert upid("storage", "audit-log", "--limit", "1", "-o", "json").json()["entries"] == entries[:1]


def _batch(tmp_path: Path, **kw) -> object:
    [batch] = read_canonical(synth.make(**kw).write_csv(tmp_path / f"b{kw.get('seed', 1)}.csv"), "c").batches
    return batch


def test_blocks_and_head_answer_alike(tmp_path: Path) -> None:
    """The same samples give the same analysis whether they sit in the head or in Parquet blocks."""
    head_only = DuckDBStore(tmp_path / "head.duckdb", thresholds=Thresholds(10**9, 10**9))
    blocky = DuckDBStore(
        tmp_path / "blocks.duckdb", thresholds=Thresholds(block_min_samples=150, head_compact_samples=300)
    )
    for start in (0, 48 * 300, 96 * 300):  # three writes: a block, then head rows that compact
        for store in (head_only, blocky):
            store.write(_batch(tmp_path, start=synth.START + start, samples=48 if start else 60), AUDIT)
    assert not list(blocks_dir(head_only.path).glob("c*/b*.parquet"))
    assert len(list(blocks_dir(blocky.path).glob("c*/b*.parquet"))) >= 2
    a, b = (s.window("alpha", synth.START - 1, synth.START + 10**6, Scope()).usage for s in (head_only, blocky))
    for field in ("container_idx", "ts", "cpu", "memory"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert head_only.status().samples == blocky.status().samples
    # re-writing what sits in blocks stores nothing new
    assert blocky.write(_batch(tmp_path, samples=60), AUDIT).written == 0


def test_orphan_block_files_are_swept(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb", thresholds=Thresholds(block_min_samples=10))
    store.write(_batch(tmp_path), AUDIT)
    orphan = blocks_dir(store.path) / "c1" / "b00000099-deadbeef.parquet"
    orphan.write_bytes(b"left by a crash")
    store.write(_batch(tmp_path, seed=3, start=synth.START + 86400), AUDIT)
    assert not orphan.exists()
    assert store.status().samples == 2 * len(synth.make().rows)


def test_a_busy_store_spools_and_the_next_open_merges(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb", lock_timeout=0.3)
    store.write(_batch(tmp_path), AUDIT)
    with lock_held_by_another_process(store.path):
        result = store.write(_batch(tmp_path, seed=5, start=synth.START + 86400), AUDIT)
    assert result.spooled and len(spool.pending(store.path)) == 1
    status = store.status()  # a reader merges what waits, when the lock is free
    assert status.spooled_batches == 0
    assert status.samples == 2 * len(synth.make().rows)
    entries = store.audit_log(5)
    assert entries[0].details.get("spooled") is True


def test_a_store_copied_without_its_blocks_says_so(upid, home: Path, tmp_path: Path) -> None:
    import shutil

    store = DuckDBStore(home / "upid.duckdb", thresholds=Thresholds(block_min_samples=10))
    home.mkdir(mode=0o700, exist_ok=True)
    store.write(_batch(tmp_path), AUDIT)
    shutil.rmtree(blocks_dir(store.path))
    r = upid("analyze")
    assert r.code == ExitCode.STORE_CORRUPT
    assert "missing a sample block file" in r.err and "upid.duckdb.blocks folder" in r.err


def test_a_store_locked_longer_than_the_timeout_is_a_distinct_error(upid, imported: Path, monkeypatch) -> None:
    monkeypatch.setenv("UPID_LOCK_TIMEOUT", "0.5")
    with lock_held_by_another_process(imported):
        r = upid("analyze")
    assert r.code == ExitCode.STORE_LOCKED
    assert "locked by another process" in r.err and len(r.err.strip().splitlines()) == 1


def test_a_store_path_that_cannot_be_opened(upid, tmp_path: Path) -> None:
    folder = tmp_path / "a-directory"
    folder.mkdir()
    r = upid("storage", "import", synth.make(samples=2).write_csv(tmp_path / "u.csv"), "--store", folder)
    assert r.code == ExitCode.STORE_IO, r.err
    assert r.err.startswith("error: store ") and len(r.err.strip().splitlines()) == 1


def _blocky(home: Path, tmp_path: Path) -> tuple[DuckDBStore, list[Path]]:
    """A store at the CLI's default place with two clusters, each in its own block."""
    home.mkdir(mode=0o700, exist_ok=True)
    store = DuckDBStore(home / "upid.duckdb", thresholds=Thresholds(block_min_samples=10))
    store.write(_batch(tmp_path, clusters=("alpha",)), AUDIT)
    store.write(_batch(tmp_path, seed=2, clusters=("beta",), samples=50), AUDIT)
    files = sorted(blocks_dir(store.path).glob("c*/b*.parquet"))
    assert len(files) == 2
    return store, files


def test_a_damaged_block_is_found_by_verify_and_named(upid, home: Path, tmp_path: Path) -> None:
    _, files = _blocky(home, tmp_path)
    assert upid("storage", "verify").code == 0
    data = bytearray(files[0].read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = np.random.default_rng(7).integers(0, 256, 64, dtype=np.uint8).tobytes()
    files[0].write_bytes(bytes(data))
    r = upid("storage", "verify")
    assert r.code == ExitCode.STORE_CORRUPT
    assert f"block {files[0]} has another SHA-256 than when it was written" in r.err
    assert str(files[1]) not in r.err


def test_a_block_swapped_for_another_clusters_is_refused_on_read(upid, home: Path, tmp_path: Path) -> None:
    _, files = _blocky(home, tmp_path)
    before = upid("analyze", "--cluster", "alpha", "-o", "json")
    assert before.code == 0
    files[0].write_bytes(files[1].read_bytes())
    r = upid("analyze", "--cluster", "alpha", "-o", "json")
    assert r.code == ExitCode.STORE_CORRUPT and r.out == ""
    assert str(files[0]) in r.err and "when it was written" in r.err
    assert str(files[0]) in upid("storage", "verify").err


@pytest.mark.parametrize(
    "command", [("analyze", "--cluster", "alpha"), ("storage", "query", "SELECT count(*) FROM usage")]
)
def test_a_truncated_block_is_corrupt_not_an_io_error(upid, home: Path, tmp_path: Path, command) -> None:
    _, files = _blocky(home, tmp_path)
    with open(files[0], "r+b") as f:
        f.truncate(files[0].stat().st_size // 2)
    r = upid(*command)
    assert r.code == ExitCode.STORE_CORRUPT, r.err
    assert str(files[0]) in r.err and len(r.err.strip().splitlines()) == 1


def test_a_block_damaged_past_the_cheap_check_is_corrupt_in_query(upid, home: Path, tmp_path: Path) -> None:
    """Blocks recorded before checksums (NULL) are read unchecked: a damaged page is still exit 6, not 2."""
    store, files = _blocky(home, tmp_path)
    con = duckdb.connect(str(store.path))
    con.execute("UPDATE blocks SET bytes = NULL, footer_sha256 = NULL")
    con.close()
    data = bytearray(files[0].read_bytes())
    data[4 : len(data) // 2] = bytes(len(data) // 2 - 4)
    files[0].write_bytes(bytes(data))
    r = upid("storage", "query", "SELECT sum(cpu_cores), sum(memory_bytes) FROM usage")
    assert r.code == ExitCode.STORE_CORRUPT, r.err


def test_a_truncated_database_file_is_corrupt(upid, imported: Path) -> None:
    with open(imported, "r+b") as f:
        f.truncate(imported.stat().st_size // 3)
    r = upid("analyze")
    assert r.code == ExitCode.STORE_CORRUPT, r.err


def test_blocks_written_before_checksums_get_them_at_the_next_write(home: Path, tmp_path: Path) -> None:
    store, _ = _blocky(home, tmp_path)
    con = duckdb.connect(str(store.path))
    con.execute("UPDATE blocks SET bytes = NULL, footer_sha256 = NULL, sha256 = NULL")
    con.close()
    store.write(_batch(tmp_path, seed=3, clusters=("gamma",), samples=2), AUDIT)
    con = duckdb.connect(str(store.path), read_only=True)
    assert con.execute("SELECT count(*) FROM blocks WHERE sha256 IS NULL OR bytes IS NULL").fetchone() == (0,)
    con.close()
    assert store.verify()["problems"] == []


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not a zip", b"random bytes"])
def test_a_bad_spool_file_is_moved_aside_with_one_notice(upid, imported: Path, content: bytes) -> None:
    folder = spool.spool_dir(imported)
    folder.mkdir(exist_ok=True)
    bad = folder / "00000000000000000001-deadbeef.npz"
    bad.write_bytes(content)
    r = upid("storage", "status", "-o", "json")
    assert r.code == 0, r.err
    assert r.err.count("\n") == 1 and f"spooled batch {bad.name} cannot be read" in r.err
    assert not bad.exists() and (folder / (bad.name + ".bad")).read_bytes() == content
    assert r.json()["samples"] == len(synth.make().rows)
    assert upid("analyze").code == 0


class _Terminal(io.StringIO):
    """Standard input as a person at a terminal types it."""

    def isatty(self) -> bool:
        return True


def test_cleanup_dry_run_per_cluster_then_asks_and_refuses_without_a_terminal(
    upid, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = synth.make(samples=5 * 24, step=3600, clusters=("a", "b"))
    assert upid("storage", "import", data.write_csv(tmp_path / "u.csv")).code == 0
    total = len(data.rows)
    per_cluster = sum(
        1 for x in data.rows if x["cluster"] == "a" and int(x["timestamp"]) < synth.START + 3 * 86400 - 3600
    )

    r = upid("storage", "cleanup", "--days-to-keep", "2", "--dry-run", "--cluster", "a")
    assert r.code == 0 and r.err.strip().splitlines() == [
        f"cluster a: would remove {per_cluster:,} samples older than 2 days"
    ]
    assert upid("storage", "status", "-o", "json").json()["samples"] == total

    r = upid("storage", "cleanup", "--days-to-keep", "2")  # not a terminal, no --yes
    assert r.code == ExitCode.USAGE and "standard input is not a terminal" in r.err and "--yes" in r.err
    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    r = upid("storage", "cleanup", "--days-to-keep", "2")
    assert r.code == ExitCode.USAGE and "[y/N]" in r.err and "not confirmed" in r.err
    assert upid("storage", "status", "-o", "json").json()["samples"] == total

    monkeypatch.setattr("sys.stdin", _Terminal("y\n"))
    r = upid("storage", "cleanup", "--days-to-keep", "2", "--cluster", "a")
    assert r.code == 0, r.err
    assert f"cluster a: removed {per_cluster:,} samples" in r.err and "cluster b" not in r.err
    assert upid("storage", "status", "-o", "json").json()["samples"] == total - per_cluster
    assert upid("storage", "cleanup", "--cluster", "nope", "--yes").code == ExitCode.NO_DATA
