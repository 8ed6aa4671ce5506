"""Right-sizing evaluation on the real Bitbrains trace: does `upid` beat `krr-simple` and `vpa`?

For each month and split: the first SPLIT days are the history, imported with `upid storage import`;
`upid analyze -o json --strategy S` recommends; the rest of the month is the future it is scored on.
Each VM is a one-container workload whose provisioned cores and memory are its current request/limit;
a container left without a recommendation keeps them.

    cpu_save  = 1 - sum(recommended CPU request) / sum(provisioned cores)
    cpu_short = sum(max(0, usage - recommended request)) / sum(usage)          (future samples)
    mem_save  = 1 - sum(recommended memory limit) / sum(provisioned memory)
    mem_oom   = containers whose future peak memory exceeds the recommended limit

    python bench/rightsizing.py [--months 7,8] [--splits 21,14]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
from datasets import CACHE, write_bitbrains

STRATEGIES = ("krr-simple", "vpa", "upid")


def month_file(month: int) -> Path:
    path = CACHE / f"bitbrains-2013-{month}.parquet"
    if not path.exists():
        write_bitbrains(month, path)
    return path


def upid(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "upid", *args], env=env, check=True, capture_output=True, text=True
    ).stdout


def import_history(con: duckdb.DuckDBPyConnection, path: Path, split_ts: int, home: str) -> dict[str, str]:
    """Import the trace before `split_ts` into a store under `home` with `upid storage import`; its environment."""
    history = Path(home) / "history.parquet"
    con.execute(f"COPY (SELECT * FROM '{path}' WHERE epoch(timestamp) < {split_ts}) TO '{history}' (FORMAT parquet)")
    env = {**os.environ, "UPID_HOME": home}
    upid(env, "storage", "import", str(history), "--cluster", "bitbrains")
    return env


def future_of(path: Path, split_ts: int) -> dict[str, tuple[np.ndarray, np.ndarray, float, float]]:
    con = duckdb.connect()
    rows = con.execute(f"""SELECT workload, list(coalesce(cpu_cores, 0)), list(memory_bytes),
                                  any_value(cpu_request_cores), any_value(memory_limit_bytes)
                           FROM '{path}' WHERE epoch(timestamp) >= {split_ts} GROUP BY workload""").fetchall()
    return {r[0]: (np.asarray(r[1], float), np.asarray(r[2], float), float(r[3]), float(r[4])) for r in rows}


def score(doc: dict, future: dict) -> dict[str, float]:
    recs = {r["workload"]: r["recommended"] for r in doc["recommendations"]}
    rec_cpu = prov_cpu = short = used = rec_mem = prov_mem = 0.0
    ooms = 0
    for vm, (cpu, mem, cores, memory) in future.items():
        rec = recs.get(vm) or {}
        r_cpu = rec.get("cpu_request") or cores
        r_mem = rec.get("memory_limit") or memory
        rec_cpu, prov_cpu = rec_cpu + r_cpu, prov_cpu + cores
        short += np.maximum(cpu - r_cpu, 0).sum()
        used += cpu.sum()
        rec_mem, prov_mem = rec_mem + r_mem, prov_mem + memory
        ooms += int(mem.max() > r_mem)
    return {
        "cpu_save": 1 - rec_cpu / prov_cpu,
        "cpu_short": short / used,
        "mem_save": 1 - rec_mem / prov_mem,
        "mem_oom": ooms,
        "containers": len(future),
    }


def run(month: int, split_days: int) -> dict[str, dict[str, float]]:
    path = month_file(month)
    con = duckdb.connect()
    start = con.execute(f"SELECT epoch(min(timestamp))::BIGINT FROM '{path}'").fetchone()[0]
    split_ts = start + split_days * 86400
    results = {}
    with tempfile.TemporaryDirectory(prefix="upid-eval-") as home:
        env = import_history(con, path, split_ts, home)
        future = future_of(path, split_ts)
        for strategy in STRATEGIES:
            started = time.perf_counter()
            doc = json.loads(upid(env, "analyze", "--history", f"{split_days}d", "--strategy", strategy, "-o", "json"))
            results[strategy] = {**score(doc, future), "seconds": time.perf_counter() - started}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", default="7,8")
    parser.add_argument("--splits", default="21,14")
    args = parser.parse_args()
    print(
        f"{'month':>5s} {'history':>7s} {'strategy':>10s} {'cpu_save':>9s} {'cpu_short':>9s} {'mem_save':>9s} "
        f"{'mem_oom':>7s} {'analyze s':>9s}  vs krr-simple"
    )
    for month in (int(m) for m in args.months.split(",")):
        for split in (int(s) for s in args.splits.split(",")):
            results = run(month, split)
            krr = results["krr-simple"]
            for strategy, r in results.items():
                better = "".join(
                    "+" if w else ("=" if t else "-")
                    for w, t in (
                        (r["cpu_save"] > krr["cpu_save"], r["cpu_save"] == krr["cpu_save"]),
                        (r["cpu_short"] < krr["cpu_short"], r["cpu_short"] == krr["cpu_short"]),
                        (r["mem_save"] > krr["mem_save"], r["mem_save"] == krr["mem_save"]),
                        (r["mem_oom"] < krr["mem_oom"], r["mem_oom"] == krr["mem_oom"]),
                    )
                )
                print(
                    f"{month:>5d} {split:>6d}d {strategy:>10s} {r['cpu_save']:>9.4f} {r['cpu_short']:>9.4f} "
                    f"{r['mem_save']:>9.4f} {r['mem_oom']:>7d} {r['seconds']:>9.2f}  {better}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
