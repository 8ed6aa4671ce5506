"""Forecast every workload container of a window, and the cluster's and namespaces' capacity trends."""

from __future__ import annotations

from dataclasses import dataclass

from upid.analysis.capacity import Trend, capacity
from upid.analysis.forecast import Forecast, forecast, hourly
from upid.analysis.frame import UsageFrame
from upid.analysis.history import histories
from upid.cpus import thread_pools
from upid.store.base import Store
from upid.workflows.analyze import AnalysisRequest, load


@dataclass(frozen=True)
class ForecastReport:
    frame: UsageFrame
    horizon_hours: int
    forecasts: list[Forecast]
    capacity: list[Trend]


def run(store: Store, request: AnalysisRequest, horizon_hours: int, threads: int = 1) -> ForecastReport:
    """`threads`: the size of the OpenMP and BLAS pools the models train with (upid.cpus.usable_cpus)."""
    window = load(store, request)
    frame = window.usage
    containers = histories(window)
    series = [hourly(h, resource, frame.end) for h in containers for resource in ("cpu", "memory")]
    trends = capacity(containers, window.nodes, frame.start, frame.end)
    with thread_pools(threads):
        forecasts = forecast(series, horizon_hours)
    return ForecastReport(frame, horizon_hours, forecasts, trends)
