"""Import a file in the canonical format into the store."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from upid.ingest.canonical import ImportReport, parsed
from upid.samples import Acceptance
from upid.store.base import AuditRecord, Store, WriteResult


@dataclass
class ImportOutcome:
    report: ImportReport
    writes: list[WriteResult] = field(default_factory=list)

    @property
    def written(self) -> int:
        return sum(w.written for w in self.writes)

    @property
    def spooled(self) -> int:
        return sum(w.received for w in self.writes if w.spooled)

    def summary(self) -> dict[str, Any]:
        r = self.report
        return {
            "file": str(r.path),
            "rows": r.rows,
            "bad_rows": r.bad,
            "duplicate_rows": r.duplicates,
            "reasons": r.reasons,
            "ignored_columns": r.ignored_columns,
            "clusters": [
                {
                    "cluster": w.cluster,
                    "samples": w.received,
                    "written": w.written,
                    "already_stored": 0 if w.spooled else w.received - w.written,
                    "series_created": w.series_created,
                    "spooled": w.spooled,
                }
                for w in self.writes
            ],
        }


def import_file(
    store: Store, path: Path, cluster: str, audit: AuditRecord, accept: Acceptance | None = None
) -> ImportOutcome:
    """Parse and validate first (no lock held), then write the file's batches (a million samples at most each)
    as they are built, all in one transaction; one result per cluster."""
    with parsed(path, cluster, accept) as (report, batches):
        results = store.write_many(batches, audit)
    outcome = ImportOutcome(report=report)
    merged: dict[str, WriteResult] = {}
    for r in results:
        before = merged.get(r.cluster)
        merged[r.cluster] = r if before is None else replace(
            before, received=before.received + r.received, written=before.written + r.written,
            series_created=before.series_created + r.series_created,
        )  # fmt: skip
    outcome.writes = list(merged.values())
    return outcome
