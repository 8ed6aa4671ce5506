"""One collection: a consistent snapshot of a cluster's pods, workloads, nodes and usage.

Usage comes from the best source each node offers: the kubelet Summary API (cumulative CPU counters:
the difference between two collections is the exact average over the interval) when `nodes/proxy` is
allowed, else metrics.k8s.io (a 15-30 s rate). Samples carry the source's own timestamp, so collecting
again before metrics-server refreshed stores nothing new.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any

import numpy as np

from upid.cluster.api import Api, NotFound
from upid.cluster.identity import detect_distribution
from upid.cluster.objects import (
    PodRecord,
    owner_entry,
    parse_hpa,
    parse_node,
    parse_pdb,
    parse_pod,
    parse_workload,
)
from upid.errors import ClusterError, ForbiddenError, MetricsUnavailableError, UnauthorizedError
from upid.inventory import Collection, Identity, NodeRecord
from upid.samples import MAX_BYTES, MAX_BYTES_PER_S, MAX_CPU_CORES, SOURCES, Acceptance, SampleBatch, value_problem
from upid.units import parse_quantity

Counter = tuple[int, float, float, float]  # ts, cpu core-ns, rx bytes, tx bytes (cumulative)
CounterKey = tuple[str, str, str]  # namespace, pod, container
WORKLOAD_LISTS = {
    "Deployment": "/apis/apps/v1/{ns}deployments",
    "StatefulSet": "/apis/apps/v1/{ns}statefulsets",
    "DaemonSet": "/apis/apps/v1/{ns}daemonsets",
    "CronJob": "/apis/batch/v1/{ns}cronjobs",
}
SUMMARY_WORKERS = 8
SUMMARY_ATTEMPTS = 2  # a failing kubelet costs at most two request timeouts: its pods fall back to metrics.k8s.io


_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(_FRACTION.sub(r"\1", text.replace("Z", "+00:00"))).timestamp())


def _ns(path: str, namespace: str | None) -> str:
    return path.format(ns=f"namespaces/{namespace}/" if namespace else "")


class Collector:
    def __init__(
        self,
        api: Api,
        context: str | None,
        server: str,
        namespaces: list[str] | None,
        selector: str | None,
        progress: Callable[[str], None] | None = None,
        accept: Acceptance | None = None,
    ) -> None:
        self.api = api
        self.accept = accept or Acceptance.now()
        self.context = context
        self.server = server
        self.namespaces: list[str | None] = list(namespaces) if namespaces else [None]
        self.selector = selector
        self.progress = progress or (lambda _: None)
        self.notices: list[str] = []
        self.metrics_state = "not installed"  # or "forbidden": how metrics.k8s.io failed, for the error
        self.skipped: dict[str, list[str]] = {}  # malformed objects by kind: skipped, counted, never fatal

    def _list(self, path: str, transform: Callable[[dict[str, Any]], Any] | None = None, **params: Any) -> list[Any]:
        items = []
        tolerant = self._tolerant(transform, path.rsplit("}", 1)[-1].rsplit("/", 1)[-1]) if transform else None
        for ns in self.namespaces:
            items += self.api.list(_ns(path, ns), params or None, transform=tolerant)
        return [i for i in items if i is not None]

    def _tolerant(self, transform: Callable[[dict[str, Any]], Any], what: str) -> Callable[[dict[str, Any]], Any]:
        """One object the server sent malformed (a quantity that is not one, a missing field) is skipped and
        counted (one notice per kind, naming the first); it never fails the whole collect."""

        def parse(obj: dict[str, Any]) -> Any:
            try:
                return transform(obj)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                meta = (obj.get("metadata") if isinstance(obj, dict) else None) or {}
                name = "/".join(str(meta[k]) for k in ("namespace", "name") if meta.get(k)) or "?"
                self.skipped.setdefault(what, []).append(f"{name}: {e}")
                return None

        return parse

    def _skip_notices(self, bad_samples: list[str]) -> list[str]:
        skipped = {**self.skipped, "usage samples or requests/limits": bad_samples} if bad_samples else self.skipped
        return [f"skipped {len(v)} malformed {what} (first: {v[0]})" for what, v in skipped.items() if v]

    def _optional_list(
        self, path: str, what: str, transform: Callable[[dict[str, Any]], Any] | None = None
    ) -> list[Any]:
        try:
            return self._list(path, transform)
        except ForbiddenError:
            self.notices.append(f"not allowed to list {what}: collected without them")
        except NotFound:
            self.notices.append(f"{what} API not served by this cluster")
        return []

    def identity(self, nodes: list[NodeRecord]) -> Identity:
        version = str(self.api.get_object("/version").get("gitVersion") or "unknown")
        meta = self.api.get_object("/api/v1/namespaces/kube-system").get("metadata")
        uid = meta.get("uid") if isinstance(meta, dict) else None
        if not isinstance(uid, str) or not uid:
            raise ClusterError(f"the server {self.api.host} answered the kube-system namespace without a uid")
        distribution, provider = detect_distribution(version, self.server, nodes)
        return Identity(
            uid=uid,
            context=self.context,
            server=self.server,
            version=version,
            distribution=distribution,
            provider=provider,
        )

    def run(self, previous_of: Callable[[str], dict[CounterKey, Counter]]) -> Collection:
        """Collect everything; `previous_of(uid)` gives the kubelet counters stored by the last collection."""
        at = int(time.time())
        self.progress("nodes")
        nodes = [n for n in self.api.list("/api/v1/nodes", transform=self._tolerant(parse_node, "nodes")) if n]
        identity = self.identity(nodes)
        previous = previous_of(identity.uid)
        self.progress("workloads")
        owned = self._optional_list("/apis/apps/v1/{ns}replicasets", "replicasets", owner_entry)
        owned += self._optional_list("/apis/batch/v1/{ns}jobs", "jobs", owner_entry)
        owners = {key: parent for key, parent in owned if parent is not None}
        workloads = [
            w
            for kind, path in WORKLOAD_LISTS.items()
            for w in self._optional_list(path, kind.lower() + "s", partial(parse_workload, kind=kind))
        ]
        hpas = self._optional_list(
            "/apis/autoscaling/v2/{ns}horizontalpodautoscalers", "horizontalpodautoscalers", parse_hpa
        )
        pdbs = self._optional_list("/apis/policy/v1/{ns}poddisruptionbudgets", "poddisruptionbudgets", parse_pdb)
        self.progress("pods")
        params = {"labelSelector": self.selector} if self.selector else {}
        pods = self._list("/api/v1/{ns}pods", lambda p: parse_pod(p, owners), **params)
        self.progress("usage")
        summaries = self._summaries({p.node for p in pods if p.node and p.phase == "Running"})
        metrics = self._pod_metrics(params) if len(summaries) < len({p.node for p in pods if p.node}) else {}
        if not summaries and metrics is None:
            raise MetricsUnavailableError(
                f"no usage source: the metrics.k8s.io API is {self.metrics_state} and the kubelet Summary API is "
                "not allowed (nodes/proxy) or failed on every node",
                hint="grant list on pods.metrics.k8s.io: 'upid cluster rbac' prints the permissions upid needs"
                if self.metrics_state == "forbidden"
                else "install metrics-server, or grant get on nodes/proxy",
            )
        builder = _BatchBuilder(identity.context or identity.uid, previous, self.accept)
        for pod in pods:
            builder.add(pod, summaries.get(pod.node or ""), (metrics or {}).get((pod.namespace, pod.name)))
        # the snapshot's time is the cluster's: the newest usage timestamp it reported (wall clock if none)
        at = int(max(builder.samples["ts"])) if builder.samples["ts"] else at
        builder.stamp_resources(at)
        return Collection(
            identity=identity,
            at=at,
            batch=builder.batch(),
            nodes=nodes,
            workloads=workloads,
            hpas=hpas,
            pdbs=pdbs,
            statuses=builder.statuses,
            counters=builder.counters,
            sources=builder.sources,
            notices=self.notices + self._skip_notices(builder.bad),
            pods=len(pods),
        )

    def _pod_metrics(self, params: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]] | None:
        try:
            items = self._list("/apis/metrics.k8s.io/v1beta1/{ns}pods", _metrics_entry, **params)
        except NotFound:
            self.metrics_state = "not installed"
            self.notices.append("metrics.k8s.io is not installed (metrics-server)")
            return None
        except ForbiddenError as e:
            self.metrics_state = "forbidden"
            self.notices.append(f"metrics.k8s.io is forbidden: {e.message}")
            return None
        return dict(items)

    def _summaries(self, nodes: set[str]) -> dict[str, dict[tuple[str, str], PodStats]]:
        """Per node, its pods' stats from the kubelet Summary API; empty when nodes/proxy is not allowed. A node
        whose kubelet fails (5xx, a hang, a malformed answer) is left out: its pods come from metrics.k8s.io."""
        if not nodes:
            return {}
        ordered = sorted(nodes)
        try:
            first = self._summary(ordered[0])
        except ForbiddenError:
            self.notices.append("not allowed to get nodes/proxy: using metrics.k8s.io (no exact averages)")
            return {}
        out = {ordered[0]: first} if first is not None else {}
        failed = [] if first is not None else [ordered[0]]
        with ThreadPoolExecutor(max_workers=SUMMARY_WORKERS) as pool:
            for node, result in zip(ordered[1:], pool.map(self._summary_or_none, ordered[1:]), strict=True):
                if result is not None:
                    out[node] = result
                else:
                    failed.append(node)
        if failed:
            self.notices.append(
                f"kubelet Summary failed on {len(failed)} of {len(ordered)} nodes (first: {failed[0]}): "
                "their pods' usage from metrics.k8s.io"
            )
        return out

    def _summary_or_none(self, node: str) -> dict[tuple[str, str], PodStats] | None:
        try:
            return self._summary(node)
        except ForbiddenError:
            return None

    def _summary(self, node: str) -> dict[tuple[str, str], PodStats] | None:
        """One node's Summary, None when its kubelet failed; ForbiddenError when nodes/proxy is not allowed."""
        try:
            doc = self.api.get_object(f"/api/v1/nodes/{node}/proxy/stats/summary", attempts=SUMMARY_ATTEMPTS)
            return {_pod_ref(p): _pod_stats(p) for p in doc.get("pods") or []}
        except (ForbiddenError, UnauthorizedError):
            raise
        except (NotFound, ClusterError, ValueError, KeyError, TypeError, AttributeError):
            return None


# what is kept of a pod's kubelet stats: {container: (ts, core-ns, nanocores, working set)}, (rx, tx) bytes
PodStats = tuple[dict[str, tuple[int, float, float, float]], tuple[float, float]]


def _pod_ref(pod: dict[str, Any]) -> tuple[str, str]:
    ref = pod.get("podRef") or {}
    return str(ref.get("namespace", "")), str(ref.get("name", ""))


def _metrics_entry(item: dict[str, Any]) -> tuple[tuple[str, str], dict[str, Any]]:
    meta = item["metadata"]
    return (str(meta.get("namespace", "")), str(meta["name"])), item


def _pod_stats(pod: dict[str, Any]) -> PodStats:
    containers = {}
    for c in pod.get("containers") or []:
        cpu, mem = c.get("cpu"), c.get("memory")
        if cpu and mem and (cpu.get("time") or mem.get("time")):
            containers[c["name"]] = (
                epoch(cpu.get("time") or mem["time"]),
                float(cpu.get("usageCoreNanoSeconds", 0)),
                float(cpu.get("usageNanoCores", 0)),
                float(mem.get("workingSetBytes", 0)),
            )
    net = pod.get("network") or {}
    return containers, (float(net.get("rxBytes", np.nan)), float(net.get("txBytes", np.nan)))


class _BatchBuilder:
    """Accumulates one SampleBatch with its series, resources, statuses and kubelet counters."""

    def __init__(self, cluster: str, previous: dict[CounterKey, Counter], accept: Acceptance) -> None:
        self.cluster, self.previous, self.accept = cluster, previous, accept
        self.series: dict[str, list[Any]] = {
            k: [] for k in ("namespace", "workload_kind", "workload", "pod", "container", "node")
        }
        self.samples: dict[str, list[float]] = {
            k: [] for k in ("series_idx", "ts", "cpu_m", "mem_kib", "net_rx", "net_tx", "source")
        }
        self.resources: dict[str, list[float]] = {
            k: [] for k in ("series_idx", "ts", "cpu_request_m", "cpu_limit_m", "memory_request", "memory_limit")
        }
        self.statuses: list[dict[str, Any]] = []
        self.counters: list[tuple[int, int, float, float, float]] = []
        self.sources: dict[str, int] = {}
        self.bad: list[str] = []  # usage samples skipped: a quantity that is not one, a time or value out of range

    def add(
        self, pod: PodRecord, summary: dict[tuple[str, str], PodStats] | None, metrics: dict[str, Any] | None
    ) -> None:
        stats = (summary or {}).get((pod.namespace, pod.name))
        containers = sorted(pod.containers, key=lambda c: c.name)
        for position, c in enumerate(containers):
            idx = len(self.series["pod"])
            for key, value in (
                ("namespace", pod.namespace),
                ("workload_kind", pod.owner_kind),
                ("workload", pod.owner_name),
                ("pod", pod.name),
                ("container", c.name),
                ("node", pod.node or ""),
            ):
                self.series[key].append(value)
            self._resources(idx, c)
            self.statuses.append(
                {
                    "series_idx": idx,
                    "restarts": c.restarts,
                    "phase": pod.phase,
                    "qos": pod.qos,
                    "last_termination_reason": c.last_termination_reason,
                    "last_termination_at": c.last_termination_at,
                }
            )
            if stats is not None:
                self._from_summary(idx, pod, c.name, stats, network=position == 0)
            elif metrics is not None:
                self._from_metrics(idx, c.name, metrics)

    def _resources(self, idx: int, c: Any) -> None:
        values = []
        for name, value, most in (
            ("cpu request", c.cpu_request, MAX_CPU_CORES),
            ("cpu limit", c.cpu_limit, MAX_CPU_CORES),
            ("memory request", c.memory_request, MAX_BYTES),
            ("memory limit", c.memory_limit, MAX_BYTES),
        ):
            why = None if value is None else value_problem(value, most)
            if why:  # stored as unset, counted: one absurd quantity never fails the write
                self.bad.append(f"{self.series['pod'][idx]}/{c.name}: {name} {value:g} {why}")
            values.append(None if why else value)
        row = (idx, 0, _milli(values[0]), _milli(values[1]), _int(values[2]), _int(values[3]))
        for key, value in zip(self.resources, row, strict=True):
            self.resources[key].append(value)

    def _sample(self, idx: int, ts: int, cpu: float, mem: float, rx: float, tx: float, source: str) -> None:
        problem = self._problem(ts, cpu, mem, rx, tx)
        if problem:
            self.bad.append(f"{self.series['pod'][idx]}/{self.series['container'][idx]}: {problem}")
            return
        for key, value in zip(
            self.samples, (idx, ts, round(cpu * 1000), round(mem / 1024), rx, tx, SOURCES[source]), strict=True
        ):
            self.samples[key].append(value)
        self.sources[source] = self.sources.get(source, 0) + 1

    def _problem(self, ts: int, cpu: float, mem: float, rx: float, tx: float) -> str | None:
        """Why a sample cannot be stored (upid/samples.py), or None; a network rate may be NaN (not measured)."""
        why = self.accept.time_problem(ts)
        if why:
            return f"timestamp {ts} {why}"
        values = [("cpu", cpu, MAX_CPU_CORES), ("memory", mem, MAX_BYTES)]
        values += [(n, v, MAX_BYTES_PER_S) for n, v in (("network rx", rx), ("network tx", tx)) if not np.isnan(v)]
        for name, value, most in values:
            why = value_problem(value, most)
            if why:
                return f"{name} {value:g} {why}"
        return None

    def _from_metrics(self, idx: int, container: str, metrics: dict[str, Any]) -> None:
        for c in metrics.get("containers") or []:
            if c.get("name") == container:
                usage = c.get("usage") or {}
                try:
                    values = parse_quantity(usage.get("cpu", "0")), parse_quantity(usage.get("memory", "0"))
                    at = epoch(metrics["timestamp"])
                except (ValueError, KeyError, TypeError) as e:  # this sample only: the rest of the pod is kept
                    self.bad.append(f"{self.series['pod'][idx]}/{container}: {e}")
                    continue
                self._sample(idx, at, *values, np.nan, np.nan, "metrics-server")

    def _from_summary(self, idx: int, pod: PodRecord, container: str, stats: PodStats, network: bool) -> None:
        c = stats[0].get(container)
        if c is None:
            return
        ts, cum, nanocores, working_set = c
        rx, tx = stats[1]
        prev = self.previous.get((pod.namespace, pod.name, container))
        if prev and prev[0] < ts and cum >= prev[1]:  # exact average since the last collection
            cores = (cum - prev[1]) / 1e9 / (ts - prev[0])
            rx_rate = (rx - prev[2]) / (ts - prev[0]) if network and rx >= prev[2] else np.nan
            tx_rate = (tx - prev[3]) / (ts - prev[0]) if network and tx >= prev[3] else np.nan
        else:  # first sight (or a restart reset the counter): the kubelet's own recent rate
            cores, rx_rate, tx_rate = nanocores / 1e9, np.nan, np.nan
        self._sample(idx, ts, cores, working_set, rx_rate, tx_rate, "kubelet-summary")
        self.counters.append((idx, ts, cum, rx if network else np.nan, tx if network else np.nan))

    def stamp_resources(self, at: int) -> None:
        self.resources["ts"] = [at] * len(self.resources["ts"])

    def batch(self) -> SampleBatch:
        s = self.samples
        return SampleBatch(
            cluster=self.cluster,
            source="kubelet-summary" if self.sources.get("kubelet-summary") else "metrics-server",
            series={k: np.asarray(v, dtype=object) for k, v in self.series.items()},
            series_idx=np.asarray(s["series_idx"], dtype=np.int32),
            ts=np.asarray(s["ts"], dtype=np.int64),
            cpu_m=np.asarray(s["cpu_m"], dtype=np.int32),
            mem_kib=np.asarray(s["mem_kib"], dtype=np.int64),
            net_rx=np.asarray(s["net_rx"], dtype=np.float64),
            net_tx=np.asarray(s["net_tx"], dtype=np.float64),
            resources={k: np.asarray(v, dtype=np.int64) for k, v in self.resources.items()},
            source_codes=np.asarray(s["source"], dtype=np.uint8),
        )


def _milli(cores: float | None) -> int:
    return -1 if cores is None else round(cores * 1000)


def _int(value: float | None) -> int:
    return -1 if value is None else int(value)
