"""Forecasts on the real Bitbrains trace: accuracy chosen on one month and reported on the other, and speed
on a quiet and on a loaded machine.

Accuracy follows bench/holdout.py: each month is cut after 14 and 21 days; upid's forecast (its own functions,
as `upid forecast` runs them) sees the history before the cut and forecasts the next 7 days hourly; the trace's
hourly means are the truth. Per series:

    MASE      MAE(p50, truth) / MAE(seasonal naive, truth); seasonal naive repeats the history's last day or
              last week, whichever fitted the history's last week better (what a forecaster can know)
    coverage  share of the future hours at or under the p90

reported as the median MASE and the mean coverage over the series of a resource. The model settings
(upid.analysis.forecast.ModelSettings) are chosen on one month: among the candidates whose coverage is within
0.80-0.97 on every cut and resource, the one with the lowest worst median MASE; reported on the other month.

Speed: the whole `upid forecast -A --history 21d --horizon 7d -o json` process on August (500 containers x 21
days), on a quiet machine and while two CPU-bound processes run (started here, bounded, stopped after), and
the same for an earlier commit (`--baseline REV`, checked out in a temporary git worktree) in the same run.

    python bench/forecast.py [--baseline REV] [--skip-accuracy] [--skip-speed]
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from holdout import DAY, MONTHS, Cut, Direction, cross_month, cuts, month_start, month_store
from revisions import worktree

from upid.analysis.forecast import ModelSettings, forecast, hourly
from upid.cpus import thread_pools, usable_cpus
from upid.units import iso

HOURS = 168
GRID = {
    "max_leaf_nodes": (7, 31),
    "min_samples_leaf": (100, 400),
    "fallback_above": (1.0, float("inf")),
    "refit": (True, False),
}
COVERAGE = (0.80, 0.97)
REPO = Path(__file__).resolve().parents[1]


def naive(history: np.ndarray) -> np.ndarray:
    steps = np.arange(1, HOURS + 1)
    y = history
    day = y[len(y) - 1 + steps - 24 * np.ceil(steps / 24).astype(int)]
    week = y[len(y) - 1 + steps - HOURS]
    recent = y[-HOURS:]
    err_day = np.abs(recent - y[-HOURS - 24 : -24]).mean()
    err_week = np.abs(recent - y[-2 * HOURS : -HOURS]).mean()
    return week if err_week < err_day else day


def _truth(c: Cut) -> dict[tuple[str, str], np.ndarray]:
    first = c.end // 3600
    out = {}
    for w, f in c.future.items():
        hours = f.ts.astype(np.int64) // 3600 - first
        ok = (hours >= 0) & (hours < HOURS)
        counts = np.bincount(hours[ok], minlength=HOURS)[:HOURS]
        for resource, values in (("cpu", f.cpu), ("memory", f.memory)):
            sums = np.bincount(hours[ok], weights=values[ok], minlength=HOURS)[:HOURS]
            out[(w, resource)] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return out


def score_cut(c: Cut, settings: ModelSettings) -> dict[str, float]:
    series = [hourly(h, r, c.end) for h in c.histories for r in ("cpu", "memory")]
    with thread_pools(usable_cpus()):
        forecasts = forecast(series, HOURS, settings=settings)
    truth, past = _truth(c), {(s.key[2], s.resource): s.values for s in series}
    out: dict[str, float] = {}
    for resource in ("cpu", "memory"):
        mases, covered = [], []
        for f in (f for f in forecasts if f.resource == resource):
            y, hist = truth.get((f.key[2], resource)), past[(f.key[2], resource)]
            if y is None or len(hist) < 2 * HOURS:
                continue
            seen = ~np.isnan(y)
            base = np.abs(naive(hist) - y)[seen].mean()
            covered.append(float(np.mean(y[seen] <= f.p90[seen])))
            if base > 0:
                mases.append(np.abs(f.p50 - y)[seen].mean() / base)
        out[f"{resource}_mase_{c.split_days}d"] = float(np.median(mases))
        out[f"{resource}_coverage_{c.split_days}d"] = float(np.mean(covered))
    return out


def _choose(scored: list[tuple[object, dict[str, float]]], month: int) -> object:
    def covered(s: dict[str, float]) -> bool:
        return all(COVERAGE[0] <= v <= COVERAGE[1] for k, v in s.items() if "_coverage_" in k)

    def worst(s: dict[str, float]) -> float:
        return max(v for k, v in s.items() if "_mase_" in k)

    return min([cs for cs in scored if covered(cs[1])] or scored, key=lambda cs: worst(cs[1]))[0]


def _line(d: Direction) -> str:
    chosen = ", ".join(f"{k}={v:g}" for k, v in d.chosen)
    cells = "  ".join(f"{k} {d.out_of_sample[k]:.3f} ({d.in_sample[k]:.3f})" for k in sorted(d.out_of_sample))
    return (
        f"  chosen on 2013-{d.tuned_on:02d} -> reported on 2013-{d.reported_on:02d} [{chosen}]\n"
        f"    out of sample (in-sample in brackets): {cells}"
    )


def accuracy() -> None:
    data = cuts()
    candidates = [tuple(zip(GRID, v, strict=True)) for v in itertools.product(*GRID.values())]

    def evaluate(candidate: tuple, month: int) -> dict[str, float]:
        settings = ModelSettings(**dict(candidate))
        out: dict[str, float] = {}
        for c in data[month]:
            out |= score_cut(c, settings)
        return out

    print(f"model settings: coverage within {COVERAGE} everywhere, then the lowest worst median MASE", flush=True)
    for d in cross_month(candidates, evaluate, _choose):
        print(_line(d), flush=True)
    print("shipped defaults (ModelSettings()):")
    for month in MONTHS:
        s = evaluate(tuple(vars(ModelSettings()).items()), month)
        print(f"  2013-{month:02d}: " + "  ".join(f"{k} {v:.3f}" for k, v in sorted(s.items())), flush=True)


@contextmanager
def busy(n: int, seconds: float = 900.0):
    """`n` CPU-bound processes (a Python busy loop each), stopped on exit or after `seconds` whatever happens."""
    loop = f"import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"
    procs = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def settle(limit: float = 180.0) -> float:
    """Wait (at most `limit` seconds) for the 1-minute load average to fall under 0.5, so that a quiet run is
    quiet and sizes its threads as on an idle machine; returns the load it started at."""
    deadline = time.monotonic() + limit
    while os.getloadavg()[0] >= 0.5 and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()[0]


def _timed(python_path: Path, env: dict[str, str], until: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "upid", "forecast", "-A", "--history", "21d", "--until", until, "-o", "json"],
        env={**env, "PYTHONPATH": str(python_path)},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=python_path,
    )
    return time.perf_counter() - started


def speed(baseline: str | None) -> None:
    home = month_store(8)
    until = iso((month_start(8) + 21 * DAY) // 3600 * 3600)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"} | {"UPID_HOME": str(home)}
    trees = [("this tree", REPO)]
    with worktree(baseline) as base:
        if base is not None:
            trees.append((f"baseline {baseline}", base))
        _timed(REPO, env, until)  # warm the page cache: the store and the packages
        print(f"speed: `upid forecast -A --history 21d` on 2013-08, 500 containers x 21 days, {os.cpu_count()} CPUs")
        for label, tree in trees:
            load = settle()
            quiet = _timed(tree, env, until)
            with busy(2):
                time.sleep(10)  # the load average sees them: the run sizes its threads as it would there
                loaded = _timed(tree, env, until)
            print(f"  {label:>24s}: quiet {quiet:6.1f} s (load {load:.2f} at start)  with 2 CPU-bound processes "
                  f"{loaded:6.1f} s  (x{loaded / quiet:.2f})", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="an earlier commit to time in the same run")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    if not args.skip_speed:
        speed(args.baseline)
    if not args.skip_accuracy:
        accuracy()


if __name__ == "__main__":
    main()
