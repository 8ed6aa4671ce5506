"""Money: monthly cost of what a container requests and uses, OpenCost's way, and the savings of a change.

Cost per container = max(request, usage) x unit price, averaged over the window and projected over a 730-hour
month, times the pods running at once. Unit prices default to OpenCost's (configs/default.json, GCP
us-central1 based: 0.031611 per core-hour, 0.004237 per GiB-hour) and can be overridden in the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from upid.analysis.history import ContainerHistory

HOURS_PER_MONTH = 730
GIB = 1024**3


@dataclass(frozen=True)
class Prices:
    cpu_core_hour: float = 0.031611
    memory_gib_hour: float = 0.004237
    currency: str = "USD"
    discount: float = 0.0  # share off list prices (0.2 = 20 %)

    def monthly(self, cores: float, memory_bytes: float) -> float:
        hourly = cores * self.cpu_core_hour + memory_bytes / GIB * self.memory_gib_hour
        return hourly * HOURS_PER_MONTH * (1 - self.discount)


def concurrency(h: ContainerHistory) -> float:
    """Pods of the container running at once, on average over the window."""
    return h.samples / max(1, len(np.unique(h.ts)))


def monthly_cost(h: ContainerHistory, cpu_request: float | None, memory_request: float | None, prices: Prices) -> float:
    """OpenCost's max(request, usage) per sample, averaged, as a monthly figure for all the container's pods."""
    cores = float(np.maximum(h.cpu, cpu_request or 0.0).mean())
    memory = float(np.maximum(h.memory, memory_request or 0.0).mean())
    return round(prices.monthly(cores, memory) * concurrency(h), 2)


SPOT = Prices(cpu_core_hour=0.006655, memory_gib_hour=0.000892)  # OpenCost's default spot unit prices


@dataclass(frozen=True)
class NodeCost:
    name: str
    capacity_type: str | None
    hours: float  # in the window
    cpu_cores: float
    memory_bytes: float
    cost: float
    price: str  # which price the node got, and why


@dataclass(frozen=True)
class CostGroup:
    key: str
    cpu_cost: float
    memory_cost: float
    usage_cost: float  # what the usage alone would cost: efficiency = usage_cost / cost

    @property
    def cost(self) -> float:
        return self.cpu_cost + self.memory_cost

    @property
    def efficiency(self) -> float | None:
        return self.usage_cost / self.cost if self.cost else None


@dataclass(frozen=True)
class CostReport:
    by: str
    currency: str
    hours: float
    groups: list[CostGroup]
    nodes: list[NodeCost]
    workload_cost: float
    node_cost: float | None  # None when no node was collected (imported history)
    workload_cost_on_nodes: float  # the part of workload_cost on the collected nodes

    @property
    def idle_cost(self) -> float | None:
        """The cluster's idle cost: what its nodes cost minus what their workloads cost (OpenCost)."""
        return None if self.node_cost is None else self.node_cost - self.workload_cost_on_nodes


def _intervals(ts: np.ndarray) -> np.ndarray:
    """Hours each sample stands for: the gap to the next one (the last: the median), gaps capped at 2x."""
    if len(ts) < 2:
        return np.full(len(ts), 300 / 3600)
    gaps = np.diff(ts).astype(float)
    median = float(np.median(gaps))
    return np.minimum(np.append(gaps, median), 2 * median) / 3600


def pod_costs(h: ContainerHistory, prices: Prices) -> list[tuple[int, float, float, float]]:
    """Per pod of the container: (pod, CPU cost, memory cost, usage cost) over the window."""
    factor = 1 - prices.discount
    out = []
    cpu_request, memory_request = h.current.get("cpu_request") or 0.0, h.current.get("memory_request") or 0.0
    for p in np.unique(h.pod):
        sel = h.pod == p
        hours = _intervals(h.ts[sel])
        cpu, mem = h.cpu[sel], h.memory[sel]
        cpu_cost = float((np.maximum(cpu, cpu_request) * hours).sum()) * prices.cpu_core_hour * factor
        mem_cost = float((np.maximum(mem, memory_request) / GIB * hours).sum()) * prices.memory_gib_hour * factor
        usage = float(((cpu * prices.cpu_core_hour + mem / GIB * prices.memory_gib_hour) * hours).sum()) * factor
        out.append((int(p), cpu_cost, mem_cost, usage))
    return out


def node_costs(
    nodes: list[dict[str, Any]], start: int, end: int, prices: Prices, priced: str, tail: float = 0.0
) -> list[NodeCost]:
    """Each node's capacity at the unit prices (spot nodes at the spot ones), for its hours in the window.
    A node's last sighting stands for one collection interval (`tail` seconds), as a sample does."""
    out = []
    for n in nodes:
        first, last = max(start, int(n["first_seen"])), min(end + tail, int(n["last_seen"]) + tail)
        hours = max(0.0, (last - first) / 3600)
        spot = n.get("capacity_type") == "spot"
        unit = Prices(SPOT.cpu_core_hour, SPOT.memory_gib_hour, prices.currency, prices.discount) if spot else prices
        cores, memory = float(n["cpu_capacity"] or 0), float(n["memory_capacity"] or 0)
        cost = (cores * unit.cpu_core_hour + memory / GIB * unit.memory_gib_hour) * hours * (1 - unit.discount)
        reason = f"{'spot' if spot else 'on-demand'}: {priced}" + (" (OpenCost's spot unit prices)" if spot else "")
        out.append(
            NodeCost(
                str(n["name"]),
                n.get("capacity_type") or None,
                round(hours, 2),
                cores,
                memory,
                cost,
                reason,
            )
        )
    return out


def cost_report(
    histories: list[ContainerHistory],
    nodes: list[dict[str, Any]],
    start: int,
    end: int,
    prices: Prices,
    by: str,
    labels: dict[tuple[str, str, str], dict[str, str]] | None = None,
    priced: str = "unit prices",
) -> CostReport:
    """Cost over the window grouped `by` namespace, workload, node or label=KEY, and the cluster's idle cost."""
    groups: dict[str, list[float]] = {}
    known = {str(n["name"]) for n in nodes}
    total = on_nodes = 0.0
    for h in histories:
        for pod, cpu, mem, usage in pod_costs(h, prices):
            node = h.nodes.get(pod)
            key = _group(by, h, node, labels or {})
            acc = groups.setdefault(key, [0.0, 0.0, 0.0])
            acc[0], acc[1], acc[2] = acc[0] + cpu, acc[1] + mem, acc[2] + usage
            total += cpu + mem
            if node in known:
                on_nodes += cpu + mem
    intervals = [
        float(np.median(np.diff(h.ts[h.pod == p])))
        for h in histories
        for p in np.unique(h.pod)
        if (h.pod == p).sum() > 1
    ]
    tail = float(np.median(intervals)) if intervals else 300.0
    priced_nodes = node_costs(nodes, start, end, prices, priced, tail)
    return CostReport(
        by=by,
        currency=prices.currency,
        hours=(end - start) / 3600,
        groups=[CostGroup(k, *v) for k, v in sorted(groups.items())],
        nodes=priced_nodes,
        workload_cost=total,
        node_cost=sum(n.cost for n in priced_nodes) if nodes else None,
        workload_cost_on_nodes=on_nodes,
    )


def _group(by: str, h: ContainerHistory, node: str | None, labels: dict[tuple[str, str, str], dict[str, str]]) -> str:
    namespace, kind, workload, _ = h.key
    if by == "namespace":
        return namespace
    if by == "workload":
        return f"{namespace}/{kind}/{workload}"
    if by == "node":
        return node or "(unknown node)"
    key = by.split("=", 1)[1]
    value = labels.get((namespace, kind, workload), {}).get(key)
    return f"{key}={value}" if value is not None else f"{key}=(none)"
