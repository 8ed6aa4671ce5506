"""Idle ("zero-pod") detection from measured usage: which workloads do nothing, since when, how sure.

A workload is idle when, over a trailing run of at least `min_idle`, every container of every pod stays
near zero: CPU p99 under 1.5 % of its request (5m without one) and no burst above 10 % of it, and, where
network was measured, under 2 KiB/s at p99. Calibrated on the Bitbrains trace (docs/idle.md): precision
first, since a false flag scales a live service to zero. What must not go to zero is never flagged:
system namespaces, workloads annotated `upid.io/exclude: "true"`, operators and controllers by name, and
Jobs/CronJobs (idle between runs by design).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from upid.analysis.history import ContainerHistory
from upid.analysis.schedule import Schedule, recurring

HOUR = 3600
SYSTEM_NAMESPACES = (
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "cert-manager",
    "gatekeeper-system",
    "istio-system",
    "calico-system",
    "tigera-operator",
    "monitoring",
)
CONTROLLER_PATTERNS = (r"operator", r"controller", r"webhook", r"admission")
EXCLUDE_ANNOTATION = "upid.io/exclude"
HPA_NOTE = (
    "behind an HPA, already at its minimum: scaling to zero needs the HPA paused (or KEDA), "
    "since minReplicas cannot be 0 without the HPAScaleToZero feature gate"
)


@dataclass(frozen=True)
class IdlePolicy:
    min_idle: int = 24 * HOUR
    min_confidence: float = 0.8  # below it a workload is not flagged (precision first: docs/idle.md)
    cpu_share: float = 0.015  # p99 of CPU over the idle run, as a share of the request
    burst_share: float = 0.10  # the largest sample, as a share of the request
    cpu_floor: float = 0.005  # cores, for containers without a CPU request
    network: float = 2048.0  # bytes/s at p99
    memory_growth: float = 0.01  # daily peaks growing faster than this share a day: memory is active
    time_zone: str = "UTC"  # of recurring windows
    system_namespaces: tuple[str, ...] = SYSTEM_NAMESPACES
    controller_patterns: tuple[str, ...] = CONTROLLER_PATTERNS


@dataclass(frozen=True)
class IdleItem:
    namespace: str
    workload_kind: str
    workload: str
    replicas: int
    idle_since: int | None
    idle_hours: float
    confidence: float
    signals: dict[str, Any]
    savings: dict[str, float]  # cores and bytes requested by the workload's pods
    excluded: str | None = None
    containers: list[str] = field(default_factory=list)
    schedule: Schedule | None = None  # idle on a recurring window only (nights, weekends)
    note: str | None = None


def _exclusion(key: tuple[str, str, str], h: ContainerHistory, policy: IdlePolicy) -> str | None:
    namespace, kind, name = key
    if namespace in policy.system_namespaces:
        return f"system namespace {namespace}"
    if str(h.annotations.get(EXCLUDE_ANNOTATION, "")).lower() == "true":
        return f'annotated {EXCLUDE_ANNOTATION}: "true"'
    if kind in ("CronJob", "Job"):
        return "runs on a schedule: idle between runs by design"
    pattern = next((p for p in policy.controller_patterns if re.search(p, name)), None)
    if pattern:
        return f"name matches {pattern!r}: operators and controllers stay up"
    if h.replicas == 0:
        return "already scaled to zero"
    return None


def _idle_since(h: ContainerHistory, end: int, burst: float) -> int | None:
    """Start of the trailing run of hours whose every sample stays under the burst threshold."""
    hours = (end - h.ts) // HOUR
    busy = hours[h.cpu > burst]
    limit = int(busy.min()) if len(busy) else int(hours.max()) + 1  # the most recent busy hour
    if limit == 0:
        return None
    run = h.ts[hours < limit]
    return int(run.min()) if len(run) else None


def _container(h: ContainerHistory, end: int, policy: IdlePolicy) -> dict[str, Any] | None:
    request = h.current.get("cpu_request")
    share = policy.cpu_share * request if request else policy.cpu_floor
    burst = policy.burst_share * request if request else 2 * policy.cpu_floor
    since = _idle_since(h, end, burst)
    if since is None:
        return None
    run = h.after(since - 1)
    cpu_p99 = float(np.percentile(run.cpu, 99))
    net = None
    if run.network is not None and np.isfinite(run.network).any():
        net = float(np.nanpercentile(run.network, 99))
    if cpu_p99 >= share or (net is not None and net >= policy.network):
        return None
    days = (run.ts - run.ts[0]) // 86400
    peaks = np.array([run.memory[days == d].max() for d in np.unique(days)])
    growth = float(np.polyfit(np.arange(len(peaks)), peaks, 1)[0] / max(peaks.mean(), 1)) if len(peaks) > 2 else 0.0
    return {
        "since": since,
        "cpu_p99": round(cpu_p99, 6),
        "cpu_max": round(float(run.cpu.max()), 6),
        "cpu_request": request,
        "network_p99": None if net is None else round(net, 1),
        "memory_growth_per_day": round(growth, 4),
        "restarts": h.restarts,
    }


def _confidence(idle_hours: float, signals: dict[str, Any], policy: IdlePolicy) -> float:
    """Grows with the length of the idle run (full at a week) and with the signals that agree."""
    checks = [True]  # CPU: required for the flag
    if signals["network_p99"] is not None:
        checks.append(True)  # network: required when measured
    checks.append(signals["memory_growth_per_day"] <= policy.memory_growth)
    checks.append(signals["restarts"] == 0)
    agreement = sum(checks) / len(checks)
    return round(min(1.0, idle_hours / (7 * 24)) * (0.5 + 0.5 * agreement), 3)


def _always_idle(
    key: tuple[str, str, str],
    members: list[ContainerHistory],
    end: int,
    replicas: int,
    savings: dict[str, float],
    names: list[str],
    policy: IdlePolicy,
) -> IdleItem | None:
    """Idle up to now, for at least `min_idle`, with enough confidence; else None."""
    found = [_container(h, end, policy) for h in members]
    if any(f is None for f in found):
        return None
    since = max(f["since"] for f in found if f)
    hours = (end - since) / HOUR
    signals = {k: v for k, v in _worst(found).items() if k != "since"}
    confidence = _confidence(hours, signals, policy)
    if hours * HOUR < policy.min_idle or confidence < policy.min_confidence:
        return None
    return IdleItem(*key, replicas, since, round(hours, 1), confidence, signals, savings, None, names)


def _recurring(
    key: tuple[str, str, str],
    members: list[ContainerHistory],
    replicas: int,
    savings: dict[str, float],
    names: list[str],
    policy: IdlePolicy,
) -> IdleItem | None:
    """A workload busy at times but idle on a recurring window: sleep it on that schedule."""
    schedule = recurring(members, policy.time_zone)
    if schedule is None or schedule.hours_per_week >= 7 * 24:
        return None
    share = schedule.hours_per_week / (7 * 24)
    confidence = round(min(1.0, (schedule.weeks_observed - 1) / 2), 3)  # full once two whole weeks are seen
    if confidence < policy.min_confidence:
        return None
    scaled = {"cpu_cores": round(savings["cpu_cores"] * share, 3), "memory_bytes": savings["memory_bytes"] * share}
    return IdleItem(
        *key,
        replicas,
        None,
        float(schedule.hours_per_week),
        confidence,
        {"recurring": True, "sleep_share": round(share, 3)},
        scaled,
        None,
        names,
        schedule,
    )


def _worst(found: list[dict[str, Any] | None]) -> dict[str, Any]:
    """The signals of the busiest container: what the workload's verdict rests on."""
    return max((f for f in found if f), key=lambda f: f["cpu_p99"])


def detect(histories: list[ContainerHistory], end: int, policy: IdlePolicy | None = None) -> list[IdleItem]:
    """Idle workloads (and, with `excluded` set, those that were not judged because they must stay up)."""
    policy = policy or IdlePolicy()
    workloads: dict[tuple[str, str, str], list[ContainerHistory]] = defaultdict(list)
    for h in histories:
        workloads[h.key[:3]].append(h)
    items = []
    for key, members in sorted(workloads.items()):
        replicas = members[0].replicas or max(int(h.pod.max()) + 1 for h in members)
        savings = {
            "cpu_cores": round(replicas * sum(h.current.get("cpu_request") or 0 for h in members), 3),
            "memory_bytes": float(replicas * sum(h.current.get("memory_request") or 0 for h in members)),
        }
        names = [h.key[3] for h in members]
        reason = _exclusion(key, members[0], policy)
        if reason:
            items.append(IdleItem(*key, replicas, None, 0.0, 0.0, {}, savings, reason, names))
            continue
        item = _always_idle(key, members, end, replicas, savings, names, policy)
        item = item or _recurring(key, members, replicas, savings, names, policy)
        if item and members[0].hpa_resources:
            item = replace(item, note=HPA_NOTE)
        if item:
            items.append(item)
    return items
