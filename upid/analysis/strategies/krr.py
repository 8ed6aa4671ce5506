"""krr-simple: KRR's `simple` strategy, constants as in robusta-dev/krr (see FIELD_NOTES).

CPU request = p95 of usage, the highest over the workload's pods; no CPU limit. Memory request = limit =
the peak over pods x 1.15. Floors 10m / 100 MiB, rounded up to 1m / 1 MiB. Needs 100 samples over 3 h.
Skips the resource an HPA scales on. Confidence is not part of KRR: reported as 1 when it answers.
"""

from __future__ import annotations

from upid.analysis.history import ContainerHistory
from upid.analysis.strategies.base import (
    Recommendation,
    Strategy,
    hpa_reason,
    per_pod_max,
    round_cpu,
    round_memory,
)


class KrrSimple(Strategy):
    name = "krr-simple"

    def __init__(self, cpu_percentile: float = 95.0, memory_buffer: float = 0.15) -> None:
        self.cpu_percentile = cpu_percentile
        self.memory_buffer = memory_buffer

    def recommend(self, h: ContainerHistory) -> Recommendation:
        missing = self.enough_data(h)
        if missing:
            return Recommendation(None, None, None, None, 0.0, missing)
        cpu_reason, mem_reason = hpa_reason(h, "cpu"), hpa_reason(h, "memory")
        cpu = None if cpu_reason else round_cpu(h.cpu_percentile(self.cpu_percentile))
        memory = None if mem_reason else round_memory(per_pod_max(h.memory_peaks, h.pod) * (1 + self.memory_buffer))
        return Recommendation(cpu, None, memory, memory, 1.0, cpu_reason or mem_reason)
