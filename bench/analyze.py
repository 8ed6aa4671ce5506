"""Analysis speed: `upid analyze` (default strategy, with its backtests) at two sizes of real data.

  small: 500 containers x 30 days at 5 minutes (one month of the Bitbrains trace, as it is)
  large: 5,000 containers x 14 days (~20 M samples): 14 days of the trace imported 10 times under
         different namespaces (10 imports of ~2 M samples each)

Reported: the whole `upid analyze -o json` process (wall, peak RSS), in one process the split between the
store's SQL (loading the window) and the Python analysis, and the bare engine: DuckDB's grouped p95 and max
over the same samples, with the ratio of the whole process to it.

    python bench/analyze.py [--sizes small,large]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from datasets import month_file
from revisions import worktree


def prepare(home: Path, size: str, code: Path | None = None) -> tuple[int, str]:
    """`code`: import with another version of upid (its package first on the path), so that it can read the store."""
    env = {**os.environ, "UPID_HOME": str(home), **({"PYTHONPATH": str(code)} if code else {})}
    cwd = str(code) if code else None
    source = month_file(8)
    if size == "small":
        subprocess.run(
            [sys.executable, "-m", "upid", "storage", "import", str(source)],
            env=env,
            cwd=cwd,
            check=True,
            stderr=subprocess.DEVNULL,
        )
        return 500, "31d"
    con = duckdb.connect()
    start = con.execute(f"SELECT epoch(min(timestamp))::BIGINT FROM '{source}'").fetchone()[0]
    for copy in range(10):
        part = home / f"copy{copy}.parquet"
        con.execute(f"""COPY (SELECT * REPLACE ('bitbrains-{copy}' AS namespace) FROM '{source}'
                        WHERE epoch(timestamp) < {start + 14 * 86400}) TO '{part}' (FORMAT parquet)""")
        subprocess.run(
            [sys.executable, "-m", "upid", "storage", "import", str(part)],
            env=env,
            cwd=cwd,
            check=True,
            stderr=subprocess.DEVNULL,
        )
        part.unlink()
    return 5000, "14d"


def whole_process(home: Path, history: str, code: Path | None = None) -> tuple[float, float]:
    """`code`: a checkout of another version of upid to run instead (its package first on the path)."""
    env = {**os.environ, "UPID_HOME": str(home), **({"PYTHONPATH": str(code)} if code else {})}
    cwd = str(code) if code else None  # `python -m` puts the working directory first on the path
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "upid", "analyze", "--history", history, "-o", "json"],
        env=env,
        stdout=subprocess.DEVNULL,
        cwd=cwd,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"analyze failed with status {status}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def split(home: Path, history: str) -> tuple[float, float, int]:
    from upid.analysis.rightsizing import rightsize
    from upid.analysis.window import Scope
    from upid.store.duckdb.store import DuckDBStore
    from upid.units import parse_duration

    store = DuckDBStore(home / "upid.duckdb")
    end = store.extent("default").last
    started = time.perf_counter()
    frame = store.window("default", end - parse_duration(history), end, Scope()).usage
    sql = time.perf_counter() - started
    started = time.perf_counter()
    rightsize(frame, "upid")
    return sql, time.perf_counter() - started, len(frame.ts)


def bare(home: Path, history: str) -> float:
    """The bare engine: DuckDB computing per-series p95 and max of CPU and memory over the same stored samples
    (the head and the blocks), in a fresh read-only connection, as a floor for what analyze can cost."""
    from upid.store.duckdb import blocks
    from upid.units import parse_duration

    con = duckdb.connect(str(home / "upid.duckdb"), read_only=True)
    end = (
        con.execute("SELECT max(max_ts) FROM blocks").fetchone()[0]
        or con.execute("SELECT max(ts) FROM samples").fetchone()[0]
    )
    files = [blocks.blocks_dir(home / "upid.duckdb") / f for (f,) in con.execute("SELECT file FROM blocks").fetchall()]
    started = time.perf_counter()
    con.execute(f"""SELECT series_id, quantile_cont(cpu_m, 0.95), max(cpu_m), quantile_cont(mem_kib, 0.95),
                    max(mem_kib) FROM ({blocks.samples_sql(files)})
                    WHERE ts > ?::TIMESTAMP - INTERVAL {parse_duration(history)} SECOND GROUP BY series_id""",
                [end]).fetchall()  # fmt: skip
    took = time.perf_counter() - started
    con.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small,large")
    parser.add_argument("--against", metavar="REV", help="also time this git revision's whole process, same store")
    args = parser.parse_args()
    with worktree(args.against) as old:
        run(args.sizes.split(","), args.against, old)


def run(sizes: list[str], against: str | None, old: Path | None) -> None:
    print(f"machine: {os.cpu_count()} cores")
    print(
        f"{'size':>6s} {'containers':>10s} {'samples':>11s} {'wall s':>7s} {'peak RSS':>9s} {'SQL s':>6s} "
        f"{'Python s':>8s} {'bare s':>7s} {'x bare':>7s}"
    )
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="upid-bench-") as tmp:
            home = Path(tmp)
            containers, history = prepare(home, size)
            wall, rss = whole_process(home, history)
            sql, python, samples = split(home, history)
            floor = bare(home, history)
            print(
                f"{size:>6s} {containers:>10,d} {samples:>11,d} {wall:>7.2f} {rss:>7.0f}MB {sql:>6.2f} {python:>8.2f} "
                f"{floor:>7.2f} {wall / floor:>7.1f}",
                flush=True,
            )
            if old:  # its own store, written by it: a newer schema is refused by an older upid
                old_home = home / "previous"
                old_home.mkdir()
                prepare(old_home, size, old)
                then, then_rss = whole_process(old_home, history, old)
                print(f"{'':>6s} {against}: {then:.2f} s, {then_rss:.0f}MB; this tree {wall:.2f} s "
                      f"({then / wall:.2f}x faster)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
