"""Hourly rollups of a PostgreSQL store: per series and hour the count, sums, exact peaks and the +5 % CPU and memory
histograms, the same rows the DuckDB store keeps in its rollup blocks, kept a row per series and day (rollups_day:
the day's hours in arrays, so TOAST compresses them; a row per hour cost 228 bytes on disk).

The rollup itself is the DuckDB store's SQL (store/duckdb/rollups.py), run on an in-memory DuckDB over the decoded
day rows, so both stores roll up alike by construction. `storage compact` drains the rollup queue (the series-days
a write added a part to): it merges each day's parts into one row and replaces that day's rollup whole, a batch
per transaction; `storage cleanup` compacts before it drops anything. A window read at hourly resolution takes
the stored rollups of the days not queued, and rolls up the queued ones now, so its answer does not depend on when
compact last ran; the hourly frame is then store/duckdb/hourly.py's, in the same in-memory DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from upid.store.duckdb import rollups
from upid.store.postgres.arrays import numpy_cursor
from upid.store.postgres.writer import _as_array, _decode

if TYPE_CHECKING:
    import duckdb
    import psycopg

    from upid.analysis.window import Hours

HOUR = rollups.HOUR
ROWS_PER_TRANSACTION = 2000  # day rows rolled up per compact transaction


def _engine() -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 1")  # small inputs; the server and the analysis use the CPUs
    return con


def _register_samples(engine: duckdb.DuckDBPyConnection, day_rows: list[tuple[Any, ...]]) -> str:
    """The decoded samples of (series_id, ts, cpu_m, mem_kib, net_rx, net_tx) day rows, registered as p_samples;
    returns the relation rollup_sql reads (the DuckDB store's sample columns)."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("series_id", "ts", "cpu_m", "mem_kib", "net_rx", "net_tx")}
    for sid, ts, cpu, mem, rx, tx in day_rows:
        t = _decode(ts)
        parts["series_id"].append(np.full(len(t), int(sid), dtype=np.int64))
        for name, values in (("ts", t), ("cpu_m", _decode(cpu)), ("mem_kib", _decode(mem)),
                             ("net_rx", _as_array(rx, len(t))), ("net_tx", _as_array(tx, len(t)))):  # fmt: skip
            parts[name].append(values)
    empty = {"series_id": np.int64, "ts": np.int64, "cpu_m": np.int64, "mem_kib": np.int64, "net_rx": float,
             "net_tx": float}  # fmt: skip
    engine.register("p_samples", {k: np.concatenate(v) if v else np.zeros(0, dtype=empty[k]) for k, v in parts.items()})
    return """SELECT series_id, make_timestamp(ts * 1000000) AS ts, cpu_m::INTEGER AS cpu_m, mem_kib,
                     CASE WHEN isnan(net_rx) THEN NULL ELSE net_rx::BIGINT END AS net_rx,
                     CASE WHEN isnan(net_tx) THEN NULL ELSE net_tx::BIGINT END AS net_tx FROM p_samples"""


def compact(con: psycopg.Connection) -> dict[str, int]:
    """Merge each waiting series-day's parts into one row and roll it up; returns the day rows ("blocks"), their
    samples and the hourly rows written. A batch of series-days per transaction, under the clusters' write locks
    (their writers wait for that transaction, other clusters' do not)."""
    done = {"blocks": 0, "samples": 0, "hourly_rows": 0}
    engine = _engine()
    while True:
        with con.transaction():
            keys = con.execute(
                "SELECT cluster_id, series_id, day FROM upid.rollup_queue ORDER BY cluster_id, day, series_id "
                "LIMIT %s",  # no row lock: a writer queues a day while this waits for its cluster's lock
                [ROWS_PER_TRANSACTION],
            ).fetchall()
            if not keys:
                return done
            for cid in sorted({int(k[0]) for k in keys}):  # a writer adding a part now would be missed
                con.execute("SELECT pg_advisory_xact_lock(hashtext('upid.cluster'), %s)", [cid])
            columns = [[int(k[i]) for k in keys] for i in range(3)]
            parts = (
                numpy_cursor(con)
                .execute(
                    """SELECT d.cluster_id, d.series_id, d.day, d.part, d.ts, d.cpu_m, d.mem_kib, d.net_rx, d.net_tx
                       FROM upid.samples_day d JOIN unnest(%s::int[], %s::int[], %s::int[])
                            AS k(cluster_id, series_id, day) USING (cluster_id, series_id, day)
                       ORDER BY 1, 2, 3, 4""",
                    columns,
                )
                .fetchall()
            )
            merged = _merge_parts(con, parts)
            relation = _register_samples(engine, [(r[1], *r[4:]) for r in merged])
            engine.execute(f"CREATE OR REPLACE TEMP TABLE r_new AS {rollups.rollup_sql(relation)}")
            engine.unregister("p_samples")
            done["hourly_rows"] += _upsert_hours(con, engine, {int(r[1]): int(r[0]) for r in merged})
            con.execute(
                "DELETE FROM upid.rollup_queue q USING unnest(%s::int[], %s::int[], %s::int[]) "
                "AS k(cluster_id, series_id, day) "
                "WHERE q.cluster_id = k.cluster_id AND q.series_id = k.series_id AND q.day = k.day",
                columns,
            )
            done["blocks"] += len(merged)
            done["samples"] += sum(len(r[4]) for r in merged)


def _merge_parts(con: psycopg.Connection, parts: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Each series-day's parts as one row: a day of one part stays as it is, one of several is replaced by the
    merged row (written once, sorted by time). Returns the rows as (cluster, series, day, part, arrays...) with
    the arrays delta-encoded, as stored."""
    from upid.store.postgres.writer import _encode, _plain, insert_parts

    groups: dict[tuple[int, int, int], list[tuple[Any, ...]]] = {}
    for r in parts:
        groups.setdefault((int(r[0]), int(r[1]), int(r[2])), []).append(r)
    out, several = [], []
    for key, rows in groups.items():
        if len(rows) == 1:
            out.append(rows[0])
            continue
        several.append(key)
        t = np.concatenate([_decode(r[4]) for r in rows])
        n = [len(r[4]) for r in rows]
        values = [np.concatenate([_decode(r[i]) for r in rows]) for i in (5, 6)]
        nets = [np.concatenate([_as_array(r[i], k) for r, k in zip(rows, n, strict=True)]) for i in (7, 8)]
        order = np.argsort(t, kind="stable")
        row = (*key, 0, _encode(t[order]), _encode(values[0][order]), _encode(values[1][order]),
               _plain(nets[0][order]), _plain(nets[1][order]))  # fmt: skip
        out.append(row)
    if several:
        con.execute(
            "DELETE FROM upid.samples_day d USING unnest(%s::int[], %s::int[], %s::int[]) "
            "AS k(cluster_id, series_id, day) "
            "WHERE d.cluster_id = k.cluster_id AND d.series_id = k.series_id AND d.day = k.day",
            [[k[i] for k in several] for i in range(3)],
        )
        rewritten = set(several)
        insert_parts(con, [(r[2], r[0], r[1], *r[3:]) for r in out if (r[0], r[1], r[2]) in rewritten], queue=False)
    return out


def _upsert_hours(con: psycopg.Connection, engine: duckdb.DuckDBPyConnection, clusters: dict[int, int]) -> int:
    """The rollup rows in the engine's r_new into rollups_day, a row per series and day (a day row rolled up again
    replaces its day's row whole), through two binary COPYs built by numpy: the hours' scalars, and the histogram
    cells one per row; the server gathers them into each day's arrays. Returns the hours written."""
    from upid.store.postgres.copy import copy_into

    scalars = engine.execute("""SELECT series_id, hour, n, cpu_sum, cpu_max, mem_sum, mem_max, net_n,
                                       coalesce(net_sum, 'NaN'::DOUBLE) AS net_sum,
                                       coalesce(net_max, 'NaN'::FLOAT) AS net_max,
                                       len(cpu_cells) AS cpu_k, len(mem_cells) AS mem_k FROM r_new""").fetchnumpy()
    if not len(scalars["hour"]):
        return 0
    cells = engine.execute("""SELECT series_id, hour, 0 AS kind, unnest(cpu_cells) AS cell FROM r_new
                              UNION ALL SELECT series_id, hour, 1, unnest(mem_cells) FROM r_new""").fetchnumpy()
    days = np.asarray(scalars["hour"]) // 24
    con.execute("SELECT upid.ensure_partitions('rollups_day', 86400, %s, %s)", [int(days.min()), int(days.max())])
    con.execute("""CREATE TEMP TABLE IF NOT EXISTS w_hours (cluster_id int4, series_id int4, hour int4, n int2,
                       cpu_sum int8, cpu_max int4, mem_sum int8, mem_max int8, net_n int2, net_sum float8,
                       net_max float4, cpu_k int2, mem_k int2) ON COMMIT DELETE ROWS""")
    con.execute("CREATE TEMP TABLE IF NOT EXISTS w_cells (series_id int4, hour int4, kind int2, cell int4) "
                "ON COMMIT DELETE ROWS")  # fmt: skip
    cluster = np.vectorize(clusters.__getitem__, otypes=[np.int64])(np.asarray(scalars["series_id"]))
    kinds = {"series_id": "int4", "hour": "int4", "n": "int2", "cpu_sum": "int8", "cpu_max": "int4",
             "mem_sum": "int8", "mem_max": "int8", "net_n": "int2", "net_sum": "float8", "net_max": "float4",
             "cpu_k": "int2", "mem_k": "int2"}  # fmt: skip
    copy_into(con, "w_hours", ["cluster_id", *kinds],
              [(cluster, "int4"), *((np.asarray(scalars[k]), t) for k, t in kinds.items())])  # fmt: skip
    copy_into(con, "w_cells", ["series_id", "hour", "kind", "cell"],
              [(np.asarray(cells[k]), t) for k, t in (("series_id", "int4"), ("hour", "int4"), ("kind", "int2"),
                                                       ("cell", "int4"))])  # fmt: skip
    arrays = ["hours", "n", "cpu_sum", "cpu_max", "mem_sum", "mem_max", "net_n", "net_sum", "net_max", "cpu_k",
              "cpu_cells", "mem_k", "mem_cells"]  # fmt: skip
    con.execute(f"""
        INSERT INTO upid.rollups_day (day, cluster_id, series_id, {", ".join(arrays)})
        SELECT h.day, h.cluster_id, h.series_id, h.hours, h.n, h.cpu_sum, h.cpu_max, h.mem_sum, h.mem_max, h.net_n,
               h.net_sum, h.net_max, h.cpu_k, c.cpu_cells, h.mem_k, c.mem_cells
        FROM (SELECT cluster_id, series_id, hour / 24 AS day, array_agg((hour % 24)::int2 ORDER BY hour) AS hours,
                     array_agg(n ORDER BY hour) AS n, array_agg(cpu_sum ORDER BY hour) AS cpu_sum,
                     array_agg(cpu_max ORDER BY hour) AS cpu_max, array_agg(mem_sum ORDER BY hour) AS mem_sum,
                     array_agg(mem_max ORDER BY hour) AS mem_max, array_agg(net_n ORDER BY hour) AS net_n,
                     CASE WHEN bool_or(net_sum <> 'NaN') THEN array_agg(nullif(net_sum, 'NaN')::int8 ORDER BY hour)
                     END AS net_sum,
                     CASE WHEN bool_or(net_max <> 'NaN') THEN array_agg(nullif(net_max, 'NaN') ORDER BY hour)
                     END AS net_max,
                     array_agg(cpu_k ORDER BY hour) AS cpu_k, array_agg(mem_k ORDER BY hour) AS mem_k
              FROM w_hours GROUP BY 1, 2, 3) h
        JOIN (SELECT series_id, hour / 24 AS day,
                     array_agg(cell ORDER BY hour, cell) FILTER (WHERE kind = 0) AS cpu_cells,
                     array_agg(cell ORDER BY hour, cell) FILTER (WHERE kind = 1) AS mem_cells
              FROM w_cells GROUP BY 1, 2) c USING (series_id, day)
        ON CONFLICT (cluster_id, series_id, day) DO UPDATE SET {", ".join(f"{a} = EXCLUDED.{a}" for a in arrays)}""")
    return len(days)


def first_hour(con: psycopg.Connection, cid: int) -> int | None:
    row = con.execute(
        "SELECT min(day * 24 + hours[1]) FROM upid.rollups_day WHERE cluster_id = %s "
        "AND day = (SELECT min(day) FROM upid.rollups_day WHERE cluster_id = %s)",
        [cid, cid],
    ).fetchone()
    return None if not row or row[0] is None else int(row[0]) * HOUR


_STORED = ("series_id", "day", "hours", "n", "cpu_sum", "cpu_max", "mem_sum", "mem_max", "net_n", "net_sum",
           "net_max", "cpu_k", "cpu_cells", "mem_k", "mem_cells")  # fmt: skip


def _stored_hours(rows: list[tuple[Any, ...]]) -> Any:
    """rollups_day rows as one Arrow table of rollup rows (rollup_sql's columns), an hour per row."""
    import pyarrow as pa

    col = {name: [r[i] for r in rows] for i, name in enumerate(_STORED)}
    lengths = np.asarray([len(h) for h in col["hours"]], dtype=np.int64)

    def flat(name: str, dtype: Any = np.int64) -> np.ndarray:
        return np.concatenate(col[name]).astype(dtype) if rows else np.zeros(0, dtype=dtype)

    def nullable(name: str) -> Any:  # a day with no network measured has NULL arrays
        parts = [np.full(n, np.nan) if v is None else np.asarray(v, dtype=float)
                 for v, n in zip(col[name], lengths, strict=True)]  # fmt: skip
        values = np.concatenate(parts) if parts else np.zeros(0)
        return pa.array(values, mask=np.isnan(values))

    def cells(values: str, counts: str) -> Any:
        offsets = np.r_[0, np.cumsum(flat(counts))].astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat(values)))

    series = np.repeat(np.asarray(col["series_id"], dtype=np.int64), lengths)
    hours = np.repeat(np.asarray(col["day"], dtype=np.int64), lengths) * 24 + flat("hours")
    return pa.table({
        "series_id": series, "hour": hours, "n": flat("n"), "cpu_sum": flat("cpu_sum", float),
        "cpu_max": flat("cpu_max"), "mem_sum": flat("mem_sum", float), "mem_max": flat("mem_max"),
        "net_n": flat("net_n"), "net_sum": nullable("net_sum"), "net_max": pa.array(nullable("net_max"),
                                                                                     type=pa.float32()),
        "cpu_cells": cells("cpu_cells", "cpu_k"), "mem_cells": cells("mem_cells", "mem_k"),
    })  # fmt: skip


def window(
    con: psycopg.Connection, cid: int, where_series: dict[int, tuple[int, int]], start: int, end: int
) -> tuple[dict[str, np.ndarray], Hours]:
    """The window's pod-hours (`where_series`: series id -> (container index, pod index)): the rollups of the
    days whose day rows are rolled up (or gone to retention), and the others rolled up now."""
    from upid.store.duckdb import hourly

    first_day, last_day = (int(start) // HOUR + 1) // 24, int(end) // HOUR // 24
    ids = list(where_series)
    stored = (
        numpy_cursor(con)
        .execute(
            f"""SELECT {", ".join(_STORED)} FROM upid.rollups_day r
                WHERE r.cluster_id = %s AND r.day BETWEEN %s AND %s AND r.series_id = ANY(%s)
                  AND NOT EXISTS (SELECT 1 FROM upid.rollup_queue q WHERE q.cluster_id = r.cluster_id
                                  AND q.series_id = r.series_id AND q.day = r.day)""",
            [cid, first_day, last_day, ids],
        )
        .fetchall()
    )
    pending = (
        numpy_cursor(con)
        .execute(
            """SELECT series_id, ts, cpu_m, mem_kib, net_rx, net_tx FROM upid.samples_day d WHERE cluster_id = %s
               AND day BETWEEN %s AND %s AND series_id = ANY(%s) AND EXISTS (
                   SELECT 1 FROM upid.rollup_queue q WHERE q.cluster_id = d.cluster_id AND q.series_id = d.series_id
                   AND q.day = d.day)""",  # every part of a day that waits
            [cid, first_day, last_day, ids],
        )
        .fetchall()
    )
    engine = _engine()
    engine.register("p_stored", _stored_hours(stored))
    now = rollups.rollup_sql(_register_samples(engine, pending))
    engine.register("w_series_in", {"series_id": np.asarray(ids, dtype=np.int64),
                                    "cidx": np.asarray([where_series[s][0] for s in ids], dtype=np.int64),
                                    "pidx": np.asarray([where_series[s][1] for s in ids], dtype=np.int64)})  # fmt: skip
    engine.execute("CREATE TEMP TABLE w_series AS SELECT * FROM w_series_in")
    return hourly.frame(engine, f"SELECT * FROM p_stored UNION ALL ({now})", start, end)
