"""Which price a node gets, and why: the user's per-instance prices, then the shipped list prices
(`upid/data/prices/instances.json`, with their source and date), then the unit prices.

A node priced per instance is billed at its hourly price, split into CPU and RAM rates at OpenCost's 10:1 ratio
per (core : GiB), so the workloads on it are billed at the same rates the node is (the books balance).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from upid.analysis.cost import GIB, SPOT, Prices
from upid.analysis.window import Node

CPU_TO_RAM = 10.0  # OpenCost: a core-hour costs ten GiB-hours when only the node total is known
PROVIDERS = {"aws://": "aws", "gce://": "gcp", "azure://": "azure"}


@dataclass(frozen=True)
class NodePrice:
    rates: Prices  # per core-hour and GiB-hour of the node's capacity
    hourly: float | None  # the node's list price per hour when priced per instance
    reason: str


@dataclass(frozen=True)
class PriceBook:
    unit: Prices
    unit_reason: str = "OpenCost's default unit prices"
    instances: dict[str, float] = field(default_factory=dict)  # the user's per-instance hourly prices
    table: dict[str, Any] = field(default_factory=dict)  # the shipped list prices

    def node(self, node: Node) -> NodePrice:
        itype, region = node.instance_type, node.region
        spot = node.capacity_type == "spot"
        cores, memory = node.cpu_capacity, node.memory_capacity
        if itype and itype in self.instances:
            return self._split(self.instances[itype], cores, memory, f"{itype}: instance_prices in the settings")
        found = self._listed(itype, region, "spot" if spot else "on-demand", provider_of(node)) if itype else None
        if found:
            hourly, why = found
            return self._split(hourly, cores, memory, why)
        if spot:
            rates = Prices(SPOT.cpu_core_hour, SPOT.memory_gib_hour, self.unit.currency, self.unit.discount)
            listed = f"no spot list price for {itype}" if itype else "no instance type"
            return NodePrice(rates, None, f"spot: OpenCost's spot unit prices ({listed})")
        listed = f"{itype} not in the price table" if itype else "no instance type label"
        return NodePrice(self.unit, None, f"on-demand: {self.unit_reason} ({listed})")

    def _listed(self, itype: str, region: str | None, capacity: str, provider: str | None) -> tuple[float, str] | None:
        """The list price of the type in the node's region, else in another region of the table (said so)."""
        providers = [provider] if provider else list(self.table.get("providers", {}))
        for name in providers:
            block = self.table.get("providers", {}).get(name)
            if not block:
                continue
            dated = f"{block['date']} list price" if block.get("date") else "list price (undated source)"
            regions = block["regions"]
            here = regions.get(region or "", {}).get(capacity, {})
            if itype in here:
                return here[itype], f"{name} {region} {capacity} {dated} of {itype}"
            for other, prices in sorted(regions.items()):
                if itype in prices.get(capacity, {}):
                    where = f"no {region} price shipped" if region else "node has no region label"
                    return prices[capacity][itype], f"{name} {other} {capacity} {dated} of {itype} ({where})"
        return None

    def _split(self, hourly: float, cores: float, memory: float, reason: str) -> NodePrice:
        units = cores + memory / GIB / CPU_TO_RAM
        if units <= 0:
            return NodePrice(self.unit, None, f"{reason}; no capacity to split it over, unit prices used")
        cpu = hourly / units
        rates = Prices(cpu, cpu / CPU_TO_RAM, self.unit.currency, self.unit.discount)
        return NodePrice(rates, hourly, reason)


def provider_of(node: Node) -> str | None:
    provider_id = node.provider_id or ""
    return next((name for prefix, name in PROVIDERS.items() if provider_id.startswith(prefix)), None)


@cache
def shipped_table() -> dict[str, Any]:
    """The list prices shipped with upid, with their sources and dates."""
    text = resources.files("upid.data").joinpath("prices/instances.json").read_text(encoding="utf-8")
    table: dict[str, Any] = json.loads(text)
    return table
