"""kill -9 in the middle of an import loses at most that import and leaves a store that opens and answers."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from conftest import process_env, run_process

from upid.store.duckdb.blocks import blocks_dir
from upid.workflows.demo import sample_path

KILLS = 8


def _import(home: Path, store: Path, cluster: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "upid",
            "storage",
            "import",
            str(sample_path()),
            "--store",
            str(store),
            "--cluster",
            cluster,
        ],
        env=process_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _samples(home: Path, store: Path) -> dict[str, int]:
    r = run_process(home, "storage", "status", "--store", store, "-o", "json")
    assert r.code == 0, r.err
    return {c["cluster"]: c["samples"] for c in r.json()["clusters"]}


def _blocks_consistent(store: Path) -> bool:
    con = duckdb.connect(str(store), read_only=True)
    try:
        files = con.execute("SELECT file FROM blocks UNION ALL SELECT file FROM rollup_blocks").fetchall()
        registered = {r[0] for r in files}  # sample blocks and hourly rollup blocks
    finally:
        con.close()
    on_disk = {str(p.relative_to(blocks_dir(store))) for p in blocks_dir(store).glob("c*/*.parquet")}
    return on_disk == registered


def test_kill_9_during_import(home: Path, tmp_path: Path) -> None:
    total = duckdb.connect().execute(f"SELECT count(*) FROM '{sample_path()}'").fetchone()[0]
    base = tmp_path / "base.duckdb"
    started = time.monotonic()
    assert _import(home, base, "first").wait() == 0
    duration = time.monotonic() - started
    outcomes = []
    for i in range(KILLS):  # kill the second import at moments spread over its likely write phase
        store = tmp_path / f"s{i}.duckdb"
        shutil.copy(base, store)
        shutil.copytree(blocks_dir(base), blocks_dir(store))
        proc = _import(home, store, "second")
        time.sleep(duration * (0.4 + 0.7 * i / KILLS))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        counts = _samples(home, store)
        assert counts["first"] == total, "a kill damaged data that was already stored"
        assert counts.get("second", 0) in (0, total), "a partial import became visible"
        outcomes.append(counts.get("second", 0))
        assert run_process(home, "analyze", "--store", store, "--cluster", "first", "-o", "json").code == 0
        assert _import(home, store, "second").wait() == 0  # repeating the import completes it
        assert _samples(home, store) == {"first": total, "second": total}
        assert _blocks_consistent(store), "an orphan block file survived the next write"
    print(f"after kill -9: {outcomes.count(0)} imports lost whole, {outcomes.count(total)} complete")
