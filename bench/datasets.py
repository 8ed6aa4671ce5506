"""Convert the real public traces in ../shared/data into upid's canonical import format.

Bitbrains GWA-T-12 "Rnd" (Shen, van Beek, Iosup, CCGrid 2015; Bitbrains IT Services): each VM becomes
one single-container pod of its own workload (namespace ``bitbrains``, workload = pod = ``vm-<id>``,
container ``main``); the VM's provisioned cores and RAM (the per-VM median, since capacities drift) are
its request and limit. Rows the trace itself marks as glitches (zero capacity) are dropped and
(vm, timestamp) duplicates collapse to one; both are counted by the import, not hidden here.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import duckdb

SHARED = Path(os.environ.get("UPID_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
CACHE = Path(os.environ.get("UPID_BENCH_CACHE", "/tmp/upid-bench"))


def bitbrains_month_dir(month: int) -> Path:
    """Unpack rnd-2013-<month>.tar.xz once into the cache and return the folder of <vm>.csv files."""
    out = CACHE / "bitbrains"
    target = out / f"2013-{month}"
    if not (target / "500.csv").exists():
        archive = SHARED / "bitbrains-rnd" / f"rnd-2013-{month}.tar.xz"
        if not archive.exists():
            raise SystemExit(f"error: {archive} not found (the raw traces live in ../shared/data)")
        out.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(out, filter="data")
    return target


def bitbrains_sql(month_dir: Path, vms: list[int] | None = None, days: float | None = None) -> str:
    """SQL that yields the canonical columns for one month of the trace."""
    files = [str(month_dir / f"{v}.csv") for v in vms] if vms else [str(month_dir / "*.csv")]
    file_list = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    raw = f"""
      SELECT CAST(regexp_extract(filename, '(\\d+)\\.csv$', 1) AS INTEGER) AS vm,
             CAST(trim(column00) AS BIGINT) AS ts,
             CAST(trim(column01) AS DOUBLE) AS cores,
             CAST(trim(column02) AS DOUBLE) AS cap_mhz,
             CAST(trim(column03) AS DOUBLE) AS use_mhz,
             CAST(trim(column05) AS DOUBLE) AS mem_cap_kb,
             CAST(trim(column06) AS DOUBLE) AS mem_use_kb,
             CAST(trim(column09) AS DOUBLE) AS net_rx_kbs,
             CAST(trim(column10) AS DOUBLE) AS net_tx_kbs
      FROM read_csv({file_list}, delim=';', header=false, skip=1, all_varchar=true,
                    filename=true, null_padding=true)
    """
    horizon = f"WHERE ts < (SELECT min(ts) FROM raw) + {int(days * 86400)}" if days else ""
    return f"""
      WITH raw AS ({raw}),
      clean AS (SELECT * FROM raw {horizon}),
      prov AS (
        SELECT vm, median(cores) FILTER (WHERE cores > 0) AS cores,
               median(mem_cap_kb) FILTER (WHERE mem_cap_kb > 0) AS mem_kb
        FROM clean GROUP BY vm)
      SELECT to_timestamp(c.ts) AS timestamp,
             'bitbrains' AS namespace,
             'vm-' || c.vm AS pod,
             'main' AS container,
             'Deployment' AS workload_kind,
             'vm-' || c.vm AS workload,
             CASE WHEN c.cap_mhz > 0 THEN c.use_mhz / (c.cap_mhz / c.cores) END AS cpu_cores,
             CAST(round(c.mem_use_kb * 1024) AS BIGINT) AS memory_bytes,
             p.cores AS cpu_request_cores,
             p.cores AS cpu_limit_cores,
             CAST(p.mem_kb * 1024 AS BIGINT) AS memory_request_bytes,
             CAST(p.mem_kb * 1024 AS BIGINT) AS memory_limit_bytes,
             c.net_rx_kbs * 1024 AS network_rx_bytes_per_s,
             c.net_tx_kbs * 1024 AS network_tx_bytes_per_s
      FROM clean c JOIN prov p USING (vm)
      WHERE c.cores > 0 AND c.mem_cap_kb > 0
      ORDER BY c.vm, c.ts
    """


def month_file(month: int) -> Path:
    """One month of the trace as canonical Parquet in the cache, written on first use."""
    path = CACHE / f"bitbrains-2013-{month}.parquet"
    if not path.exists():
        write_bitbrains(month, path)
    return path


def write_bitbrains(month: int, out: Path, vms: list[int] | None = None, days: float | None = None) -> int:
    """Write one month of the trace as a canonical CSV(.gz) or Parquet file; returns the row count."""
    out.parent.mkdir(parents=True, exist_ok=True)
    sql = bitbrains_sql(bitbrains_month_dir(month), vms, days)
    if out.suffix == ".parquet":
        opts = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 19"
    else:
        opts = "FORMAT csv, HEADER true" + (", COMPRESSION gzip" if out.name.endswith(".gz") else "")
    con = duckdb.connect()
    con.execute(f"COPY ({sql}) TO '{out}' ({opts})")
    return int(con.execute(f"SELECT count(*) FROM '{out}'").fetchone()[0])


if __name__ == "__main__":  # pragma: no cover - manual use
    import sys

    month, path = int(sys.argv[1]), Path(sys.argv[2])
    print(write_bitbrains(month, path), "rows ->", path)
    subprocess.run(["ls", "-la", str(path)], check=False)
