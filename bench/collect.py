"""Collect benchmark: one `upid storage collect` against the test API server at several cluster sizes.

The server (tests/kube, driven by the real Bitbrains trace) runs in its own process; the collect runs as a
whole process like cron runs it, after a first collect so that kubelet counters exist (the steady state).
Reported: wall time, the collect process's own CPU time (user + system: its cost without the server's,
which runs in another process and partly in parallel), the server's time answering (summed over its
threads, measured inside it), and the collect's peak RSS.

    python bench/collect.py [--sizes 500,5000,20000] [--pods-per-node 25]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"


def server_seconds(url: str) -> float:
    with urllib.request.urlopen(f"{url}/_test/stats") as r:
        return float(json.load(r)["handler_seconds"])


def collect_once(env: dict[str, str], kubeconfig: Path) -> tuple[float, float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "upid", "storage", "collect", "--kubeconfig", str(kubeconfig)], env=env
    )
    _, code, usage = os.wait4(proc.pid, 0)
    if code:
        raise SystemExit(f"collect failed with status {code}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def run(pods: int, nodes: int) -> dict[str, float]:
    sys.path.insert(0, str(TESTS))
    from kube.server import write_kubeconfig

    server = subprocess.Popen(
        [sys.executable, "-m", "kube", str(pods), str(nodes)],
        cwd=TESTS,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert server.stdout is not None and server.stdin is not None
    url = server.stdout.readline().strip()
    try:
        with tempfile.TemporaryDirectory(prefix="upid-bench-") as home:
            kubeconfig = write_kubeconfig(Path(home) / "kubeconfig", {"bench": url})
            env = {**os.environ, "UPID_HOME": home}
            collect_once(env, kubeconfig)  # the first collect: kubelet counters to difference against
            server.stdin.write("advance\n")
            server.stdin.flush()
            server.stdout.readline()
            before = server_seconds(url)
            wall, rss, cpu = collect_once(env, kubeconfig)
            served = server_seconds(url) - before
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    return {"wall": wall, "rss": rss, "server": served, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,5000,20000")
    parser.add_argument("--pods-per-node", type=int, default=25)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; one steady-state collect per size (kubelet Summary API path)")
    print(f"{'pods':>7s} {'nodes':>6s} {'wall s':>7s} {'collect CPU s':>14s} {'server s':>9s} {'peak RSS':>9s}")
    for pods in (int(x) for x in args.sizes.split(",")):
        nodes = max(1, pods // args.pods_per_node)
        r = run(pods, nodes)
        print(f"{pods:>7,d} {nodes:>6d} {r['wall']:>7.2f} {r['cpu']:>14.2f} {r['server']:>9.2f} {r['rss']:>7.0f}MB")


if __name__ == "__main__":
    main()
