"""Many clusters in one file: `upid storage import` of N rows spread over N clusters, against the same N rows in
one cluster, as whole processes into fresh stores, optionally against a previous version of upid (a git worktree
of REV, run from the same interpreter) in the same run.

    python bench/clusters.py [--clusters 500] [--runs 3] [--against REV]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START = 1_767_225_600  # 2026-01-01T00:00:00Z


def write_rows(path: Path, rows: int, clusters: int) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "cluster", "namespace", "pod", "container", "cpu_cores", "memory_bytes"])
        for i in range(rows):
            w.writerow([START + i * 300, f"c{i % clusters}", "shop", f"web-{i % 7}", "app", 0.25, 2**28])
    return path


def timed_import(code: Path, path: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="upid-bench-") as home:
        env = {**os.environ, "UPID_HOME": home, "PYTHONPATH": str(code)}
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "upid", "storage", "import", str(path)],
            env=env,
            cwd=code,
            check=True,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clusters", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--against", metavar="REV", help="also time this git revision of upid")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="upid-bench-data-") as tmp:
        work = Path(tmp)
        many = write_rows(work / "many.csv", args.clusters, args.clusters)
        one = write_rows(work / "one.csv", args.clusters, 1)
        versions = {"this tree": REPO}
        if args.against:
            old = work / "old"
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(old), args.against],
                           check=True, capture_output=True)  # fmt: skip
            versions[args.against] = old
        try:
            print(f"{args.clusters} rows; median of {args.runs} runs, wall seconds of the whole process")
            print(f"{'version':<14} {'1 cluster':>10} {f'{args.clusters} clusters':>14} {'ratio':>7}")
            for name, code in versions.items():
                a = statistics.median(timed_import(code, one) for _ in range(args.runs))
                b = statistics.median(timed_import(code, many) for _ in range(args.runs))
                print(f"{name:<14} {a:>10.2f} {b:>14.2f} {b / a:>7.1f}")
        finally:
            if args.against:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(work / "old")],
                               check=False, capture_output=True)  # fmt: skip


if __name__ == "__main__":
    main()
