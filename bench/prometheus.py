"""Import speed from Prometheus: 1,000 containers x 14 days at a 5-minute step, against a local Prometheus
(Debian's package) whose TSDB promtool backfilled from the real Bitbrains trace.

Data: the first 14 days of each VM's July and August 2013 traces (500 VMs each; ../shared/data), all moved to
start on 2013-08-01, as 1,000 single-container Deployment pods in 20 namespaces. Scraped every 300 s: cAdvisor's CPU,
working-set memory and network counters, kube-state-metrics' requests, limits, restart counters, owners and
pod info. The OpenMetrics file is written by DuckDB and the TSDB is cached in $UPID_BENCH_CACHE (one-time
set-up of several minutes). The import runs as a whole `upid` process into an empty store; Prometheus' peak RSS
(VmHWM) is read before and after it.

    python bench/prometheus.py [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
from datasets import CACHE, month_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from prom import server  # noqa: E402  (the tests' Prometheus runner)

BASE = 1375315200  # 2013-08-01T00:00:00Z
DAYS = 14
SCRAPE = 300
BLOCK = 7200  # Prometheus' block length: BASE is a multiple of it


def openmetrics(out: Path) -> int:
    """The OpenMetrics text, written by DuckDB (one family after another, each series in time order)."""
    con = duckdb.connect()
    con.execute(f"""CREATE TABLE g AS
        WITH src AS (
            SELECT 'j' AS m, * FROM read_parquet('{month_file(7)}') UNION ALL
            SELECT 'a' AS m, * FROM read_parquet('{month_file(8)}')),
        t AS (SELECT m, pod, epoch(timestamp)::BIGINT AS ts, cpu_cores, memory_bytes, cpu_request_cores,
                     cpu_limit_cores, memory_request_bytes, memory_limit_bytes,
                     coalesce(network_rx_bytes_per_s, 0) AS rx, coalesce(network_tx_bytes_per_s, 0) AS tx,
                     min(epoch(timestamp)::BIGINT) OVER (PARTITION BY m, pod) AS first FROM src),
        slot AS (SELECT *, {BASE} + round((ts - first) / {SCRAPE})::BIGINT * {SCRAPE} AS sts FROM t)
        SELECT m || (hash(pod) % 10)::VARCHAR AS ns, pod || '-7d9f8-' || m AS rs, pod || '-7d9f8-' || m || '-x' AS p,
               pod || '-' || m AS deploy, sts,
               any_value(coalesce(cpu_cores, 0)) AS cpu, any_value(memory_bytes) AS mem, any_value(rx) AS rx,
               any_value(tx) AS tx, any_value(cpu_request_cores) AS rcpu, any_value(cpu_limit_cores) AS lcpu,
               any_value(memory_request_bytes) AS rmem, any_value(memory_limit_bytes) AS lmem
        FROM slot WHERE sts < {BASE + DAYS * 86400} GROUP BY ALL""")
    con.execute("""CREATE TABLE c AS SELECT *,
        sum(cpu * 300) OVER w AS cpu_total, sum(rx * 300) OVER w AS rx_total, sum(tx * 300) OVER w AS tx_total
        FROM g WINDOW w AS (PARTITION BY p ORDER BY sts)""")
    sel = "namespace=\"' || ns || '\",pod=\"' || p || '\""
    families = [
        ("container_cpu_usage_seconds_total", f"'{{{sel},container=\"main\"}} ' || cpu_total", "c"),
        ("container_memory_working_set_bytes", f"'{{{sel},container=\"main\"}} ' || mem", "c"),
        ("container_network_receive_bytes_total", f"'{{{sel},interface=\"eth0\"}} ' || rx_total", "c"),
        ("container_network_transmit_bytes_total", f"'{{{sel},interface=\"eth0\"}} ' || tx_total", "c"),
        ("kube_pod_container_status_restarts_total", f"'{{{sel},container=\"main\"}} 0'", "c"),
        ("kube_pod_owner", f"'{{{sel},owner_kind=\"ReplicaSet\",owner_name=\"' || rs || '\"}} 1'", "h"),
        ("kube_replicaset_owner", "'{namespace=\"' || ns || '\",replicaset=\"' || rs || "
         "'\",owner_kind=\"Deployment\",owner_name=\"' || deploy || '\"} 1'", "h"),
        ("kube_pod_info", f"'{{{sel},node=\"node-' || (hash(p) % 40)::VARCHAR || '\"}} 1'", "h"),
    ]  # fmt: skip
    for metric, resource_name, unit, col in (
        ("requests", "cpu", "core", "rcpu"), ("requests", "memory", "byte", "rmem"),
        ("limits", "cpu", "core", "lcpu"), ("limits", "memory", "byte", "lmem"),
    ):  # fmt: skip
        families.append((
            f"kube_pod_container_resource_{metric}",
            f"'{{{sel},container=\"main\",resource=\"{resource_name}\",unit=\"{unit}\"}} ' || {col}",
            "c",
        ))  # fmt: skip
    parts = []
    for n, (name, body, every) in enumerate(families):
        where = "" if every == "c" else "WHERE sts % 3600 = 0"
        parts.append(f"SELECT {n} AS f, '' AS k, -1 AS sts, '# TYPE {name} gauge' AS line")
        parts.append(f"SELECT {n}, p, sts, '{name}' || {body} || ' ' || sts FROM c {where}")
    con.execute(f"CREATE VIEW lines AS {' UNION ALL '.join(parts)}")
    out.mkdir(parents=True, exist_ok=True)
    for window in range(BASE, BASE + DAYS * 86400, BLOCK):  # one file per TSDB block (see tsdb())
        raw, text = out / f"{window}.raw", out / f"{window}.om"
        con.execute(
            f"COPY (SELECT line FROM (SELECT * FROM lines WHERE sts = -1 OR sts BETWEEN {window} AND "
            f"{window + BLOCK - 1} UNION ALL SELECT {len(families)}, '', 0, '# EOF') ORDER BY f, k, sts) TO '{raw}' "
            f"(FORMAT csv, HEADER false, DELIMITER '{chr(1)}', QUOTE '{chr(2)}', ESCAPE '{chr(2)}')"  # no quoting
        )
        with raw.open("rb") as src, text.open("wb") as dst:  # the writer still quotes lines starting with '#'
            subprocess.run(["tr", "-d", "\\002"], stdin=src, stdout=dst, check=True)
        raw.unlink()
    return int(con.execute("SELECT count(DISTINCT p) FROM c").fetchone()[0])  # type: ignore[index]


def tsdb() -> tuple[Path, int]:
    """promtool reads its whole input once per 2-hour block it writes (Prometheus 2.42 has no
    --max-block-duration for OpenMetrics), so the input is one file per block, backfilled two at a time."""
    folder = CACHE / f"prometheus-1000x{DAYS}d"
    done = folder / "containers"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        began = time.monotonic()
        containers = openmetrics(folder / "om")
        files = sorted((folder / "om").glob("*.om"))
        size = sum(f.stat().st_size for f in files)
        print(f"set-up: OpenMetrics {size / 1e9:.2f} GB in {len(files)} files, {time.monotonic() - began:.0f} s",
              flush=True)  # fmt: skip
        began = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda f: server.backfill(f, folder / "tsdb"), files))
        print(f"set-up: promtool backfill in {time.monotonic() - began:.0f} s", flush=True)
        shutil.rmtree(folder / "om")
        done.write_text(str(containers))
    return folder / "tsdb", int(done.read_text())


def vm_hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    data, containers = tsdb()
    work = Path(tempfile.mkdtemp(prefix="upid-bench-prom-"))
    with server.running(data, work) as url:
        pid = int(subprocess.run(["pgrep", "-f", f"web.listen-address={url.split('//')[1]}"],
                                 capture_output=True, text=True).stdout.split()[0])  # fmt: skip
        time.sleep(2)
        print(f"{containers} containers x {DAYS} days at a 5-minute step; Prometheus pid {pid}, "
              f"peak RSS after start {vm_hwm(pid) / 1e6:.0f} MB")  # fmt: skip
        for run in range(args.runs):
            home = work / f"home-{run}"
            env = {**os.environ, "UPID_HOME": str(home)}
            cmd = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "upid", "storage", "import-prometheus",
                   "--url", url, "--cluster", "bench", "--until", str(BASE + DAYS * 86400 - SCRAPE),
                   "--history", f"{DAYS}d", "--step", "5m", "--rate-window", "10m", "-o", "json"]  # fmt: skip
            began = time.monotonic()
            r = subprocess.run(cmd, capture_output=True, text=True, env=env)
            wall = time.monotonic() - began
            if r.returncode != 0:
                raise SystemExit(r.stderr)
            rss_kb = int(r.stderr.strip().splitlines()[-1])  # /usr/bin/time's %M: the import's own peak RSS
            doc = json.loads(r.stdout)
            print(
                f"import: {wall:.1f} s wall (budget 60 s), {doc['samples']:,} samples, {doc['written']:,} written, "
                f"{doc['queries']} queries in {doc['query_groups']} groups x {doc['chunks']} chunks, "
                f"upid peak RSS {rss_kb / 1e3:.0f} MB, Prometheus peak RSS {vm_hwm(pid) / 1e6:.0f} MB"
            )
            began = time.monotonic()
            again = json.loads(subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout)
            print(
                f"rerun:  {time.monotonic() - began:.1f} s wall, {again['queries']} queries, "
                f"{again['written']} written (chunks skipped {again['chunks_skipped']}/{again['chunks']})"
            )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
