"""A cluster's stored samples as a stream of Parquet in the canonical import format (docs/import-format.md):
what `upid serve` answers at /api/v1/export and `upid storage pull` imports, idempotently, into another store.
Requests and limits are the values in force at each sample. Written by DuckDB (the binary carries no pyarrow)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from upid.errors import NoDataError
from upid.samples import SERIES_KEY, UNSET
from upid.store.base import Store

if TYPE_CHECKING:
    from upid.samples import SampleBatch


def _resources_at(batch: SampleBatch) -> dict[str, Any]:
    """Per sample, each request and limit in force (the last change point at or before it), NaN when unset."""
    import numpy as np

    n = len(batch)
    res = batch.resources
    out = {k: np.full(n, np.nan) for k in ("cpu_request_m", "cpu_limit_m", "memory_request", "memory_limit")}
    if not res or not len(res.get("ts", ())):
        return out
    shift = np.int64(1) << np.int64(40)  # series index in the high bits, the time below: one sortable key
    keys = res["series_idx"].astype(np.int64) * shift + res["ts"].astype(np.int64)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    samples = batch.series_idx.astype(np.int64) * shift + batch.ts.astype(np.int64)
    at = np.searchsorted(keys, samples, side="right") - 1
    same = (at >= 0) & (res["series_idx"][order][np.maximum(at, 0)] == batch.series_idx)
    for k in out:
        values = res[k][order][np.maximum(at, 0)].astype(np.float64)
        out[k] = np.where(same & (values != UNSET), values, np.nan)
    return out


def batch_columns(batch: SampleBatch, since: int | None) -> dict[str, Any]:
    """The batch's samples from `since` on as columns of the canonical format (NaN: unset, not measured)."""
    import numpy as np

    keep = np.ones(len(batch), dtype=bool) if since is None else batch.ts >= since
    res = {k: v[keep] for k, v in _resources_at(batch).items()}
    idx = batch.series_idx[keep]
    names = {k: np.asarray(batch.series[k], dtype=object)[idx] for k in (*SERIES_KEY, "node")}
    return {
        "cluster": np.full(int(keep.sum()), batch.cluster, dtype=object),
        "timestamp": batch.ts[keep].astype(np.int64),
        **names,
        "cpu_cores": batch.cpu_m[keep] / 1000.0,
        "memory_bytes": batch.mem_kib[keep].astype(np.float64) * 1024.0,
        "cpu_request_cores": res["cpu_request_m"] / 1000.0,
        "cpu_limit_cores": res["cpu_limit_m"] / 1000.0,
        "memory_request_bytes": res["memory_request"],
        "memory_limit_bytes": res["memory_limit"],
        "network_rx_bytes_per_s": batch.net_rx[keep].astype(np.float64),
        "network_tx_bytes_per_s": batch.net_tx[keep].astype(np.float64),
    }


def check_cluster(store: Store, cluster: str) -> None:
    known = store.clusters()
    if cluster not in known:
        raise NoDataError(f"no cluster {cluster!r} in the store", hint=f"known clusters: {', '.join(known) or 'none'}")


def parquet_stream(store: Store, cluster: str, since: int | None, folder: Path) -> Iterator[bytes]:
    """The Parquet file in pieces: the batches gathered in a scratch DuckDB (it spills to `folder`, not memory),
    written once as one file with zstd, read back a MiB at a time, and deleted."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="export-", suffix=".parquet", dir=folder)
    os.close(fd)
    path = Path(name)
    con = duckdb.connect()
    try:
        con.execute(f"SET temp_directory = {_literal(str(folder / 'export.tmp'))}")
        con.execute("SET preserve_insertion_order = true")
        con.execute(f"CREATE TABLE export ({', '.join(f'{c} {t}' for c, t in COLUMNS.items())})")
        for batch in store.batches(cluster):
            part = batch_columns(batch, since)  # noqa: F841 - DuckDB reads it by name
            con.execute(f"INSERT INTO export SELECT {', '.join(COLUMNS)} FROM part")
        con.execute(f"COPY export TO {_literal(str(path))} (FORMAT parquet, COMPRESSION zstd)")
        con.close()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk
    finally:
        con.close()
        path.unlink(missing_ok=True)


COLUMNS = {
    "cluster": "VARCHAR", "timestamp": "BIGINT", "namespace": "VARCHAR", "workload_kind": "VARCHAR",
    "workload": "VARCHAR", "pod": "VARCHAR", "container": "VARCHAR", "node": "VARCHAR", "cpu_cores": "DOUBLE",
    "memory_bytes": "DOUBLE", "cpu_request_cores": "DOUBLE", "cpu_limit_cores": "DOUBLE",
    "memory_request_bytes": "DOUBLE", "memory_limit_bytes": "DOUBLE", "network_rx_bytes_per_s": "DOUBLE",
    "network_tx_bytes_per_s": "DOUBLE",
}  # fmt: skip


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
