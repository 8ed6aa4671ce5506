"""Idle detection evaluated on the real Bitbrains trace: precision first.

For each month: the first 21 days are the history, imported with `upid storage import`;
`upid idle -o json` flags workloads (default policy: --min-idle 24h, --min-confidence 0.8;
--history 21d). Truth comes from the rest of the month: a VM that stays idle has CPU p99 under 2 % of
its provisioned cores and network p99 under 2 KiB/s (the issue's definition, with "near zero" network
made a number). Also runs on the Alibaba GenAI pod trace (memory only, 23 h: too short for the 24 h
default, so --min-idle 6h and no confidence threshold, since confidence is full only after a week),
and reports what it finds there.

    python bench/idle.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import duckdb
from datasets import CACHE, SHARED, write_bitbrains

SPLIT_DAYS = 21


def upid(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "upid", *args], env=env, check=True, capture_output=True, text=True
    ).stdout


def bitbrains(month: int) -> dict[str, float]:
    path = CACHE / f"bitbrains-2013-{month}.parquet"
    if not path.exists():
        write_bitbrains(month, path)
    con = duckdb.connect()
    start = con.execute(f"SELECT epoch(min(timestamp))::BIGINT FROM '{path}'").fetchone()[0]
    split = start + SPLIT_DAYS * 86400
    truth = {
        w: bool(idle)
        for w, idle in con.execute(f"""
        SELECT workload, quantile_cont(coalesce(cpu_cores, 0), 0.99) < 0.02 * any_value(cpu_request_cores)
               AND quantile_cont(coalesce(network_rx_bytes_per_s, 0) + coalesce(network_tx_bytes_per_s, 0), 0.99) < 2048
        FROM '{path}' WHERE epoch(timestamp) >= {split} GROUP BY workload HAVING count(*) >= 100""").fetchall()
    }
    with tempfile.TemporaryDirectory(prefix="upid-idle-") as home:
        history = Path(home) / "history.parquet"
        con.execute(f"COPY (SELECT * FROM '{path}' WHERE epoch(timestamp) < {split}) TO '{history}' (FORMAT parquet)")
        env = {**os.environ, "UPID_HOME": home}
        upid(env, "storage", "import", str(history))
        doc = json.loads(upid(env, "idle", "--history", f"{SPLIT_DAYS}d", "-o", "json"))
    flagged = {i["workload"] for i in doc["idle"] if i["schedule"] is None} & set(truth)
    schedules = sum(i["schedule"] is not None for i in doc["idle"])
    tp = sum(truth[w] for w in flagged)
    fp = len(flagged) - tp
    fn = sum(truth.values()) - tp
    return {
        "workloads": len(truth),
        "truly_idle": sum(truth.values()),
        "flagged": len(flagged),
        "tp": tp,
        "fp": fp,
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "schedules": schedules,
    }


def alibaba() -> str:
    archive = SHARED / "alibaba-genai-pod-memory" / "pod_memory_util_anon.tar.gz"
    target = CACHE / "alibaba" / "pod_memory_util_anon.csv"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(target.parent, filter="data")
    with tempfile.TemporaryDirectory(prefix="upid-idle-") as home:
        canonical = Path(home) / "alibaba.parquet"
        # memory utilisation is a share of an unknown limit: scaled to a nominal 16 GiB; no CPU is in the trace,
        # so CPU is recorded as 0 and only the memory signals say anything
        duckdb.connect().execute(f"""COPY (SELECT to_timestamp(timestamp_anon) AS timestamp, 'genai' AS namespace,
                'pod-' || left(container_ip, 10) AS pod, 'main' AS container, 0.0 AS cpu_cores,
                CAST(greatest(value, 0) * 16 * 1024 * 1024 * 1024 AS BIGINT) AS memory_bytes
            FROM '{target}') TO '{canonical}' (FORMAT parquet)""")
        env = {**os.environ, "UPID_HOME": home}
        upid(env, "storage", "import", str(canonical))
        doc = json.loads(
            upid(env, "idle", "--history", "2d", "--min-idle", "6h", "--min-confidence", "0", "-o", "json")
        )
    flagged = [i for i in doc["idle"] if i["schedule"] is None]
    return (
        f"{len(flagged)} of 207 pods flagged: the trace has no CPU (recorded as 0, so the CPU test "
        "passes vacuously) and 23 h is too short to judge memory growth (fewer than 3 daily peaks); on this "
        "trace the flags say only that network was not measured and CPU is unknown"
    )


def main() -> None:
    print(
        f"{'month':>5s} {'workloads':>9s} {'truly idle':>10s} {'flagged':>7s} {'tp':>4s} {'fp':>4s} "
        f"{'precision':>9s} {'recall':>6s} {'schedules':>9s}"
    )
    for month in (7, 8):
        r = bitbrains(month)
        print(
            f"{month:>5d} {r['workloads']:>9d} {r['truly_idle']:>10d} {r['flagged']:>7d} {r['tp']:>4d} {r['fp']:>4d} "
            f"{r['precision']:>9.3f} {r['recall']:>6.3f} {r['schedules']:>9d}",
            flush=True,
        )
    print("alibaba GenAI pods:", alibaba())


if __name__ == "__main__":
    main()
