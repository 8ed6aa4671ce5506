"""OpenMetrics text from the bundled real sample (Bitbrains VMs), as cAdvisor and kube-state-metrics would have
exposed it, scraped every SCRAPE seconds: the trace's 5-minute values are held between its samples (CPU and
network counters grow at the trace's average rate), so Prometheus holds nothing the trace does not say.

Each VM becomes one container "main" of a pod in one of three namespaces. Owners vary: Deployments through
ReplicaSets, StatefulSets, a CronJob through its Job, and a bare pod. One container gets a memory limit below its
peak; each time its real working set rises above it, the container is OOM-killed (its restart counter grows
and kube-state-metrics reports OOMKilled as the last termination reason)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from upid.workflows.demo import sample_path

SCRAPE = 120
NAMESPACES = ("shop", "payments", "batch")


@dataclass(frozen=True)
class Vm:
    index: int
    namespace: str
    pod: str
    kind: str  # the top owner's kind
    workload: str
    owner: tuple[str, str] | None  # the pod's direct owner (kind, name)
    node: str


def vms(count: int) -> list[Vm]:
    out = []
    for i in range(count):
        ns, name = NAMESPACES[i % 3], f"app-{i}"
        if i == count - 1:
            out.append(Vm(i, ns, f"debug-{i}", "Pod", f"debug-{i}", None, f"node-{i % 2}"))
        elif i == count - 2:
            out.append(Vm(i, ns, f"report-{i}-28391-x7k2p", "CronJob", f"report-{i}", ("Job", f"report-{i}-28391"),
                          f"node-{i % 2}"))  # fmt: skip
        elif i % 4 == 3:
            out.append(Vm(i, ns, f"{name}-0", "StatefulSet", name, ("StatefulSet", name), f"node-{i % 2}"))
        else:
            out.append(Vm(i, ns, f"{name}-7d9f8-b{i}x", "Deployment", name, ("ReplicaSet", f"{name}-7d9f8"),
                          f"node-{i % 2}"))  # fmt: skip
    return out


def trace(count: int, days: float) -> tuple[list[str], dict[str, np.ndarray]]:
    """The last `days` of the first `count` VMs of the bundled sample, sorted by VM and time."""
    con = duckdb.connect()
    rel = con.execute(f"""
        WITH s AS (SELECT *, epoch(timestamp)::BIGINT AS ts FROM read_parquet('{sample_path()}')),
             v AS (SELECT DISTINCT pod FROM s ORDER BY pod LIMIT {count}),
             e AS (SELECT max(ts) AS hi FROM s)
        SELECT s.pod, s.ts, s.cpu_cores, s.memory_bytes, coalesce(s.network_rx_bytes_per_s, 0) AS rx,
               coalesce(s.network_tx_bytes_per_s, 0) AS tx, s.cpu_request_cores, s.cpu_limit_cores,
               s.memory_request_bytes, s.memory_limit_bytes
        FROM s JOIN v USING (pod), e WHERE s.ts > e.hi - {int(days * 86400)} ORDER BY s.pod, s.ts""")
    cols = {d[0]: np.asarray(c) for d, c in zip(rel.description, zip(*rel.fetchall(), strict=True), strict=True)}
    return sorted(set(cols["pod"].tolist())), cols


def _line(name: str, labels: dict[str, str], value: float, ts: int) -> str:
    text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{text}}} {value:.10g} {ts}\n"


def write(path: Path, count: int = 10, days: float = 2.0) -> dict[str, object]:
    """Write the OpenMetrics file; return what the tests need to know about it (the VMs, the OOM victim)."""
    names, t = trace(count, days)
    machines = vms(len(names))
    families: dict[str, list[str]] = {}
    victim, kills = machines[0], []

    def emit(name: str, labels: dict[str, str], values: np.ndarray, times: np.ndarray) -> None:
        lines = families.setdefault(name, [])
        lines.extend(_line(name, labels, float(v), int(ts)) for v, ts in zip(values, times, strict=True))

    for vm, raw_name in zip(machines, names, strict=True):
        rows = t["pod"] == raw_name
        ts, cpu, mem = t["ts"][rows], t["cpu_cores"][rows].astype(float), t["memory_bytes"][rows].astype(float)
        grid = np.arange(ts[0], ts[-1] + 1, SCRAPE)
        at = np.clip(np.searchsorted(ts, grid, side="right") - 1, 0, len(ts) - 1)  # the trace's value in force
        dt = np.r_[0, np.diff(grid)]
        base = {"namespace": vm.namespace, "pod": vm.pod}
        c = {**base, "container": "main"}
        pod_cpu = np.cumsum(cpu[at] * dt)
        emit("container_cpu_usage_seconds_total", c, pod_cpu, grid)
        emit("container_cpu_usage_seconds_total", {**base, "container": "POD"}, np.cumsum(0.001 * dt), grid)
        emit("container_cpu_usage_seconds_total", {**base, "container": ""}, pod_cpu + np.cumsum(0.001 * dt), grid)
        emit("container_memory_working_set_bytes", c, mem[at], grid)
        emit("container_memory_working_set_bytes", {**base, "container": "POD"}, np.full(len(grid), 1 << 20), grid)
        emit("container_memory_working_set_bytes", {**base, "container": ""}, mem[at] + (1 << 20), grid)
        for direction in ("rx", "tx"):
            metric = "receive" if direction == "rx" else "transmit"
            rate = t[direction][rows].astype(float)[at]
            emit(f"container_network_{metric}_bytes_total", {**base, "interface": "eth0"}, np.cumsum(rate * dt), grid)
        limit_mem = t["memory_limit_bytes"][rows][at].astype(float)
        if vm is victim:
            limit_mem = np.full(len(grid), float(np.quantile(mem, 0.97)))
            over = mem[at] > limit_mem
            kills = grid[np.flatnonzero(over & ~np.r_[False, over[:-1]])].tolist()
            restarts = np.searchsorted(np.asarray(kills), grid, side="right")
            emit("kube_pod_container_status_restarts_total", c, restarts, grid)
            ever = restarts > 0
            emit("kube_pod_container_status_last_terminated_reason", {**c, "reason": "OOMKilled"},
                 np.ones(int(ever.sum())), grid[ever])  # fmt: skip
        else:
            emit("kube_pod_container_status_restarts_total", c, np.zeros(len(grid)), grid)
        for metric, resource, unit, values in (
            ("requests", "cpu", "core", t["cpu_request_cores"][rows][at]),
            ("requests", "memory", "byte", t["memory_request_bytes"][rows][at]),
            ("limits", "cpu", "core", t["cpu_limit_cores"][rows][at]),
            ("limits", "memory", "byte", limit_mem),
        ):
            emit(f"kube_pod_container_resource_{metric}", {**c, "resource": resource, "unit": unit},
                 np.asarray(values, dtype=float), grid)  # fmt: skip
        sparse = grid[:: max(1, 600 // SCRAPE)]
        one = np.ones(len(sparse))
        emit("kube_pod_info", {**base, "node": vm.node, "created_by_kind": vm.owner[0] if vm.owner else "<none>"},
             one, sparse)  # fmt: skip
        owner = vm.owner or ("<none>", "<none>")
        emit("kube_pod_owner", {**base, "owner_kind": owner[0], "owner_name": owner[1], "owner_is_controller":
                                "true" if vm.owner else "false"}, one, sparse)  # fmt: skip
        if vm.owner and vm.owner[0] == "ReplicaSet":
            emit(
                "kube_replicaset_owner",
                {
                    "namespace": vm.namespace,
                    "replicaset": vm.owner[1],
                    "owner_kind": "Deployment",
                    "owner_name": vm.workload,
                },
                one,
                sparse,
            )
        if vm.owner and vm.owner[0] == "Job":
            emit("kube_job_owner", {"namespace": vm.namespace, "job_name": vm.owner[1], "owner_kind": "CronJob",
                                    "owner_name": vm.workload}, one, sparse)  # fmt: skip
    with path.open("w") as f:
        for name, lines in families.items():
            f.write(f"# TYPE {name} gauge\n")
            f.writelines(lines)
        f.write("# EOF\n")
    end = int(max(t["ts"]))
    return {"vms": machines, "victim": victim, "kills": kills, "end": end, "start": int(min(t["ts"]))}
