"""When the cluster (or a namespace) runs out: the daily trend of total usage and total requests against the
allocatable capacity of the nodes it has now, and the days until each crosses it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from upid.analysis.history import ContainerHistory, unique_sorted
from upid.analysis.window import Node

DAY = 86400
MIN_DAYS = 3  # fewer daily points than this make no trend


@dataclass(frozen=True)
class Trend:
    scope: str  # cluster | namespace
    name: str
    resource: str  # cpu (cores) | memory (bytes)
    days: int  # daily points the trend was fitted on
    usage: float  # the fitted daily mean of total usage at the end of the window
    usage_per_day: float  # its slope
    requests: float
    requests_per_day: float
    allocatable: float | None  # the nodes' capacity (cluster scope, collected clusters only)
    days_until_usage_full: float | None
    days_until_requests_full: float | None


def _daily(histories: list[ContainerHistory], resource: str, start: int, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Per day: the mean over the day's sampling instants of total usage and of total requests."""
    usage, requests = np.zeros(days), np.zeros(days)
    for h in histories:
        values = h.cpu if resource == "cpu" else h.memory
        request = h.current.get("cpu_request" if resource == "cpu" else "memory_request") or 0.0
        day = np.clip((h.ts - start) // DAY, 0, days - 1)
        instants = np.bincount(np.clip((unique_sorted(h.ts)[0] - start) // DAY, 0, days - 1), minlength=days)
        per = np.maximum(instants, 1)
        usage += np.bincount(day, weights=values, minlength=days) / per  # summed over pods, mean per instant
        requests += np.bincount(day, minlength=days) / per * request  # pods at once x request
    return usage, requests


def _fit(y: np.ndarray) -> tuple[float, float]:
    """Value at the last day and slope per day of a least-squares line (numpy's: scikit-learn's import alone
    would cost `upid alerts` seconds for the same two numbers)."""
    slope, intercept = np.polyfit(np.arange(len(y), dtype=float), y, 1)
    if abs(slope) <= 1e-12 * max(1.0, float(np.abs(y).max())):  # a flat line's rounding error is no trend
        slope = 0.0
    return float(slope * (len(y) - 1) + intercept), float(slope)


def _until(level: float, slope: float, limit: float | None) -> float | None:
    if limit is None:
        return None
    if level >= limit:
        return 0.0
    return round((limit - level) / slope, 1) if slope > 0 else None


PRESENT = 3600  # a node last seen this close to the newest sighting is still there (collections every few minutes)


def current_nodes(nodes: Sequence[Node]) -> list[Node]:
    """The nodes the cluster has now: those seen in its newest collection, not every node it ever had (a node
    replaced last week is not capacity today)."""
    seen = [n.last_seen for n in nodes if n.last_seen is not None]
    if not seen:
        return list(nodes)
    newest = max(seen)
    return [n for n in nodes if n.last_seen is None or n.last_seen >= newest - PRESENT]


def _allocatable(nodes: Sequence[Node], resource: str) -> float | None:
    """What the scheduler can hand out on the current nodes: allocatable, or capacity where it is unknown."""
    if resource == "cpu":
        total = sum(n.cpu_allocatable or n.cpu_capacity for n in nodes)
    else:
        total = sum(n.memory_allocatable or n.memory_capacity for n in nodes)
    return total or None


def capacity(histories: list[ContainerHistory], nodes: Sequence[Node], start: int, end: int) -> list[Trend]:
    days = max(1, int((end - start) // DAY))
    now = current_nodes(nodes)
    allocatable = {"cpu": _allocatable(now, "cpu"), "memory": _allocatable(now, "memory")}
    scopes: dict[tuple[str, str], list[ContainerHistory]] = {("cluster", ""): histories}
    for h in histories:
        scopes.setdefault(("namespace", h.key[0]), []).append(h)
    out = []
    for (scope, name), group in scopes.items():
        for resource in ("cpu", "memory"):
            usage, requests = _daily(group, resource, end - days * DAY, days)
            seen = usage > 0
            if seen.sum() < MIN_DAYS:
                continue
            u, du = _fit(usage[seen])
            r, dr = _fit(requests[seen])
            limit = allocatable[resource] if scope == "cluster" else None
            out.append(
                Trend(
                    scope,
                    name,
                    resource,
                    int(seen.sum()),
                    u,
                    du,
                    r,
                    dr,
                    limit,
                    _until(u, du, limit),
                    _until(r, dr, limit),
                )
            )
    return out
