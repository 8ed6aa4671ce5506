"""`upid serve` against the same work done in-process, in one run: what HTTP, JSON and the server add.

On a store with the bundled sample (50 real VMs, 14 days, 201,175 samples) or --store PATH:
- analyze: the document built in-process (workflows + documents) against GET /api/v1/analyze, one client;
- the same with --clients concurrent clients (the server's worker slots bound the work);
- /metrics: the first scrape (every cluster analysed) against a cached one;
- export + pull: the whole cluster over /api/v1/export into a new store, against `storage copy` of it.
Medians of --runs runs after one warm-up; the ratios compare numbers of this run only.

    python bench/serve.py [--runs 7] [--clients 4] [--store PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def median_time(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=600) as r:
        return r.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--store", type=Path)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="upid-bench-serve-"))
    os.environ["UPID_HOME"] = str(home)
    from upid.analysis.document import analysis_document
    from upid.settings import load_settings
    from upid.store import open_store
    from upid.workflows.analyze import analyze
    from upid.workflows.demo import sample_path
    from upid.workflows.requests import Query, idle_policy, rightsizing_request

    store_path = args.store or home / "upid.duckdb"
    env = {**os.environ, "UPID_STORE": str(store_path)}
    if not args.store:
        subprocess.run([sys.executable, "-m", "upid", "storage", "import", str(sample_path()), "--cluster", "demo"],
                       check=True, env=env, capture_output=True)  # fmt: skip
    os.environ["UPID_STORE"] = str(store_path)
    settings = load_settings()

    def in_process() -> None:
        store = open_store(settings)
        with store.snapshot():
            request = rightsizing_request(settings, store, Query(), "upid")
            report, idle = analyze(store, request, idle_policy(settings))
            analysis_document(report, idle)

    log = home / "serve.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "upid", "serve", "--port", "0", "--workers", "2"],
                                stderr=err, stdout=subprocess.DEVNULL, env=env)  # fmt: skip
    try:
        while "serving on" not in log.read_text():
            time.sleep(0.05)
        url = log.read_text().split("serving on ", 1)[1].split()[0]
        status = orjson.loads(get(url + "/api/v1/storage/status"))
        samples, cluster = status["samples"], status["clusters"][0]["cluster"]
        direct = median_time(in_process, args.runs)
        http = median_time(lambda: get(url + "/api/v1/analyze"), args.runs)

        def burst() -> None:
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(lambda _: get(url + "/api/v1/analyze"), range(args.clients)))

        concurrent = median_time(burst, max(1, args.runs // 2))
        start = time.perf_counter()
        get(url + "/metrics")
        cold = time.perf_counter() - start
        warm = median_time(lambda: get(url + "/metrics"), args.runs)
        target = home / "pulled.duckdb"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "upid", "storage", "pull", url, "--cluster",
                        cluster,
                        "--store", str(target)], check=True, env=env, capture_output=True)  # fmt: skip
        pull = time.perf_counter() - start
        copy_target = home / "copied.duckdb"
        start = time.perf_counter()
        copy_argv = ["storage", "copy", "--from", str(store_path), "--to", str(copy_target)]
        subprocess.run([sys.executable, "-m", "upid", *copy_argv], check=True, env=env, capture_output=True)
        copy = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"store: {samples:,} samples; {args.runs} runs, medians; {os.cpu_count()} CPUs on the host")
    print(f"analyze in-process           {direct:7.3f} s")
    print(f"GET /api/v1/analyze          {http:7.3f} s   {http / direct:5.2f}x in-process")
    print(f"{args.clients} clients at once (2 workers) {concurrent:7.3f} s   {concurrent / http:5.2f}x one request")
    print(f"GET /metrics, first          {cold:7.3f} s   {cold / direct:5.2f}x analyze in-process")
    print(f"GET /metrics, cached         {warm:7.3f} s")
    print(f"storage pull (export+import) {pull:7.3f} s   {pull / copy:5.2f}x storage copy ({copy:.3f} s)")


if __name__ == "__main__":
    main()
