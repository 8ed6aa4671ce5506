"""Hourly rollups against raw samples, on the real Bitbrains trace (both months, 500 VMs each, 5-minute samples):
the error of the p95 and the max of CPU and memory read from merged hourly histograms (upid/analysis/rollup.py)
against the same statistics over the raw samples, over the whole month and over its last 7 days, and the bytes a
rolled-up hour takes as zstd Parquet. A container whose raw p95 is under the first bucket (10 millicores, 10 MB)
is reported by absolute error, not relative.

    python bench/rollups.py [--months 7,8]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import duckdb
import numpy as np
from datasets import month_file

from upid.analysis.rollup import CPU_BUCKETS, MEMORY_BUCKETS, peak, quantile, roll_up


def _series(month: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    con = duckdb.connect()
    rows = con.execute(f"""SELECT pod, list(epoch(timestamp)::BIGINT ORDER BY timestamp),
                           list(cpu_cores ORDER BY timestamp), list(memory_bytes ORDER BY timestamp)
                           FROM '{month_file(month)}' GROUP BY pod ORDER BY pod""").fetchall()
    return [(np.asarray(t), np.asarray(c, dtype=float), np.asarray(m, dtype=float)) for _, t, c, m in rows]


def _errors(raw: list[float], rolled: list[float], floor: float) -> tuple[np.ndarray, int, float]:
    """Relative errors at or above `floor`; below it, how many and their largest absolute error."""
    r, g = np.asarray(raw), np.asarray(rolled)
    big = r >= floor
    small = np.abs(g[~big] - r[~big])
    return np.abs(g[big] - r[big]) / r[big], int((~big).sum()), float(small.max()) if len(small) else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--months", default="7,8")
    args = ap.parse_args()
    print(f"{'month':>5} {'window':>6} {'resource':>8} {'containers':>10} {'p95 err median':>14} {'p95 err p95':>11} "
          f"{'p95 err max':>11} {'under floor (abs err)':>21} {'max exact':>9}")  # fmt: skip
    for month in (int(m) for m in args.months.split(",")):
        series = _series(month)
        rollups = [(roll_up(t, c, CPU_BUCKETS), roll_up(t, m, MEMORY_BUCKETS), t, c, m) for t, c, m in series]
        for window in ("month", "7d"):
            for resource, buckets, floor in (("cpu", CPU_BUCKETS, 0.02), ("memory", MEMORY_BUCKETS, 2**20 * 20)):
                raw_p95, got_p95, exact = [], [], 0
                for cpu_r, mem_r, t, c, m in rollups:
                    r, values = (cpu_r, c) if resource == "cpu" else (mem_r, m)
                    if window == "month":
                        sel, hours = slice(None), None
                    else:
                        start = int(t.max()) - 7 * 86400
                        first_hour = int(np.searchsorted(r.hours, start // 3600 + 1))
                        sel, hours = t >= (start // 3600 + 1) * 3600, slice(first_hour, None)
                    raw_p95.append(float(np.percentile(values[sel], 95)))
                    got_p95.append(quantile(r, 95, buckets, hours))
                    exact += peak(r, hours) == float(values[sel].max())
                err, under, small = _errors(raw_p95, got_p95, floor)
                print(f"{month:>5} {window:>6} {resource:>8} {len(rollups):>10} {np.median(err):>14.4f} "
                      f"{np.percentile(err, 95):>11.4f} {err.max():>11.4f} {under:>5} ({small:.4g}) "
                      f"{exact:>4}/{len(rollups)}")  # fmt: skip
        _size(month, rollups)


def _size(month: int, rollups: list) -> None:
    """Every series' rolled-up hours as one table, written as zstd Parquet: bytes per series-hour."""
    rows = {"series": [], "hour": [], "count": [], "sum_cpu": [], "max_cpu": [], "sum_mem": [], "max_mem": [],
            "cpu_buckets": [], "cpu_counts": [], "mem_buckets": [], "mem_counts": []}  # fmt: skip
    for s, (cpu_r, mem_r, *_rest) in enumerate(rollups):
        for h in range(len(cpu_r.hours)):
            cc, mc = cpu_r.cells[cpu_r.cells[:, 0] == h], mem_r.cells[mem_r.cells[:, 0] == h]
            rows["series"].append(s)
            rows["hour"].append(int(cpu_r.hours[h]))
            rows["count"].append(int(cpu_r.count[h]))
            rows["sum_cpu"].append(float(cpu_r.total[h]))
            rows["max_cpu"].append(float(cpu_r.peak[h]))
            rows["sum_mem"].append(float(mem_r.total[h]))
            rows["max_mem"].append(float(mem_r.peak[h]))
            rows["cpu_buckets"].append(cc[:, 1].tolist())
            rows["cpu_counts"].append(cc[:, 2].tolist())
            rows["mem_buckets"].append(mc[:, 1].tolist())
            rows["mem_counts"].append(mc[:, 2].tolist())
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "rollups.parquet"
        import pyarrow as pa

        con = duckdb.connect()

        table = pa.table(rows)
        con.register("t", table)
        con.execute(f"""COPY (SELECT series::INTEGER AS series, hour::INTEGER AS hour, count::USMALLINT AS count,
                        sum_cpu::FLOAT AS sum_cpu, max_cpu::FLOAT AS max_cpu, sum_mem::FLOAT AS sum_mem,
                        max_mem::FLOAT AS max_mem, cpu_buckets::USMALLINT[] AS cpu_buckets,
                        cpu_counts::USMALLINT[] AS cpu_counts, mem_buckets::USMALLINT[] AS mem_buckets,
                        mem_counts::USMALLINT[] AS mem_counts FROM t ORDER BY series, hour)
                        TO '{target}' (FORMAT parquet, COMPRESSION zstd)""")  # fmt: skip
        size = target.stat().st_size
        samples = sum(int(r[0].count.sum()) for r in rollups)
        hours = len(rows["hour"])
        print(f"{month:>5} size: {hours:,} series-hours in {size:,} bytes: {size / hours:.1f} bytes per rolled-up "
              f"hour ({samples / hours:.1f} samples each; the raw samples take ~4 bytes each)")  # fmt: skip


if __name__ == "__main__":
    main()
