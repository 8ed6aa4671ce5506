"""The demo: a bundled sample of real traces, imported into a store of its own, then analysed."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from upid.analysis.idle import IdleItem
from upid.analysis.rightsizing import RightsizingReport
from upid.settings import Settings, ensure_home
from upid.store.base import AuditRecord
from upid.store.duckdb.store import DuckDBStore
from upid.workflows.analyze import AnalysisRequest, analyze
from upid.workflows.importing import import_file

SAMPLE = "bitbrains-sample.parquet"
CLUSTER = "demo"
SOURCE = "Bitbrains GWA-T-12 Rnd (TU Delft Grid Workloads Archive), August 2013"


@dataclass
class DemoResult:
    store: Path
    samples: int
    source: str
    report: RightsizingReport
    idle: list[IdleItem]


def sample_path() -> Path:
    return Path(str(resources.files("upid.data") / "demo" / SAMPLE))


def run_demo(settings: Settings, audit: AuditRecord) -> DemoResult:
    """Rebuild $UPID_HOME/demo/ from the bundled sample; the user's own store is never opened."""
    ensure_home(settings.home)
    folder = settings.home / "demo"
    if folder.exists():
        shutil.rmtree(folder)
    store = DuckDBStore(folder / "upid.duckdb", lock_timeout=settings.lock_timeout)
    outcome = import_file(store, sample_path(), CLUSTER, audit)
    report, idle = analyze(store, AnalysisRequest(cluster=CLUSTER))
    return DemoResult(store=store.path, samples=outcome.written, source=SOURCE, report=report, idle=idle)
