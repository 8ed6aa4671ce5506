"""Start-up time of whole `upid` processes, and the size of the builds.

Three ways to run upid: the console script `pip install` puts on PATH, the one-folder build
(build/out/upid-onedir/upid) and the one-file build (dist/upid, which unpacks itself at every start).
Each command runs --runs times after one warm-up run; the median wall time is reported, with min and max.

    build/build.sh && python bench/startup.py [--runs 11]

Budgets (issue #10): --help and --version <= 0.3 s from pip and the one-folder build, <= 1.5 s from the one file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = (["--help"], ["--version"])
BUDGET = {"pip": 0.3, "onedir": 0.3, "onefile": 1.5}


def programs() -> dict[str, Path]:
    found = {
        "pip": Path(shutil.which("upid") or ""),
        "onedir": REPO / "build" / "out" / "upid-onedir" / "upid",
        "onefile": REPO / "dist" / "upid",
    }
    return {k: p for k, p in found.items() if p.name and p.is_file()}


def timed(argv: list[str], runs: int) -> list[float]:
    env = {**os.environ, "UPID_HOME": "/tmp/upid-bench-startup"}
    subprocess.run(argv, capture_output=True, env=env, check=True)  # warm-up: page cache, .pyc files
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=env, check=True)
        times.append(time.perf_counter() - start)
    return times


def size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    found = programs()
    print(f"{'build':8} {'command':10} {'median':>8} {'min':>7} {'max':>7}  budget")
    for kind, program in found.items():
        for command in COMMANDS:
            t = timed([str(program), *command], args.runs)
            median = statistics.median(t)
            verdict = "ok" if median <= BUDGET[kind] else "OVER"
            print(
                f"{kind:8} {' '.join(command):10} {median:7.3f}s {min(t):6.3f}s {max(t):6.3f}s  "
                f"<= {BUDGET[kind]} s {verdict}"
            )
    print()
    for label, path in (
        ("one file (dist/upid)", REPO / "dist" / "upid"),
        ("one folder, packed", next((REPO / "dist").glob("upid-*.tar.gz"), Path("/nonexistent"))),
        ("one folder, unpacked", REPO / "build" / "out" / "upid-onedir"),
    ):
        if path.exists():
            print(f"{label:22} {size(path) / 1e6:7.1f} MB  {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
