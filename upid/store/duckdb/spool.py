"""The spool: batches that could not get the store's write lock in time wait here as .npz files.

A file appears atomically (written aside, then renamed) and is removed only after its batch has
committed, so a crash at any point loses nothing; merging twice is harmless because writes are idempotent.
"""

from __future__ import annotations

import json
import os
import time
import uuid
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from upid.samples import SampleBatch
from upid.store.base import AuditRecord

if TYPE_CHECKING:
    pass  # annotations only; numpy is imported where it is used


def spool_dir(store: Path) -> Path:
    return store.parent / (store.name + ".spool")


def put(store: Path, batch: SampleBatch, audit: AuditRecord, extra: dict[str, Any] | None = None) -> Path:
    import numpy as np

    folder = spool_dir(store)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "cluster": batch.cluster,
        "source": batch.source,
        "audit": {"command": audit.command, "args": audit.args, "user": audit.user},
        "extra": extra,  # a collection's inventory, written with its samples when merged
    }
    arrays: dict[str, Any] = {k: (v.astype(str) if v.dtype == object else v) for k, v in batch.columns().items()}
    arrays["__meta__"] = np.array(json.dumps(meta))
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    tmp = folder / f".{name}.tmp.npz"
    np.savez(tmp, **arrays)
    target = folder / f"{name}.npz"
    os.replace(tmp, target)
    return target


def pending(store: Path) -> list[Path]:
    folder = spool_dir(store)
    return sorted(folder.glob("[0-9]*.npz")) if folder.exists() else []


class BadSpoolFile(Exception):
    """A spool file that is not one upid wrote whole (damaged, truncated, foreign)."""


def load(path: Path) -> tuple[SampleBatch, AuditRecord, dict[str, Any] | None]:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            cols = {k: data[k] for k in data.files if k != "__meta__"}
        a = meta["audit"]
        batch = SampleBatch.from_columns(meta["cluster"], meta["source"], cols)
        return batch, AuditRecord(command=a["command"], args=list(a["args"]), user=a["user"]), meta.get("extra")
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as e:
        raise BadSpoolFile(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'unreadable'}") from e


def quarantine(path: Path) -> Path:
    """Rename a bad spool file aside (kept for inspection, never merged, never deleted by upid)."""
    aside = path.with_name(path.name + ".bad")
    os.replace(path, aside)
    return aside
