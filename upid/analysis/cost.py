"""Money: monthly cost of what a container requests and uses, OpenCost's way, and the savings of a change.

Cost per container = max(request, usage) x unit price, averaged over the window and projected over a 730-hour
month, times the pods running at once. Unit prices default to OpenCost's (configs/default.json, GCP
us-central1 based: 0.031611 per core-hour, 0.004237 per GiB-hour) and can be overridden in the settings.
"""

from __future__ import annotations

from dataclasses import dataclass

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
