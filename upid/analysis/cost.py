"""Money, one model for every view (docs/cost.md "One money model"):

- the **window cost** of a container is, per pod, max(request, usage) x the rate of the pod's node (its
  price when known, else the unit prices), summed over the hours each sample stands for (OpenCost's way);
- a **monthly** figure is window cost / covered hours x 730, where the covered hours are those of the
  analysed data (first to last sample, plus one sampling interval), the same for every row of a view.

Unit prices default to OpenCost's (configs/default.json, GCP us-central1 based: 0.031611 per core-hour,
0.004237 per GiB-hour) and can be overridden in the settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from upid.analysis.history import ContainerHistory, present, segment_percentiles

if TYPE_CHECKING:
    from upid.analysis.pricebook import PriceBook
    from upid.analysis.window import Node

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


def monthly_cost(
    h: ContainerHistory,
    cpu_request: float | None,
    memory_request: float | None,
    prices: Prices | Pricing,
    hours: float | None = None,
) -> float:
    """The container's window cost at these requests (all its pods), as a monthly figure over `hours` covered
    hours (default: the container's own)."""
    pricing = as_pricing(prices)
    cost = sum(c.cpu + c.memory for c in pod_costs(h, pricing, (cpu_request, memory_request)))
    return round(to_month(cost, covered_hours([h]) if hours is None else hours), 2)


def to_month(window_cost: float, hours: float) -> float:
    return window_cost / hours * HOURS_PER_MONTH if hours > 0 else 0.0


def sampling_interval(histories: list[ContainerHistory]) -> float:
    """Seconds between a pod's samples, the median over pods (300 when no pod has two); each container's pods
    in one sort."""
    steps = []
    for h in histories:
        order = np.lexsort((h.ts, h.pod))
        pod, ts = h.pod[order], h.ts[order]
        same = pod[1:] == pod[:-1]
        if same.any():
            steps.append(segment_percentiles(np.diff(ts)[same].astype(np.float64), pod[1:][same], 50))
    return float(np.median(np.concatenate(steps))) if steps else 300.0


def covered_hours(histories: list[ContainerHistory]) -> float:
    """The hours the data covers: first to last sample over every container, plus one sampling interval (the
    last sample stands for one, as in `pod_costs`)."""
    spans = [(int(h.ts[0]), int(h.ts[-1])) for h in histories if h.samples]
    if not spans:
        return 0.0
    return (max(b for _, b in spans) - min(a for a, _ in spans) + sampling_interval(histories)) / 3600


SPOT = Prices(cpu_core_hour=0.006655, memory_gib_hour=0.000892)  # OpenCost's default spot unit prices

Workload = tuple[str, str, str]  # namespace, kind, name


@dataclass(frozen=True)
class Pricing:
    """The rates a pod is billed at: its node's when that node's price is known, else the unit prices."""

    unit: Prices
    nodes: dict[str, Prices] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return self.unit.currency

    def of_node(self, node: str | None) -> Prices:
        return self.nodes.get(node or "", self.unit)


def as_pricing(prices: Prices | Pricing | None, currency: str = "USD") -> Pricing:
    if isinstance(prices, Pricing):
        return prices
    return Pricing(prices or Prices(currency=currency))


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
    hours: float  # of the window asked for
    covered_hours: float  # of the data in it: what a monthly figure divides by
    period: str  # "month" or "window": what every figure of the report is
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
    hours: np.ndarray = np.minimum(np.append(gaps, median), 2 * median) / 3600
    return hours


@dataclass(frozen=True)
class PodCost:
    pod: int
    node: str | None
    cpu: float  # window cost of max(CPU request, usage)
    memory: float
    usage: float  # what the usage alone cost: efficiency = usage / (cpu + memory)


def pod_costs(
    h: ContainerHistory, pricing: Pricing, requests: tuple[float | None, float | None] | None = None
) -> list[PodCost]:
    """Per pod of the container, its window cost at the rates of its node, at `requests` (CPU cores, memory
    bytes; None: not requested), by default the container's current ones."""
    out = []
    cpu_request, memory_request = requests or (h.current.get("cpu_request"), h.current.get("memory_request"))
    for p in present(h.pod):
        node = h.nodes.get(int(p))
        prices = pricing.of_node(node)
        factor = 1 - prices.discount
        sel = h.pod == p
        hours = _intervals(h.ts[sel])
        cpu, mem = h.cpu[sel], h.memory[sel]
        cpu_cost = float((np.maximum(cpu, cpu_request or 0.0) * hours).sum()) * prices.cpu_core_hour * factor
        mem_cost = float((np.maximum(mem, memory_request or 0.0) / GIB * hours).sum()) * prices.memory_gib_hour * factor
        usage = float(((cpu * prices.cpu_core_hour + mem / GIB * prices.memory_gib_hour) * hours).sum()) * factor
        out.append(PodCost(int(p), node, cpu_cost, mem_cost, usage))
    return out


def node_costs(
    nodes: Sequence[Node], start: int, end: int, book: PriceBook, tail: float = 0.0
) -> tuple[list[NodeCost], dict[str, Prices]]:
    """Each node's cost for its hours in the window at the price the book gives it, and the rates its
    capacity is billed at. A node's last sighting stands for one collection interval (`tail` seconds)."""
    out, rates = [], {}
    for n in nodes:
        seen_first = start if n.first_seen is None else n.first_seen
        seen_last = end if n.last_seen is None else n.last_seen
        first, last = max(start, seen_first), min(end + tail, seen_last + tail)
        hours = max(0.0, (last - first) / 3600)
        price = book.node(n)
        cores, memory = n.cpu_capacity, n.memory_capacity
        cost = price.rates.hourly(cores, memory) * hours
        rates[n.name] = price.rates
        out.append(NodeCost(n.name, n.capacity_type or None, round(hours, 2), cores, memory, cost, price.reason))
    return out, rates


def cost_report(
    histories: list[ContainerHistory],
    nodes: Sequence[Node],
    start: int,
    end: int,
    book: PriceBook,
    by: str,
    labels: Mapping[tuple[str, str, str], Mapping[str, str]] | None = None,
    period: str = "month",
) -> CostReport:
    """Cost grouped `by` namespace, workload, node or label=KEY, and the cluster's idle cost, over the window
    (`period` "window") or as a month (window cost / covered hours x 730). Each container's figure (each pod's,
    by node) is rounded to the cent before it is summed, as `analyze` rounds each row, so the views add up.
    Pods on a priced node are billed at that node's rates, so workloads + idle = nodes."""
    groups: dict[str, list[float]] = {}
    known = {n.name for n in nodes}
    total = on_nodes = 0.0
    priced_nodes, rates = node_costs(nodes, start, end, book, sampling_interval(histories))
    pricing = Pricing(book.unit, rates)
    covered = covered_hours(histories)
    scale = HOURS_PER_MONTH / covered if period == "month" and covered > 0 else 1.0
    for h in histories:
        pods = pod_costs(h, pricing)
        parts = [[c] for c in pods] if by == "node" else [pods]  # what is rounded: a pod by node, else the container
        for part in parts:
            cost = round(sum(c.cpu + c.memory for c in part) * scale, 2)
            cpu = round(sum(c.cpu for c in part) * scale, 2)
            usage = sum(c.usage for c in part) * scale
            key = _group(by, h, part[0].node, labels or {})
            acc = groups.setdefault(key, [0.0, 0.0, 0.0])
            acc[0], acc[1], acc[2] = acc[0] + cpu, acc[1] + cost - cpu, acc[2] + usage
            total += cost
            on_nodes += cost if part[0].node in known else 0.0
    return CostReport(
        by=by,
        currency=book.unit.currency,
        hours=(end - start) / 3600,
        covered_hours=covered,
        period=period,
        groups=[CostGroup(k, *v) for k, v in sorted(groups.items())],
        nodes=[replace(n, cost=n.cost * scale) for n in priced_nodes],
        workload_cost=total,
        node_cost=sum(n.cost for n in priced_nodes) * scale if nodes else None,
        workload_cost_on_nodes=on_nodes,
    )


def _group(
    by: str, h: ContainerHistory, node: str | None, labels: Mapping[tuple[str, str, str], Mapping[str, str]]
) -> str:
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
