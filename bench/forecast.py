"""Forecast evaluation on the real Bitbrains trace: train on the first three weeks, forecast the fourth.

The history (days 0-21) is imported with `upid storage import`; `upid forecast -A --history 21d --horizon 7d
-o json` forecasts every VM's CPU and memory hourly; the next 7 days of the trace are the truth. Scored here,
independently of upid's own backtest:

    MASE     = MAE(p50, truth) / MAE(seasonal naive, truth) per series; seasonal naive repeats the history's
               last day or last week (whichever fitted the history's last week better), as upid defines it
    coverage = share of the future hours at or under the p90

    python bench/forecast.py [--months 7,8] [--split 21]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
from rightsizing import import_history, month_file, upid

HOURS = 168


def hourly(con: duckdb.DuckDBPyConnection, path: Path, lo: int, hi: int) -> dict[tuple[str, str], np.ndarray]:
    """Hourly mean per VM and resource over [lo, hi) (epoch hours), NaN where the trace has no sample."""
    rows = con.execute(f"""SELECT workload, epoch(timestamp)::BIGINT // 3600 AS h,
                                  avg(coalesce(cpu_cores, 0)), avg(memory_bytes)
                           FROM '{path}' WHERE h >= {lo} AND h < {hi} GROUP BY ALL""").fetchall()
    out: dict[tuple[str, str], np.ndarray] = {}
    for vm, h, cpu, mem in rows:
        for resource, value in (("cpu", cpu), ("memory", mem)):
            out.setdefault((vm, resource), np.full(hi - lo, np.nan))[h - lo] = value
    return out


def naive(history: np.ndarray) -> np.ndarray:
    y = np.where(np.isnan(history), np.nanmean(history), history)
    steps = np.arange(1, HOURS + 1)
    day = y[len(y) - 1 + steps - 24 * np.ceil(steps / 24).astype(int)]
    week = y[len(y) - 1 + steps - HOURS]
    recent = y[-HOURS:]
    err_day = np.abs(recent - y[-HOURS - 24 : -24]).mean()
    err_week = np.abs(recent - y[-2 * HOURS : -HOURS]).mean()
    return week if err_week < err_day else day


def run(month: int, split_days: int) -> dict[str, object]:
    path = month_file(month)
    con = duckdb.connect()
    start = con.execute(f"SELECT epoch(min(timestamp))::BIGINT FROM '{path}'").fetchone()[0]
    split_ts = (start + split_days * 86400) // 3600 * 3600
    with tempfile.TemporaryDirectory(prefix="upid-forecast-") as home:
        env = import_history(con, path, split_ts, home)
        started = time.perf_counter()
        doc = json.loads(upid(env, "forecast", "-A", "--history", f"{split_days}d", "--horizon", "7d", "-o", "json"))
        seconds = time.perf_counter() - started
    first = split_ts // 3600
    past = hourly(con, path, first - split_days * 24, first)
    future = hourly(con, path, first, first + HOURS)
    results: dict[str, object] = {"seconds": seconds, "containers": len({f["workload"] for f in doc["forecasts"]})}
    for resource in ("cpu", "memory"):
        mases, covered, model_mases = [], [], []
        models: Counter[str] = Counter()
        for f in (f for f in doc["forecasts"] if f["resource"] == resource):
            key = (f["workload"], resource)
            truth, hist = future.get(key), past.get(key)
            if truth is None or hist is None or np.isnan(hist).all():
                continue
            assert f["points"][0]["timestamp"].startswith(time.strftime("%Y-%m-%dT%H", time.gmtime(split_ts)))
            p50 = np.array([p["p50"] for p in f["points"]], float)
            p90 = np.array([p["p90"] for p in f["points"]], float)
            seen = ~np.isnan(truth)
            base = np.abs(naive(hist) - truth)[seen].mean()
            models[f["model"]] += 1
            if f["backtest"]["model_mase"] is not None:
                model_mases.append(f["backtest"]["model_mase"])
            covered.append(float(np.mean(truth[seen] <= p90[seen])))
            if base > 0:
                mases.append(np.abs(p50 - truth)[seen].mean() / base)
        results[resource] = {
            "median_mase": float(np.median(mases)),
            "mean_mase": float(np.mean(mases)),
            "beats_naive": float(np.mean(np.array(mases) < 1)),
            "p90_coverage": float(np.mean(covered)),
            "backtest_median_model_mase": float(np.median(model_mases)) if model_mases else None,
            "models": dict(models),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", default="7,8")
    parser.add_argument("--split", type=int, default=21)
    args = parser.parse_args()
    for month in (int(m) for m in args.months.split(",")):
        r = run(month, args.split)
        print(f"month {month}: {r['containers']} containers, `upid forecast` {r['seconds']:.1f} s wall")
        for resource in ("cpu", "memory"):
            x = r[resource]
            print(
                f"  {resource:6s} median MASE {x['median_mase']:.3f} (mean {x['mean_mase']:.3f}, "
                f"{x['beats_naive'] * 100:.0f} % of series < 1)  p90 coverage {x['p90_coverage'] * 100:.1f} %  "
                f"backtest median model MASE {x['backtest_median_model_mase']}  models {x['models']}",
                flush=True,
            )


if __name__ == "__main__":
    main()
