"""Retention tiers on a long window: 5,000 containers x 93 days, raw samples cleaned to the default 35 days,
analysed over 90 days from the hourly rollups; and 14 days analysed both ways (raw, hour) on the same store.

Data: August 2013 of the Bitbrains trace (500 real VMs at 5 minutes), repeated three times back to back (+31 and
+62 days) and under 10 namespaces: 5,000 containers, ~130 M samples imported with `upid storage import`, then
`upid storage cleanup` with the default tiers. Reported, each from one run on this machine:

  - import throughput of the 30 files (rollups are written with the blocks), and the bytes per rolled-up hour
  - `upid analyze --history 90d -o json` (auto picks the rollups): wall and peak RSS of the whole process
  - `upid analyze --history 14d` raw and `--resolution hour`, and the bare DuckDB grouped p95/max query over the
    same raw samples, with the ratios; and how far the hourly recommendations are from the raw ones

    python bench/tiers.py [--keep DIR]   (DIR: build the store once, reuse it on the next run)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
from analyze import bare
from datasets import CACHE, month_file

COPIES, REPEATS, SHIFT = 10, 3, 31 * 86400


def run(home: Path, *args: str) -> tuple[float, float, bytes]:
    env = {**os.environ, "UPID_HOME": str(home)}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "upid", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"upid {' '.join(args)} failed with status {status}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024, out


def build(home: Path) -> tuple[int, float]:
    """Import the 30 files; returns (samples, seconds importing)."""
    source = month_file(8)
    con = duckdb.connect()
    samples, took = 0, 0.0
    for repeat in range(REPEATS):
        for copy in range(COPIES):
            part = home / f"part-{repeat}-{copy}.parquet"
            con.execute(f"""COPY (SELECT * REPLACE ('bitbrains-{copy}' AS namespace,
                                 timestamp + INTERVAL {repeat * SHIFT} SECOND AS timestamp) FROM '{source}')
                            TO '{part}' (FORMAT parquet)""")
            samples += con.execute(f"SELECT count(*) FROM '{part}'").fetchone()[0]
            wall, _, _ = run(home, "storage", "import", str(part))
            took += wall
            part.unlink()
    return samples, took


def rollup_bytes(store: Path) -> tuple[int, int, int]:
    con = duckdb.connect(str(store), read_only=True)
    rows, size = con.execute("SELECT sum(rows), sum(bytes) FROM rollup_blocks").fetchone()
    raw = con.execute("SELECT sum(bytes) FROM blocks").fetchone()[0]
    con.close()
    return int(rows), int(size), int(raw or 0)


def compare(raw: dict, hour: dict) -> str:
    by_key = {(r["namespace"], r["workload"], r["container"]): r for r in raw["recommendations"]}
    cpu_err, mem_same, n = [], 0, 0
    for h in hour["recommendations"]:
        r = by_key[(h["namespace"], h["workload"], h["container"])]
        a, b = r["recommended"]["cpu_request"], h["recommended"]["cpu_request"]
        if a and b and r["usage"]["cpu_p95"] >= 0.02:
            cpu_err.append(abs(b / a - 1))
        if r["recommended"]["memory_request"] is not None:
            n += 1
            mem_same += r["recommended"]["memory_request"] == h["recommended"]["memory_request"]
    e = np.asarray(cpu_err)
    return (
        f"CPU request vs raw (p95 >= 20m, {len(e)} containers): median {np.median(e):.2%}, "
        f"95th pct {np.percentile(e, 95):.2%}, max {e.max():.2%}; memory request equal in {mem_same}/{n}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=CACHE / "tiers-home", help="the store's UPID_HOME")
    args = parser.parse_args()
    home: Path = args.keep
    store = home / "upid.duckdb"
    print(f"machine: {os.cpu_count()} cores")
    if not store.exists():
        home.mkdir(parents=True, exist_ok=True)
        samples, took = build(home)
        print(f"import: {samples:,} samples in {took:.1f} s, {samples / took / 1e6:.2f} M samples/s (30 processes)")
        wall, _, _ = run(home, "storage", "cleanup", "--yes")
        print(f"cleanup to the default tiers (raw 35 d, hourly 400 d): {wall:.1f} s")
    rows, size, raw_bytes = rollup_bytes(store)
    print(f"rollups: {rows:,} series-hours, {size / 1e6:.1f} MB, {size / rows:.1f} bytes per rolled-up hour; "
          f"raw blocks now {raw_bytes / 1e6:.1f} MB")  # fmt: skip
    wall, rss, _ = run(home, "analyze", "--history", "90d", "-o", "json")
    print(f"analyze 90 d (auto: rollups): {wall:.2f} s, {rss:.0f} MB peak RSS")
    raw_wall, raw_rss, raw_out = run(home, "analyze", "--history", "14d", "--resolution", "raw", "-o", "json")
    hour_wall, hour_rss, hour_out = run(home, "analyze", "--history", "14d", "--resolution", "hour", "-o", "json")
    floor = bare(home, "14d")
    print(f"analyze 14 d raw: {raw_wall:.2f} s, {raw_rss:.0f} MB ({raw_wall / floor:.1f}x bare)")
    print(f"analyze 14 d hour: {hour_wall:.2f} s, {hour_rss:.0f} MB ({hour_wall / floor:.1f}x bare)")
    print(f"bare DuckDB grouped p95/max over the 14 d raw samples: {floor:.2f} s")
    print(compare(json.loads(raw_out), json.loads(hour_out)))


if __name__ == "__main__":
    main()
