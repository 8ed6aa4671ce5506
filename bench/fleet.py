"""A fleet in one PostgreSQL store (#21): N clusters x 500 containers x 14 days of the real Bitbrains trace (August
2013, 5-minute samples; each cluster a copy under its own name), imported by P concurrent `upid storage import`
processes, as collectors of many clusters would write. Reported from one run: import throughput (samples/s, all
processes), bytes per sample on disk (`pg_total_relation_size` of upid's tables), `upid analyze` of one
500-container cluster from PostgreSQL against the same cluster from DuckDB (whole processes, same run), then
`storage compact` (the hourly rollups of the whole fleet: time and size), the same analysis at hourly resolution,
and the raw one again (compact has merged each day's parts into one row).

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
        raw = _size(url, server.password, "samples_day")
        every = _size(url, server.password, None)
        print(f"size: {every / 1e6:,.1f} MB in all, {every / total:.2f} bytes per sample (tables, TOAST and "
              f"indexes); the day rows alone {raw / total:.2f} bytes per sample")  # fmt: skip
        duck = tmp / "one.duckdb"
        subprocess.run([sys.executable, "-m", "upid", "storage", "import", str(part), "--cluster", "c000",
                        "--store", str(duck)], env=env, check=True, stderr=subprocess.DEVNULL)  # fmt: skip
        _analyses(env, url, duck, "raw")
        started = time.perf_counter()
        for store in (url, str(duck)):
            subprocess.run([sys.executable, "-m", "upid", "storage", "compact", "--store", store], env=env,
                           check=True, stderr=subprocess.DEVNULL)  # fmt: skip
            if store == url:
                took = time.perf_counter() - started
        hourly = _size(url, server.password, "rollups_day")
        print(f"compact (hourly rollups of every cluster): {took:.1f} s, {total / took / 1e3:,.0f} k samples/s; "
              f"rollups {hourly / 1e6:,.1f} MB, {hourly / total:.2f} bytes per raw sample")  # fmt: skip
        _analyses(env, url, duck, "hour")
        _analyses(env, url, duck, "raw")  # after compact: each day one part


def _size(url: str, password: str, parent: str | None) -> int:
    """Bytes on disk of upid's tables (with their TOAST and indexes), or of one partitioned table's partitions."""
    import psycopg

    where = "n.nspname = 'upid' AND c.relkind = 'r'"
    if parent:
        where += f" AND c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'upid.{parent}'::regclass)"
    with psycopg.connect(url, password=password) as pg:
        row = pg.execute(f"SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                         f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {where}").fetchone()  # fmt: skip
    return int(row[0]) if row else 0


def _analyses(env: dict[str, str], url: str, duck: Path, resolution: str) -> None:
    times = {}
    for label, store in (("postgresql", url), ("duckdb", str(duck))):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "upid", "analyze", "--cluster", "c000", "-o", "json", "--resolution",
                        resolution, "--store", store], env=env, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        times[label] = time.perf_counter() - started
    print(f"analyze one cluster (500 containers x 14 d, --resolution {resolution}): PostgreSQL "
          f"{times['postgresql']:.2f} s, DuckDB {times['duckdb']:.2f} s: "
          f"{times['postgresql'] / times['duckdb']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
