"""Small, deterministic usage data for tests, written in the canonical import format.

Values are random but seeded; tests compute what they expect from the same arrays, never from upid.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

COLUMNS = [
    "timestamp",
    "cluster",
    "namespace",
    "workload_kind",
    "workload",
    "pod",
    "container",
    "node",
    "cpu_cores",
    "memory_bytes",
    "cpu_request_cores",
    "cpu_limit_cores",
    "memory_request_bytes",
    "memory_limit_bytes",
    "network_rx_bytes_per_s",
    "network_tx_bytes_per_s",
]
START = 1_767_225_600  # 2026-01-01T00:00:00Z


@dataclass
class Dataset:
    rows: list[dict[str, object]]

    def write_csv(self, path: Path, iso: bool = False) -> Path:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "wt", newline="") as f:  # type: ignore[operator]
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            for row in self.rows:
                out = dict(row)
                if iso:
                    out["timestamp"] = np.datetime_as_string(np.datetime64(int(row["timestamp"]), "s")) + "Z"
                writer.writerow(out)
        return path

    def write_parquet(self, path: Path) -> Path:
        tmp = path.with_suffix(".tmp.csv")
        self.write_csv(tmp)
        con = duckdb.connect()
        con.execute(f"COPY (SELECT * FROM read_csv('{tmp}', header=true)) TO '{path}' (FORMAT parquet)")
        con.close()
        tmp.unlink()
        return path

    def containers(self) -> dict[tuple[str, str, str, str, str], list[dict[str, object]]]:
        """Rows grouped by (cluster, namespace, kind, workload, container), across pods."""
        out: dict[tuple[str, str, str, str, str], list[dict[str, object]]] = {}
        for row in self.rows:
            key = (
                str(row["cluster"]),
                str(row["namespace"]),
                str(row["workload_kind"]),
                str(row["workload"]),
                str(row["container"]),
            )
            out.setdefault(key, []).append(row)
        return out


def make(
    seed: int = 1,
    clusters: tuple[str, ...] = ("alpha",),
    namespaces: tuple[str, ...] = ("shop", "batch"),
    workloads: int = 2,
    pods: int = 2,
    samples: int = 48,
    step: int = 300,
    start: int = START,
) -> Dataset:
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for cluster in clusters:
        for ns in namespaces:
            for w in range(workloads):
                request = float(rng.choice([0.1, 0.25, 0.5, 1.0]))
                mem_request = int(rng.choice([128, 256, 512])) * 2**20
                for p in range(pods):
                    pod = f"web-{w}-{p}abc"
                    cpu = rng.gamma(2.0, request / 4, samples)
                    mem = rng.normal(mem_request * 0.6, mem_request * 0.05, samples).clip(1e6)
                    for i in range(samples):
                        rows.append(
                            {
                                "timestamp": start + i * step,
                                "cluster": cluster,
                                "namespace": ns,
                                "workload_kind": "Deployment",
                                "workload": f"web-{w}",
                                "pod": pod,
                                "container": "app",
                                "node": f"node-{p}",
                                "cpu_cores": round(float(cpu[i]), 6),
                                "memory_bytes": int(mem[i]),
                                "cpu_request_cores": request,
                                "cpu_limit_cores": "",
                                "memory_request_bytes": mem_request,
                                "memory_limit_bytes": mem_request * 2,
                                "network_rx_bytes_per_s": round(float(rng.exponential(500)), 3),
                                "network_tx_bytes_per_s": round(float(rng.exponential(300)), 3),
                            }
                        )
    return Dataset(rows)
