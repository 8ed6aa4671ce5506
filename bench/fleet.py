"""A fleet in one PostgreSQL store (#21): N clusters x 500 containers x 14 days of the real Bitbrains trace (August
2013, 5-minute samples; each cluster a copy under its own name), imported by P concurrent `upid storage import`
processes, as collectors of many clusters would write. Reported from one run: import throughput (samples/s, all
processes), bytes per sample on disk (`pg_total_relation_size` of upid's tables), and `upid analyze` of one
500-container cluster from PostgreSQL against the same cluster from DuckDB (whole processes, same run).

    python bench/fleet.py [--clusters 50] [--parallel 4]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pg import running, server_bin  # noqa: E402


def main() -> None:
    import psycopg

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    bin_dir = server_bin()
    if bin_dir is None:
        raise SystemExit("error: no PostgreSQL server installed (Debian: apt-get install postgresql)")
    tmp = Path(tempfile.mkdtemp(prefix="upid-fleet-"))
    part = tmp / "14d.parquet"
    source = month_file(8)
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT * FROM '{source}' WHERE timestamp < (SELECT min(timestamp) FROM '{source}')
                    + INTERVAL 14 DAY) TO '{part}' (FORMAT parquet)""")
    per_cluster = con.execute(f"SELECT count(*) FROM '{part}'").fetchone()[0]
    print(
        f"machine: {os.cpu_count()} cores; {args.clusters} clusters x {per_cluster:,} samples (500 containers x 14 d)"
    )
    with running(bin_dir) as server:
        url = server.dsn()
        env = {**os.environ, "UPID_HOME": str(tmp), "PGPASSWORD": server.password}
        subprocess.run([sys.executable, "-m", "upid", "storage", "status", "--store", url], env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        started = time.perf_counter()
        pending = [f"c{i:03d}" for i in range(args.clusters)]
        running_procs: list[subprocess.Popen[bytes]] = []
        while pending or running_procs:
            while pending and len(running_procs) < args.parallel:
                name = pending.pop(0)
                running_procs.append(subprocess.Popen(
                    [sys.executable, "-m", "upid", "storage", "import", str(part), "--cluster", name, "--store", url],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                ))  # fmt: skip
            for p in list(running_procs):
                if p.poll() is not None:
                    if p.returncode:
                        raise SystemExit(f"an import failed with {p.returncode}")
                    running_procs.remove(p)
            time.sleep(0.05)
        took = time.perf_counter() - started
        total = per_cluster * args.clusters
        print(f"import: {total:,} samples in {took:.1f} s: {total / took / 1e3:,.0f} k samples/s "
              f"({args.parallel} processes at a time)")  # fmt: skip
        with psycopg.connect(url, password=server.password) as pg:
            size = pg.execute("""SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
                                 JOIN pg_namespace n ON n.oid = c.relnamespace
                                 WHERE n.nspname = 'upid' AND c.relkind = 'r'""").fetchone()[0]
            size = int(size)
        print(f"size: {size / 1e6:,.1f} MB, {size / total:.2f} bytes per sample (tables, TOAST and indexes)")
        duck = tmp / "one.duckdb"
        subprocess.run([sys.executable, "-m", "upid", "storage", "import", str(part), "--cluster", "c000",
                        "--store", str(duck)], env=env, check=True, stderr=subprocess.DEVNULL)  # fmt: skip
        times = {}
        for label, store in (("postgresql", url), ("duckdb", str(duck))):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "upid", "analyze", "--cluster", "c000", "-o", "json", "--store",
                            store], env=env, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
            times[label] = time.perf_counter() - started
        print(f"analyze one cluster (500 containers x 14 d): PostgreSQL {times['postgresql']:.2f} s, DuckDB "
              f"{times['duckdb']:.2f} s: {times['postgresql'] / times['duckdb']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
