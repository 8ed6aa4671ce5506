"""A cluster's stored samples as a stream of Parquet in the canonical import format (docs/import-format.md):
what `upid serve` answers at /api/v1/export and `upid storage pull` imports, idempotently, into another store.
Each SampleBatch becomes one row group; requests and limits are the values in force at each sample."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from upid.errors import NoDataError
from upid.samples import UNSET
from upid.store.base import Store

if TYPE_CHECKING:
    import pyarrow as pa

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


def batch_table(batch: SampleBatch, since: int | None) -> pa.Table:
    import numpy as np
    import pyarrow as pa

    keep = np.ones(len(batch), dtype=bool) if since is None else batch.ts >= since
    res = {k: v[keep] for k, v in _resources_at(batch).items()}
    idx = batch.series_idx[keep]

    def series(name: str) -> pa.Array:
        return pa.array(np.asarray(batch.series[name], dtype=object)[idx], pa.string())

    return pa.table({
        "cluster": pa.array([batch.cluster] * int(keep.sum()), pa.string()),
        "timestamp": pa.array(batch.ts[keep].astype(np.int64), pa.int64()),
        **{k: series(k) for k in ("namespace", "workload_kind", "workload", "pod", "container", "node")},
        "cpu_cores": pa.array(batch.cpu_m[keep] / 1000.0),
        "memory_bytes": pa.array(batch.mem_kib[keep].astype(np.float64) * 1024.0),
        "cpu_request_cores": pa.array(res["cpu_request_m"] / 1000.0, from_pandas=True),
        "cpu_limit_cores": pa.array(res["cpu_limit_m"] / 1000.0, from_pandas=True),
        "memory_request_bytes": pa.array(res["memory_request"], from_pandas=True),
        "memory_limit_bytes": pa.array(res["memory_limit"], from_pandas=True),
        "network_rx_bytes_per_s": pa.array(batch.net_rx[keep].astype(np.float64), from_pandas=True),
        "network_tx_bytes_per_s": pa.array(batch.net_tx[keep].astype(np.float64), from_pandas=True),
    })  # fmt: skip


def check_cluster(store: Store, cluster: str) -> None:
    known = store.clusters()
    if cluster not in known:
        raise NoDataError(f"no cluster {cluster!r} in the store", hint=f"known clusters: {', '.join(known) or 'none'}")


class _Chunks(io.RawIOBase):
    """A write-only file that hands out what was written since the last take (pyarrow tracks the offsets)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def parquet_stream(store: Store, cluster: str, since: int | None) -> Iterator[bytes]:
    """The Parquet file, in pieces as its row groups are written (a batch of the store at a time)."""
    import pyarrow.parquet as pq

    sink = _Chunks()
    writer: pq.ParquetWriter | None = None
    for batch in store.batches(cluster):
        table = batch_table(batch, since)
        if writer is None:
            writer = pq.ParquetWriter(sink, table.schema, compression="zstd")
        if table.num_rows:
            writer.write_table(table)
        yield sink.take()
    if writer is None:  # no batch at all: an empty file with the schema
        writer = pq.ParquetWriter(sink, _empty(cluster).schema, compression="zstd")
    writer.close()
    yield sink.take()


def _empty(cluster: str) -> pa.Table:
    import numpy as np

    from upid.samples import SERIES_KEY, SampleBatch

    nothing = np.array([], dtype=np.int64)
    names = {k: np.array([], dtype=object) for k in (*SERIES_KEY, "node")}
    return batch_table(SampleBatch(cluster, "import", names, nothing, nothing, nothing, nothing, nothing * 1.0,
                                   nothing * 1.0), None)  # fmt: skip
