"""Money: monthly cost of what a container requests and uses, OpenCost's way, and the savings of a change.

Cost per container = max(request, usage) x unit price, averaged over the window and projected over a 730-hour
month, times the pods running at once. Unit prices default to OpenCost's (configs/default.json, GCP
us-central1 based: 0.031611 per core-hour, 0.004237 per GiB-hour) and can be overridden in the settings.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from upid.analysis.history import ContainerHistory

if TYPE_CHECKING:
    from upid.analysis.pricebook import PriceBook

HOURS_PER_MONTH = 730
GIB = 1024**3


@dataclass(frozen=True)
class Prices:
    cpu_core_hour: float = 0.031611
    memory_gib_hour: float = 0.004237
    currency: str = "USD"
    discount: float = 0.0  # share off list prices (0.2 = 20 %)

    def hourly(self, cores: float, memory_bytes: float) -> float:
        """What the cores and memory cost an hour, after the discount."""
        return (cores * self.cpu_core_hour + memory_bytes / GIB * self.memory_gib_hour) * (1 - self.discount)

    def monthly(self, cores: float, memory_bytes: float) -> float:
        return self.hourly(cores, memory_bytes) * HOURS_PER_MONTH


def concurrency(h: ContainerHistory) -> float:
    """Pods of the container running at once, on average over the window."""
    return h.samples / max(1, len(np.unique(h.ts)))


def monthly_cost(h: ContainerHistory, cpu_request: float | None, memory_request: float | None, prices: Prices) -> float:
    """OpenCost's max(request, usage) per sample, averaged, as a monthly figure for all the container's pods."""
    cores = float(np.maximum(h.cpu, cpu_request or 0.0).mean())
    memory = float(np.maximum(h.memory, memory_request or 0.0).mean())
    return round(prices.monthly(cores, memory) * concurrency(h), 2)


SPOT = Prices(cpu_core_hour=0.006655, memory_gib_hour=0.000892)  # OpenCost's default spot unit prices

Workload = tuple[str, str, str]  # namespace, kind, name


@dataclass(frozen=True)
class Pricing:
    """The rates each workload is billed at: those of the node most of its samples ran on when that node's
    price is known, else the cluster's unit prices."""

    unit: Prices
    workloads: dict[Workload, Prices] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return self.unit.currency

    def of(self, workload: Workload) -> Prices:
        return self.workloads.get(workload, self.unit)


def as_pricing(prices: Prices | Pricing | None, currency: str = "USD") -> Pricing:
    if isinstance(prices, Pricing):
        return prices
    return Pricing(prices or Prices(currency=currency))


def workload_pricing(histories: list[ContainerHistory], node_rates: dict[str, Prices], unit: Prices) -> Pricing:
    samples: dict[Workload, Counter[str]] = {}
    for h in histories:
        counts = samples.setdefault(h.key[:3], Counter())
        pods, n = np.unique(h.pod, return_counts=True)
        for pod, c in zip(pods.tolist(), n.tolist(), strict=True):
            node = h.nodes.get(pod)
            if node in node_rates:
                counts[node] += c
    return Pricing(unit, {w: node_rates[c.most_common(1)[0][0]] for w, c in samples.items() if c})


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


def pod_costs(
    h: ContainerHistory, unit: Prices, node_rates: dict[str, Prices] | None = None
) -> list[tuple[int, float, float, float]]:
    """Per pod of the container: (pod, CPU cost, memory cost, usage cost) over the window, at the rates of the
    pod's node when they are known, else at the unit prices."""
    out = []
    cpu_request, memory_request = h.current.get("cpu_request") or 0.0, h.current.get("memory_request") or 0.0
    for p in np.unique(h.pod):
        prices = (node_rates or {}).get(h.nodes.get(int(p), ""), unit)
        factor = 1 - prices.discount
        sel = h.pod == p
        hours = _intervals(h.ts[sel])
        cpu, mem = h.cpu[sel], h.memory[sel]
        cpu_cost = float((np.maximum(cpu, cpu_request) * hours).sum()) * prices.cpu_core_hour * factor
        mem_cost = float((np.maximum(mem, memory_request) / GIB * hours).sum()) * prices.memory_gib_hour * factor
        usage = float(((cpu * prices.cpu_core_hour + mem / GIB * prices.memory_gib_hour) * hours).sum()) * factor
        out.append((int(p), cpu_cost, mem_cost, usage))
    return out


def node_costs(
    nodes: list[dict[str, Any]], start: int, end: int, book: PriceBook, tail: float = 0.0
) -> tuple[list[NodeCost], dict[str, Prices]]:
    """Each node's cost for its hours in the window at the price the book gives it, and the rates its
    capacity is billed at. A node's last sighting stands for one collection interval (`tail` seconds)."""
    out, rates = [], {}
    for n in nodes:
        first, last = max(start, int(n["first_seen"])), min(end + tail, int(n["last_seen"]) + tail)
        hours = max(0.0, (last - first) / 3600)
        price = book.node(n)
        cores, memory = float(n["cpu_capacity"] or 0), float(n["memory_capacity"] or 0)
        cost = price.rates.hourly(cores, memory) * hours
        rates[str(n["name"])] = price.rates
        out.append(
            NodeCost(str(n["name"]), n.get("capacity_type") or None, round(hours, 2), cores, memory, cost, price.reason)
        )
    return out, rates


def cost_report(
    histories: list[ContainerHistory],
    nodes: list[dict[str, Any]],
    start: int,
    end: int,
    book: PriceBook,
    by: str,
    labels: dict[tuple[str, str, str], dict[str, str]] | None = None,
) -> CostReport:
    """Cost over the window grouped `by` namespace, workload, node or label=KEY, and the cluster's idle cost.
    Pods on a priced node are billed at that node's rates, so workloads + idle = nodes."""
    groups: dict[str, list[float]] = {}
    known = {str(n["name"]) for n in nodes}
    total = on_nodes = 0.0
    intervals = [
        float(np.median(np.diff(h.ts[h.pod == p])))
        for h in histories
        for p in np.unique(h.pod)
        if (h.pod == p).sum() > 1
    ]
    tail = float(np.median(intervals)) if intervals else 300.0
    priced_nodes, rates = node_costs(nodes, start, end, book, tail)
    for h in histories:
        for pod, cpu, mem, usage in pod_costs(h, book.unit, rates):
            node = h.nodes.get(pod)
            key = _group(by, h, node, labels or {})
            acc = groups.setdefault(key, [0.0, 0.0, 0.0])
            acc[0], acc[1], acc[2] = acc[0] + cpu, acc[1] + mem, acc[2] + usage
            total += cpu + mem
            if node in known:
                on_nodes += cpu + mem
    return CostReport(
        by=by,
        currency=book.unit.currency,
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
