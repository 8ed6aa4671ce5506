"""`storage export` and `storage verify` on a PostgreSQL store.

Export writes the same Parquet layout as the DuckDB store's (hive-partitioned by cluster and day, the usage view's
columns), with DuckDB in memory as the Parquet writer; a PostgreSQL store keeps no per-sample source, so `source`
is empty. Verify reads every day row and checks it on the server: its arrays of one length, its times rising
within its day, its series in its cluster; one problem per bad row."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from upid import redact
from upid.store.base import prepare_export
from upid.store.postgres import window
from upid.store.postgres.writer import DAY

if TYPE_CHECKING:
    from pathlib import Path

    import psycopg

FLUSH_SAMPLES = 2_000_000  # samples held before they are written out (memory stays bounded)
_COLUMNS = """cluster, namespace, workload_kind, workload, pod, container, node, make_timestamp(ts * 1000000)::TIMESTAMP
    AS timestamp, cpu_m / 1000.0 AS cpu_cores, mem_kib * 1024 AS memory_bytes, net_rx AS network_rx_bytes_per_s,
    net_tx AS network_tx_bytes_per_s, NULL::VARCHAR AS source"""


def export(con: psycopg.Connection, directory: Path, overwrite: bool) -> dict[str, int]:
    import duckdb
    import numpy as np

    prepare_export(directory, overwrite)
    writer = duckdb.connect()
    total = 0
    held: list[dict[str, np.ndarray]] = []

    def flush() -> None:
        if not held:
            return
        writer.register("e_rows", {k: np.concatenate([h[k] for h in held]) for k in held[0]})
        writer.execute(
            f"""COPY (SELECT *, strftime(timestamp, '%Y-%m-%d') AS day FROM (SELECT {_COLUMNS} FROM e_rows)
                      ORDER BY cluster, day, namespace, workload, pod, container, timestamp)
                TO '{str(directory).replace("'", "''")}'
                (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (cluster, day), APPEND)"""
        )
        writer.unregister("e_rows")
        held.clear()

    names = [r[0] for r in con.execute("SELECT name FROM upid.clusters ORDER BY name").fetchall()]
    for name in names:
        for batch in window.batches(con, name):
            idx = np.asarray(batch.series_idx)
            rows = {k: np.asarray(batch.series[k], dtype=object)[idx] for k in
                    ("namespace", "workload_kind", "workload", "pod", "container", "node")}  # fmt: skip
            rows["node"] = np.asarray([v or None for v in rows["node"]], dtype=object)
            rows["cluster"] = np.full(len(idx), name, dtype=object)
            for key, values in (("ts", batch.ts), ("cpu_m", batch.cpu_m), ("mem_kib", batch.mem_kib),
                                ("net_rx", batch.net_rx), ("net_tx", batch.net_tx)):  # fmt: skip
                rows[key] = np.asarray(values)
            held.append(rows)
            total += len(idx)
            if sum(len(h["ts"]) for h in held) >= FLUSH_SAMPLES:
                flush()
    flush()
    return {"samples": total, "files": len(list(directory.rglob("*.parquet")))}


def verify(con: psycopg.Connection, url: str) -> dict[str, Any]:
    rows = con.execute(
        f"""SELECT d.day, d.series_id, c.name,
                   cardinality(d.ts) = cardinality(d.cpu_m) AND cardinality(d.ts) = cardinality(d.mem_kib)
                     AND coalesce(cardinality(d.net_rx) = cardinality(d.ts), true)
                     AND coalesce(cardinality(d.net_tx) = cardinality(d.ts), true) AS lengths,
                   coalesce((SELECT bool_and(v > 0) FROM unnest(d.ts[2:]) AS v), true) AS rising,
                   d.ts[1] >= d.day::bigint * {DAY}
                     AND (SELECT sum(v) FROM unnest(d.ts) AS v) < (d.day::bigint + 1) * {DAY} AS in_day,
                   s.cluster_id IS NOT DISTINCT FROM d.cluster_id AS in_cluster, cardinality(d.ts)
            FROM upid.samples_day d LEFT JOIN upid.series s USING (series_id)
            LEFT JOIN upid.clusters c ON c.cluster_id = d.cluster_id"""
    ).fetchall()
    problems = []
    samples = 0
    for day, sid, cluster, lengths, rising, in_day, in_cluster, n in rows:
        samples += int(n or 0)
        wrong = [what for ok, what in ((lengths, "arrays of different lengths"), (rising, "times not rising"),
                                       (in_day, "times outside its day"), (in_cluster, "a series of another cluster"))
                 if not ok]  # fmt: skip
        if wrong:
            problems.append(f"store {redact.url(url)}: day row (series {sid}, day {day}) of cluster {cluster} has "
                            f"{' and '.join(wrong)}")  # fmt: skip
    tables = con.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'upid' "
        "AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
    ).fetchone()
    return {"store": redact.url(url), "tables": int(tables[0]) if tables else 0, "blocks": len(rows),
            "samples": samples, "problems": problems}  # fmt: skip
