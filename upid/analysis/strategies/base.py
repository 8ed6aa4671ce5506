"""What a strategy returns, and the floors, rounding and data checks the strategies share."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from upid.analysis.history import ContainerHistory, present

MIB = 1024**2


@dataclass(frozen=True)
class Recommendation:
    cpu_request: float | None  # cores
    cpu_limit: float | None
    memory_request: float | None  # bytes
    memory_limit: float | None
    confidence: float  # 0..1
    reason: str | None = None  # why a value is missing, when one is


class Strategy:
    """A strategy: `recommend(history)` with no I/O; settings are constructor arguments."""

    name = ""
    min_samples = 100  # KRR's "not enough data" rule: at least 100 points over 3 hours
    min_hours = 3.0

    def recommend(self, h: ContainerHistory) -> Recommendation:
        raise NotImplementedError

    def enough_data(self, h: ContainerHistory) -> str | None:
        if h.samples < self.min_samples or h.span_hours < self.min_hours:
            return (
                f"not enough data: {h.samples} samples over {h.span_hours:.1f} h "
                f"(needs {self.min_samples} over {self.min_hours:g} h)"
            )
        return None


def hpa_reason(h: ContainerHistory, resource: str) -> str | None:
    if resource in h.hpa_resources:
        return f"an HPA scales this workload on {resource}: sizing its {resource} request would fight the HPA"
    return None


def round_cpu(cores: float | None, floor: float = 0.010) -> float | None:
    """Up to the next millicore, at least `floor` (KRR: 10m)."""
    if cores is None or math.isnan(cores):
        return None
    return math.ceil(round(max(floor, cores) * 1000, 6)) / 1000


def round_memory(value: float | None, floor: float = 100 * MIB) -> float | None:
    """Up to the next MiB, at least `floor` (KRR: 100 MiB)."""
    if value is None or math.isnan(value):
        return None
    return float(math.ceil(max(floor, value) / MIB) * MIB)


def per_pod_max(values: np.ndarray, pods: np.ndarray) -> float:
    return float(max(values[pods == p].max() for p in present(pods)))
