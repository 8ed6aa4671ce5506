"""Prometheus answers -> one SampleBatch: samples where both CPU and memory were answered, network per pod,
request/limit change points, OOM kill times, and each pod's owner resolved to its workload."""

from __future__ import annotations

from collections import Counter as CounterOf
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from upid.samples import MAX_BYTES, MAX_BYTES_PER_S, MAX_CPU_CORES, UNSET, Acceptance, SampleBatch, values_ok

Key = tuple[str, str, str]  # namespace, pod, container
Points = tuple[np.ndarray, np.ndarray]  # ts (int64 seconds), values (float64)


@dataclass
class Rejected:
    """Points Prometheus answered that cannot be stored, by reason (counted, never fatal)."""

    accept: Acceptance
    counts: CounterOf[str] = field(default_factory=CounterOf)

    def keep(self, query: str, ts: np.ndarray, v: np.ndarray, most: float) -> np.ndarray:
        """The mask of points to keep. NaN and Inf are Prometheus' "no value" (a division by zero), dropped
        silently; a time outside `accept`, a negative value or one above `most` is counted."""
        finite = np.isfinite(v)
        on_time = self.accept.times_ok(ts)
        in_range = values_ok(v, most)
        late, absurd = finite & ~on_time, finite & on_time & ~in_range
        for why, mask in (("time out of range", late), ("value negative or out of range", absurd)):
            if mask.any():
                self.counts[f"{query}: {why}"] += int(mask.sum())
        return finite & on_time & in_range

    def notices(self) -> list[str]:
        return [f"skipped {n:,} points: {why}" for why, n in sorted(self.counts.items())]


def _most(query: str, metric: dict[str, str]) -> float:
    """The largest value a point of `query` may have (upid/samples.py); requests and limits by their resource."""
    if query == "cpu" or metric.get("resource") == "cpu":
        return MAX_CPU_CORES
    return {"rx": MAX_BYTES_PER_S, "tx": MAX_BYTES_PER_S, "oom": float("inf")}.get(query, MAX_BYTES)


def points(
    result: Iterable[dict[str, Any]], labels: tuple[str, ...], rejected: Rejected, query: str
) -> dict[tuple[str, ...], Points]:
    """A range query's matrix by the given labels, without the points `rejected` refuses."""
    out: dict[tuple[str, ...], Points] = {}
    for series in result:
        metric, values = series.get("metric", {}), series.get("values") or []
        if not values:
            continue
        arr = np.asarray(values, dtype=object)
        ts = arr[:, 0].astype(np.float64)
        v = arr[:, 1].astype(np.float64)
        ok = rejected.keep(query, ts, v, _most(query, metric))
        out[tuple(metric.get(k, "") for k in labels)] = (ts[ok].round().astype(np.int64), v[ok])
    return out


@dataclass
class Owners:
    """Pod -> (kind, workload) through kube-state-metrics' owner series; pod -> node."""

    pods: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    replicasets: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    jobs: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    nodes: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, kind: str, series: list[dict[str, str]]) -> None:
        for s in series:
            ns = s.get("namespace", "")
            if kind == "node":
                if s.get("node"):
                    self.nodes[(ns, s.get("pod", ""))] = s["node"]
                continue
            owner = (s.get("owner_kind", ""), s.get("owner_name", ""))
            if not owner[0] or owner[0] == "<none>":
                continue
            name = s.get({"pod": "pod", "replicaset": "replicaset", "job": "job_name"}[kind], "")
            {"pod": self.pods, "replicaset": self.replicasets, "job": self.jobs}[kind][(ns, name)] = owner

    def workload(self, namespace: str, pod: str) -> tuple[str, str]:
        """A Deployment through its ReplicaSet, a CronJob through its Job; a pod nobody owns is its own."""
        kind, name = self.pods.get((namespace, pod), ("Pod", pod))
        if kind == "ReplicaSet":
            kind, name = self.replicasets.get((namespace, name), ("ReplicaSet", name))
        elif kind == "Job":
            kind, name = self.jobs.get((namespace, name), ("Job", name))
        return kind, name


def _at(p: Points | None, ts: np.ndarray) -> np.ndarray:
    """The values of `p` at times `ts` (exact matches), NaN (not measured) where it has none."""
    out = np.full(len(ts), np.nan, dtype=np.float64)
    if p is None or not len(p[0]):
        return out
    idx = np.searchsorted(p[0], ts)
    idx_ok = idx < len(p[0])
    hit = np.zeros(len(ts), dtype=bool)
    hit[idx_ok] = p[0][idx[idx_ok]] == ts[idx_ok]
    out[hit] = p[1][idx[hit]]
    return out


def _half_up(v: np.ndarray) -> np.ndarray:
    return np.floor(np.abs(v) + 0.5).astype(np.int64) * np.sign(v).astype(np.int64)


def _in_force(p: Points | None, ts: np.ndarray, scale: float) -> np.ndarray:
    """The value of a coarsely sampled `p` in force at each of `ts` (its first value before it starts), UNSET
    where it has none: requests and limits, asked at a coarser step than usage."""
    if p is None or not len(p[0]):
        return np.full(len(ts), float(UNSET))
    idx = np.clip(np.searchsorted(p[0], ts, side="right") - 1, 0, len(p[0]) - 1)
    return p[1][idx] * scale


def kills(p: Points, step: int) -> np.ndarray:
    """The start of each run of points: one OOM kill per run of a restart that increased the counter."""
    ts = p[0]
    if not len(ts):
        return ts
    return ts[np.r_[True, np.diff(ts) > step]]


def to_batch(
    cluster: str, answers: dict[str, list[dict[str, Any]]], owners: Owners, step: int, rejected: Rejected
) -> SampleBatch:
    labels = ("namespace", "pod", "container")

    def answer(name: str, by: tuple[str, ...] = labels) -> dict[tuple[str, ...], Points]:
        return points(answers.get(name, []), by, rejected, name)

    cpu, mem, rx, tx, oom = (
        answer("cpu"),
        answer("memory"),
        answer("rx", labels[:2]),
        answer("tx", labels[:2]),
        answer("oom"),
    )
    res = {name: answer(name, (*labels, "resource")) for name in ("requests", "limits")}
    keys = sorted(set(cpu) & set(mem))
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("idx", "ts", "cpu", "mem", "rx", "tx")}
    resources: dict[str, list[np.ndarray]] = {k: [] for k in ("series_idx", "ts", "cr", "cl", "mr", "ml")}
    killed: list[tuple[int, np.ndarray]] = []
    for i, key in enumerate(keys):
        ns, pod, _ = key
        ts, c_idx, m_idx = np.intersect1d(cpu[key][0], mem[key][0], assume_unique=True, return_indices=True)
        cols["idx"].append(np.full(len(ts), i, dtype=np.int64))
        cols["ts"].append(ts)
        cols["cpu"].append(cpu[key][1][c_idx])
        cols["mem"].append(mem[key][1][m_idx])
        cols["rx"].append(_at(rx.get((ns, pod)), ts))
        cols["tx"].append(_at(tx.get((ns, pod)), ts))
        values = [
            _in_force(res[kind].get((*key, resource)), ts, scale)
            for kind, resource, scale in (("requests", "cpu", 1000), ("limits", "cpu", 1000),
                                          ("requests", "memory", 1), ("limits", "memory", 1))
        ]  # fmt: skip
        grid = np.column_stack([np.where(v == UNSET, UNSET, np.round(v)) for v in values]).astype(np.int64)
        changed = np.r_[True, (grid[1:] != grid[:-1]).any(axis=1)] if len(grid) else np.zeros(0, dtype=bool)
        resources["series_idx"].append(np.full(int(changed.sum()), i, dtype=np.int64))
        resources["ts"].append(ts[changed])
        for n, name in enumerate(("cr", "cl", "mr", "ml")):
            resources[name].append(grid[changed, n])
        if key in oom:
            killed.append((i, kills(oom[key], step)))

    def cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    kinds = [owners.workload(ns, pod) for ns, pod, _ in keys]
    return SampleBatch(
        cluster=cluster,
        source="prometheus",
        series={
            "namespace": np.asarray([k[0] for k in keys], dtype=object),
            "workload_kind": np.asarray([k for k, _ in kinds], dtype=object),
            "workload": np.asarray([w for _, w in kinds], dtype=object),
            "pod": np.asarray([k[1] for k in keys], dtype=object),
            "container": np.asarray([k[2] for k in keys], dtype=object),
            "node": np.asarray([owners.nodes.get((k[0], k[1]), "") for k in keys], dtype=object),
        },
        series_idx=cat(cols["idx"], np.int64),
        ts=cat(cols["ts"], np.int64),
        cpu_m=_half_up(cat(cols["cpu"], np.float64) * 1000),  # as import rounds: half away from zero
        mem_kib=_half_up(cat(cols["mem"], np.float64) / 1024),
        net_rx=cat(cols["rx"], np.float64),
        net_tx=cat(cols["tx"], np.float64),
        resources={
            "series_idx": cat(resources["series_idx"], np.int64),
            "ts": cat(resources["ts"], np.int64),
            "cpu_request_m": cat(resources["cr"], np.int64),
            "cpu_limit_m": cat(resources["cl"], np.int64),
            "memory_request": cat(resources["mr"], np.int64),
            "memory_limit": cat(resources["ml"], np.int64),
        },
        oom_kills={
            "series_idx": np.concatenate([np.full(len(t), i, dtype=np.int64) for i, t in killed])
            if killed
            else np.zeros(0, dtype=np.int64),
            "ts": np.concatenate([t for _, t in killed]).astype(np.int64) if killed else np.zeros(0, dtype=np.int64),
        },
    )
