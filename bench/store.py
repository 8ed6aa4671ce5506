"""Store benchmark: import one month of the real Bitbrains trace and measure speed and size.

Converts ../shared/data/bitbrains-rnd (2013-8: 500 VMs, ~4.3 M five-minute samples) to the canonical
format (not timed), then times `upid storage import` as a whole process, as a user runs it, into a fresh
store, and reports samples/s, peak RSS and bytes per sample on disk (database file + blocks).

    python bench/store.py [--month 8] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from datasets import CACHE, write_bitbrains


def canonical_files(month: int) -> dict[str, Path]:
    parquet = CACHE / f"bitbrains-2013-{month}.parquet"
    if not parquet.exists():
        write_bitbrains(month, parquet)
    files = {"parquet": parquet}
    no_net = CACHE / f"bitbrains-2013-{month}-cpu-mem.parquet"
    csv_gz = CACHE / f"bitbrains-2013-{month}.csv.gz"
    con = duckdb.connect()
    if not no_net.exists():
        con.execute(
            f"COPY (SELECT * EXCLUDE (network_rx_bytes_per_s, network_tx_bytes_per_s) FROM '{parquet}') "
            f"TO '{no_net}' (FORMAT parquet)"
        )
    if not csv_gz.exists():
        con.execute(f"COPY (SELECT * FROM '{parquet}') TO '{csv_gz}' (FORMAT csv, HEADER true, COMPRESSION gzip)")
    files["parquet, CPU+memory only"] = no_net
    files["csv.gz"] = csv_gz
    return files


def run_import(path: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="upid-bench-") as home:
        env = {**os.environ, "UPID_HOME": home}
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "upid", "storage", "import", str(path)], env=env, stderr=subprocess.DEVNULL
        )
        _, code, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = code
        if code:
            raise SystemExit(f"import failed with status {code}")
        status = json.loads(
            subprocess.run(
                [sys.executable, "-m", "upid", "storage", "status", "-o", "json"],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        started = time.perf_counter()
        analysis = [sys.executable, "-m", "upid", "analyze", "--history", "31d", "-o", "json"]
        subprocess.run(analysis, env=env, check=True, stdout=subprocess.DEVNULL)
        analyze = time.perf_counter() - started
    return {
        "wall": wall,
        "samples": status["samples"],
        "bytes": status["size_bytes"],
        "rss_mb": usage.ru_maxrss / 1024,
        "analyze": analyze,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", type=int, default=8, choices=(7, 8))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; data: Bitbrains Rnd 2013-{args.month}; runs: {args.runs} (median)")
    print(
        f"{'input':28s} {'samples':>10s} {'import s':>8s} {'samples/s':>11s} {'B/sample':>9s} {'peak RSS':>9s} "
        f"{'analyze s':>9s}"
    )
    for label, path in canonical_files(args.month).items():
        runs = [run_import(path) for _ in range(args.runs)]
        wall = statistics.median(r["wall"] for r in runs)
        r = runs[0]
        analyze = statistics.median(x["analyze"] for x in runs)
        print(
            f"{label:28s} {r['samples']:>10,d} {wall:>8.2f} {r['samples'] / wall:>11,.0f} "
            f"{r['bytes'] / r['samples']:>9.2f} {max(x['rss_mb'] for x in runs):>7.0f}MB {analyze:>9.2f}"
        )


if __name__ == "__main__":
    main()
