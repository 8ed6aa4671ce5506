"""Import a file in the canonical format into the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upid.ingest.canonical import ImportReport, read_canonical
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
    """Parse and validate first (no lock held), then write one batch per cluster found in the file."""
    report = read_canonical(path, cluster, accept)
    outcome = ImportOutcome(report=report)
    outcome.writes = store.write_many(report.batches, audit)
    return outcome
