"""A DuckDB store's samples read back as SampleBatches (`storage copy`): a cluster's series a group at a time, each
with its samples, sources, request/limit change points and OOM kills, as a producer would hand them over."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from upid.store.duckdb import blocks
from upid.store.duckdb.queries import cluster_id

if TYPE_CHECKING:
    from upid.samples import SampleBatch

SERIES_PER_BATCH = 200


def batches(con: duckdb.DuckDBPyConnection, store: Path, cluster: str) -> Iterator[SampleBatch]:
    import numpy as np

    from upid.samples import SampleBatch

    cid = cluster_id(con, cluster)
    series = con.execute(
        "SELECT series_id, namespace, workload_kind, workload, pod, container, coalesce(node, '') FROM series "
        "WHERE cluster_id = ? ORDER BY series_id",
        [cid],
    ).fetchall()
    relation = blocks.samples_sql(blocks.block_files(con, store, cid))
    for at in range(0, len(series), SERIES_PER_BATCH):
        group = series[at : at + SERIES_PER_BATCH]
        index = {int(r[0]): i for i, r in enumerate(group)}
        listed = ", ".join(str(int(r[0])) for r in group)
        data = con.execute(f"""
            SELECT series_id, epoch(ts)::BIGINT AS ts, cpu_m, mem_kib, coalesce(net_rx::DOUBLE, 'NaN') AS rx,
                   coalesce(net_tx::DOUBLE, 'NaN') AS tx, source
            FROM ({relation}) WHERE series_id IN ({listed}) ORDER BY series_id, ts""").fetchnumpy()
        res = con.execute(f"""
            SELECT series_id, epoch(ts)::BIGINT AS ts, coalesce(cpu_request_m, -1) AS cpu_request_m,
                   coalesce(cpu_limit_m, -1) AS cpu_limit_m, coalesce(memory_request, -1) AS memory_request,
                   coalesce(memory_limit, -1) AS memory_limit
            FROM resources WHERE series_id IN ({listed}) ORDER BY series_id, ts""").fetchnumpy()
        kills = con.execute(f"""
            SELECT DISTINCT series_id, epoch(try_cast(last_termination_at AS TIMESTAMPTZ))::BIGINT AS ts
            FROM container_status WHERE series_id IN ({listed}) AND last_termination_reason = 'OOMKilled'
              AND last_termination_at IS NOT NULL""").fetchnumpy()
        if not len(data["ts"]):
            continue
        to_idx = np.vectorize(index.__getitem__, otypes=[np.int64])
        keys = ("namespace", "workload_kind", "workload", "pod", "container", "node")
        yield SampleBatch(
            cluster=cluster,
            source="import",
            series={k: np.asarray([r[i + 1] for r in group], dtype=object) for i, k in enumerate(keys)},
            series_idx=to_idx(np.asarray(data["series_id"])),
            ts=np.asarray(data["ts"]),
            cpu_m=np.asarray(data["cpu_m"]),
            mem_kib=np.asarray(data["mem_kib"]),
            net_rx=np.asarray(data["rx"]),
            net_tx=np.asarray(data["tx"]),
            source_codes=np.asarray(data["source"]),
            resources={
                "series_idx": to_idx(np.asarray(res["series_id"])) if len(res["ts"]) else np.zeros(0, np.int64),
                **{k: np.asarray(v) for k, v in res.items() if k != "series_id"},
            },  # fmt: skip
            oom_kills={
                "series_idx": to_idx(np.asarray(kills["series_id"])) if len(kills["ts"]) else np.zeros(0, np.int64),
                "ts": np.asarray(kills["ts"]),
            },  # fmt: skip
        )
