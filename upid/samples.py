"""SampleBatch: the columnar batch of usage samples that producers (import, collect) hand to a store.

Units are fixed here so that every producer and backend agrees: time in UNIX seconds, CPU in millicores,
memory in KiB (metrics-server's own resolution), network in bytes/s (NaN when not measured), requests and
limits in millicores and bytes (-1 when unset).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np  # annotations only; numpy is imported where it is used


SERIES_KEY = ("namespace", "workload_kind", "workload", "pod", "container")
UNSET = -1

SOURCES = {"import": 1, "metrics-server": 2, "kubelet-summary": 3, "prometheus": 4}

# What a producer accepts (docs/store.md "What is never stored"); anything else is a counted bad sample.
MIN_TS = 946_684_800  # 2000-01-01T00:00:00Z
DEFAULT_CLOCK_SKEW = 600.0  # seconds a sample may be ahead of the receiving machine's clock
MAX_CPU_CORES = 1_000_000.0  # usage, requests and limits (millicores fit the store's 32-bit columns)
MAX_BYTES = float(2**60)  # 1 EiB: memory usage, requests and limits
MAX_BYTES_PER_S = float(2**50)  # 1 PiB/s: network


@dataclass(frozen=True)
class Acceptance:
    """The window of sample times a producer accepts: from 2000 to `latest`, the receiving machine's clock plus
    the allowed skew (a sample dated 4000-01-01 would otherwise become every cluster's "now")."""

    latest: float

    @classmethod
    def now(cls, skew: float = DEFAULT_CLOCK_SKEW, clock: float | None = None) -> Acceptance:
        return cls(latest=(time.time() if clock is None else clock) + skew)

    def time_problem(self, ts: float) -> str | None:
        if not math.isfinite(ts) or ts < MIN_TS:
            return "is before 2000"
        if ts > self.latest:
            return "is in the future (ahead of this machine's clock by more than the allowed skew)"
        return None

    def times_ok(self, ts: np.ndarray) -> np.ndarray:

        return (ts >= MIN_TS) & (ts <= self.latest)


def value_problem(value: float, most: float) -> str | None:
    """Why a usage, request or limit value cannot be stored (negative, not finite, beyond `most`), or None."""
    if not math.isfinite(value) or value < 0:
        return "is negative or not finite"
    if value > most:
        return f"is out of range (more than {most:.6g})"
    return None


def values_ok(values: np.ndarray, most: float) -> np.ndarray:
    """Element-wise: finite, not negative, at most `most` (NaN, where a value is optional, is tested by the caller)."""
    import numpy as np

    with np.errstate(invalid="ignore"):
        ok: np.ndarray = np.isfinite(values) & (values >= 0) & (values <= most)
        return ok


@dataclass
class SampleBatch:
    """All samples of one cluster from one producer run.

    A batch holds at most one sample per series and second (producers deduplicate; the store skips
    only what it already has). `series` holds one entry per distinct container series (the keys in
    SERIES_KEY plus `node`);
    `series_idx` points each sample at its entry. `resources` holds request/limit change points,
    also indexed by series, with columns ts, cpu_request_m, cpu_limit_m, memory_request, memory_limit.
    """

    cluster: str
    source: str
    series: dict[str, np.ndarray]
    series_idx: np.ndarray
    ts: np.ndarray
    cpu_m: np.ndarray
    mem_kib: np.ndarray
    net_rx: np.ndarray
    net_tx: np.ndarray
    resources: dict[str, np.ndarray] = field(default_factory=dict)
    source_codes: np.ndarray | None = None  # per sample, when sources differ within the batch (SOURCES values)
    oom_kills: dict[str, np.ndarray] = field(default_factory=dict)  # series_idx, ts: OOMKilled terminations seen

    def __post_init__(self) -> None:
        n = len(self.ts)
        for name in ("series_idx", "cpu_m", "mem_kib", "net_rx", "net_tx"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"SampleBatch column {name} has {len(getattr(self, name))} rows, expected {n}")
        if self.source not in SOURCES:
            raise ValueError(f"unknown sample source {self.source!r}")

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def series_count(self) -> int:
        return len(self.series["namespace"]) if self.series else 0

    def columns(self) -> dict[str, np.ndarray]:
        """Every array by a flat name, for serialising (the spool) and back with `from_columns`."""
        out = {f"series.{k}": v for k, v in self.series.items()}
        out.update({f"resources.{k}": v for k, v in self.resources.items()})
        out.update({f"oom_kills.{k}": v for k, v in self.oom_kills.items()})
        for name in ("series_idx", "ts", "cpu_m", "mem_kib", "net_rx", "net_tx"):
            out[name] = getattr(self, name)
        if self.source_codes is not None:
            out["source_codes"] = self.source_codes
        return out

    @classmethod
    def from_columns(cls, cluster: str, source: str, cols: dict[str, np.ndarray]) -> SampleBatch:
        def group(prefix: str) -> dict[str, np.ndarray]:
            return {k.split(".", 1)[1]: v for k, v in cols.items() if k.startswith(prefix)}

        return cls(
            cluster=cluster,
            source=source,
            series=group("series."),
            resources=group("resources."),
            oom_kills=group("oom_kills."),
            source_codes=cols.get("source_codes"),
            **{n: cols[n] for n in ("series_idx", "ts", "cpu_m", "mem_kib", "net_rx", "net_tx")},
        )
