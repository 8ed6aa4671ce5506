"""Idle ("zero-pod") detection from measured usage: which workloads do nothing, since when, how sure.

A workload is idle when, over a trailing run of at least `min_idle`, every container of every pod stays
near zero: CPU p99 under 2 % of its request (5m without one), over the run and on each of its days, after
the last sample above 20 % of it; and, where network was measured, under 10 KB/s at p99, likewise. Chosen
out of sample on the Bitbrains trace (docs/idle.md): precision first, since a false flag scales a live
service to zero. What must not go to zero is never flagged:
system namespaces, workloads annotated `upid.io/exclude: "true"`, operators and controllers by name, and
Jobs/CronJobs (idle between runs by design).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from upid.analysis.history import ContainerHistory, present, segment_percentiles
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
MIN_CONFIDENCE = 0.5  # the idle confidence upid acts on; `optimize` refuses to scale to zero below it
HPA_NOTE = (
    "behind an HPA, already at its minimum: scaling to zero needs the HPA paused (or KEDA), "
    "since minReplicas cannot be 0 without the HPAScaleToZero feature gate"
)


@dataclass(frozen=True)
class IdlePolicy:
    # The thresholds below were chosen on one month of the Bitbrains trace and reported on the other
    # (bench/idle.py, docs/idle.md); change them only with that bench.
    min_idle: int = 24 * HOUR
    min_confidence: float = MIN_CONFIDENCE  # below it a workload is not flagged (precision first)
    cpu_share: float = 0.02  # p99 of CPU over the idle run and over each of its days, as a share of the request
    burst_share: float = 0.20  # the largest sample, as a share of the request: the idle run starts after it
    cpu_floor: float = 0.005  # cores, for containers without a CPU request
    network: float = 10240.0  # bytes/s at p99, over the run and over each of its days
    memory_growth: float = 0.01  # daily peaks growing faster than this share a day: memory is active
    schedule_busy_share: float = 0.05  # a sample above this share of the CPU request wakes a sleep window
    schedule_network: float = 10240.0  # bytes/s: a sample above it wakes a sleep window too
    schedule_min_days: int = 8  # days the window must have been seen idle on before it is proposed
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
    idle_hours: float | None  # length of the idle run up to now; None for a schedule (see its hours_per_week)
    confidence: float
    signals: dict[str, Any]
    savings: dict[str, float]  # cores and bytes requested by the workload's pods
    excluded: str | None = None
    containers: list[str] = field(default_factory=list)
    schedule: Schedule | None = None  # idle on a recurring window only (nights, weekends)
    note: str | None = None

    @property
    def kind(self) -> str:
        """idle (through the window: scale to zero), schedule (a recurring window: sleep on it), or excluded."""
        return "excluded" if self.excluded else "schedule" if self.schedule else "idle"


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
    busy = hours[h.cpu_peaks > burst]  # rolled up: an hour is busy when its peak is
    limit = int(busy.min()) if len(busy) else int(hours.max()) + 1  # the most recent busy hour
    if limit == 0:
        return None
    run = h.ts[hours < limit]
    return int(run.min()) if len(run) else None


def _worst_day(run: ContainerHistory, end: int) -> tuple[float, float | None]:
    """The highest daily p99 of CPU and of network over the run, days counted back from `end`: a run whose p99
    is low overall can still hold a busy day, and such a workload wakes again (measured: docs/idle.md)."""
    day = (end - run.ts) // 86400
    cpu = float(segment_percentiles(run.cpu_peaks, day, 99).max())
    if run.network is None or not np.isfinite(run.network).any():
        return cpu, None
    measured = np.isfinite(run.network)
    return cpu, float(segment_percentiles(run.network[measured], day[measured], 99).max())


def _container(h: ContainerHistory, end: int, policy: IdlePolicy) -> dict[str, Any] | None:
    request = h.current.get("cpu_request")
    share = policy.cpu_share * request if request else policy.cpu_floor
    burst = policy.burst_share * request if request else 2 * policy.cpu_floor
    since = _idle_since(h, end, burst)
    if since is None:
        return None
    run = h.after(since - 1)
    cpu_p99 = float(np.percentile(run.cpu_peaks, 99))  # rolled up: of the hours' peaks, never below the samples' p99
    net = None
    if run.network is not None and np.isfinite(run.network).any():
        net = float(np.nanpercentile(run.network, 99))
    if cpu_p99 >= share or (net is not None and net >= policy.network):
        return None
    worst_cpu, worst_net = _worst_day(run, end)
    if worst_cpu >= share or (worst_net is not None and worst_net >= policy.network):
        return None  # quiet over the run as a whole is not enough: every day of it must be
    days = (run.ts - run.ts[0]) // 86400
    peaks = np.array([run.memory_peaks[days == d].max() for d in present(days)])
    growth = float(np.polyfit(np.arange(len(peaks)), peaks, 1)[0] / max(peaks.mean(), 1)) if len(peaks) > 2 else 0.0
    return {
        "since": since,
        "cpu_p99": round(cpu_p99, 6),
        "cpu_p99_worst_day": round(worst_cpu, 6),
        "cpu_max": round(float(run.cpu_peaks.max()), 6),
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
    schedule = recurring(
        members,
        policy.time_zone,
        burst_share=policy.schedule_busy_share,
        network=policy.schedule_network,
        min_days=policy.schedule_min_days,
    )
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
        None,
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
            items.append(IdleItem(*key, replicas, None, None, 0.0, {}, savings, reason, names))
            continue
        item = _always_idle(key, members, end, replicas, savings, names, policy)
        item = item or _recurring(key, members, replicas, savings, names, policy)
        if item and members[0].hpa_resources:
            item = replace(item, note=HPA_NOTE)
        if item:
            items.append(item)
    return items
