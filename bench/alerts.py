"""Alert evaluation speed: one `upid alerts` run (every kind, with a budget and the anomaly band) against one
`upid analyze` over the same store and window, both as whole processes, in one run.

  small: 500 containers x 31 days at 5 minutes (August of the Bitbrains trace, as it is)
  large: 5,000 containers x 14 days (~20 M samples; bench/analyze.py's large store)

`upid alerts` reads the window once for the analysis (which the rules share), then the month so far and the
last 7 days for the budget, and computes upid top's hourly band for the anomaly kind. Reported: wall and peak
RSS of each, and the ratio of alerts to analyze.

    python bench/alerts.py [--sizes small,large] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analyze import prepare
from revisions import worktree

RULES = """budgets:
  - {name: all, monthly: 1000}
groups:
  - name: bench
    rules:
      - {alert: Oom, kind: oom_risk}
      - {alert: Cpu, kind: cpu_starved}
      - {alert: Idle, kind: idle}
      - {alert: Waste, kind: waste, params: {per: namespace, min_monthly: 0}}
      - {alert: Stale, kind: collect_stale}
      - {alert: Cap, kind: capacity}
      - {alert: Odd, kind: anomaly, params: {scope: workloads}}
      - {alert: Budget, kind: budget}
"""


def timed(home: Path, *args: str, code: Path | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `upid ARGS` process; `code`: another checkout's upid instead."""
    env = {**os.environ, "UPID_HOME": str(home), **({"PYTHONPATH": str(code)} if code else {})}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "upid", *args], env=env, stdout=subprocess.DEVNULL,
                            cwd=str(code) if code else None)  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 20):
        raise SystemExit(f"upid {' '.join(args)} failed with status {status}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def newest(home: Path) -> str:
    env = {**os.environ, "UPID_HOME": str(home)}
    out = subprocess.run([sys.executable, "-m", "upid", "storage", "status", "-o", "json"], env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    import json

    return str(json.loads(out)["clusters"][0]["last"])


def measure(home: Path, size: str, runs: int, code: Path | None = None) -> tuple[int, list[float]]:
    """Containers, then analyze's median wall and peak RSS and alerts' (the peak over runs after a first, untimed
    analyze: the first read after an import merges the import's batches)."""
    containers, _ = prepare(home, size, code)
    rules = home / "rules.yaml"
    rules.write_text(RULES)
    until = newest(home)
    analyze = ("analyze", "--history", "14d", "--until", until, "-o", "json")
    timed(home, *analyze, code=code)
    a, b = [], []
    for _ in range(runs):
        a.append(timed(home, *analyze, code=code))
        b.append(timed(home, "alerts", "--rules", str(rules), "--history", "14d", "--until", until, "-o", "json",
                       code=code))  # fmt: skip
    med = lambda xs: statistics.median(x for x, _ in xs)  # noqa: E731
    return containers, [med(a), max(r for _, r in a), med(b), max(r for _, r in b)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--against", metavar="REV", help="also measure this git revision, on a store it writes")
    args = parser.parse_args()
    with worktree(args.against) as old:
        run(args.sizes.split(","), args.runs, args.against, old)


def run(sizes: list[str], runs: int, against: str | None, old: Path | None) -> None:
    print(f"machine: {os.cpu_count()} cores; runs: {runs}, medians; alternating analyze and alerts")
    print(f"{'size':>6s} {'code':>10s} {'containers':>10s} {'analyze s':>9s} {'RSS':>7s} {'alerts s':>8s} {'RSS':>7s} "
          f"{'x':>5s}")  # fmt: skip
    for size in sizes:
        for label, code in [("this tree", None), *([(against, old)] if old else [])]:
            with tempfile.TemporaryDirectory(prefix="upid-bench-") as tmp:
                containers, (wa, ra, wb, rb) = measure(Path(tmp), size, runs, code)
            print(f"{size:>6s} {label:>10s} {containers:>10,d} {wa:>9.2f} {ra:>5.0f}MB {wb:>8.2f} {rb:>5.0f}MB "
                  f"{wb / wa:>5.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
