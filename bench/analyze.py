"""Analysis speed: `upid analyze` (default strategy, with its backtests) at two sizes of real data.

  small: 500 containers x 30 days at 5 minutes (one month of the Bitbrains trace, as it is)
  large: 5,000 containers x 14 days (~20 M samples): 14 days of the trace imported 10 times under
         different namespaces (10 imports of ~2 M samples each)

Reported: the whole `upid analyze -o json` process (wall, peak RSS), and in one process the split
between the store's SQL (loading the window) and the Python analysis.

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


def prepare(home: Path, size: str) -> tuple[int, str]:
    env = {**os.environ, "UPID_HOME": str(home)}
    source = month_file(8)
    if size == "small":
        subprocess.run(
            [sys.executable, "-m", "upid", "storage", "import", str(source)],
            env=env,
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
            check=True,
            stderr=subprocess.DEVNULL,
        )
        part.unlink()
    return 5000, "14d"


def whole_process(home: Path, history: str) -> tuple[float, float]:
    env = {**os.environ, "UPID_HOME": str(home)}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "upid", "analyze", "--history", history, "-o", "json"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    _, code, usage = os.wait4(proc.pid, 0)
    if code:
        raise SystemExit(f"analyze failed with status {code}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def split(home: Path, history: str) -> tuple[float, float, int]:
    from upid.analysis.rightsizing import rightsize
    from upid.store.duckdb.store import DuckDBStore
    from upid.units import parse_duration

    store = DuckDBStore(home / "upid.duckdb")
    end = store.newest_sample("default")
    started = time.perf_counter()
    frame = store.load_usage("default", end - parse_duration(history), end, None)
    sql = time.perf_counter() - started
    started = time.perf_counter()
    rightsize(frame, "upid")
    return sql, time.perf_counter() - started, len(frame.ts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small,large")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores")
    print(
        f"{'size':>6s} {'containers':>10s} {'samples':>11s} {'wall s':>7s} {'peak RSS':>9s} {'SQL s':>6s} "
        f"{'Python s':>8s}"
    )
    for size in args.sizes.split(","):
        with tempfile.TemporaryDirectory(prefix="upid-bench-") as tmp:
            home = Path(tmp)
            containers, history = prepare(home, size)
            wall, rss = whole_process(home, history)
            sql, python, samples = split(home, history)
            print(
                f"{size:>6s} {containers:>10,d} {samples:>11,d} {wall:>7.2f} {rss:>7.0f}MB {sql:>6.2f} {python:>8.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
