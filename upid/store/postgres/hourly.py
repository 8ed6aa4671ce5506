"""Hourly rollups of a PostgreSQL store: one samples_hour row per series and hour (count, sums, exact peaks, the +5 %
CPU and memory histograms), the same rows the DuckDB store keeps in its rollup blocks.

The rollup itself is the DuckDB store's SQL (store/duckdb/rollups.py), run on an in-memory DuckDB over the decoded
day rows, so both stores roll up alike by construction. `storage compact` rolls up every day row waiting for it
(`rolled_up` false: new, or merged into since), a batch of rows per transaction, each row's 24 hours replaced
whole; `storage cleanup` compacts before it drops anything. A window read at hourly resolution takes the stored
rows of the day rows that are rolled up, and rolls up the others now, so its answer does not depend on when
compact last ran; the hourly frame is then store/duckdb/hourly.py's, in the same in-memory DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from upid.store.duckdb import rollups
from upid.store.postgres.arrays import numpy_cursor
from upid.store.postgres.writer import DAY, _as_array, _decode

if TYPE_CHECKING:
    import duckdb
    import psycopg

    from upid.analysis.window import Hours

HOUR = rollups.HOUR
ROWS_PER_TRANSACTION = 2000  # day rows rolled up per compact transaction
_STORED = "series_id, hour, n, cpu_sum, cpu_max, mem_sum, mem_max, net_n, net_sum, net_max, cpu_cells, mem_cells"


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
    """Roll up every day row that waits; returns day rows ("blocks"), samples and hourly rows written."""
    done = {"blocks": 0, "samples": 0, "hourly_rows": 0}
    engine = _engine()
    while True:
        with con.transaction():
            waiting = (
                numpy_cursor(con)
                .execute(
                    """SELECT series_id, day, cluster_id, ts, cpu_m, mem_kib, net_rx, net_tx FROM upid.samples_day
                       WHERE NOT rolled_up ORDER BY cluster_id, day, series_id LIMIT %s FOR UPDATE SKIP LOCKED""",
                    [ROWS_PER_TRANSACTION],
                )
                .fetchall()
            )
            if not waiting:
                return done
            clusters = {int(r[0]): int(r[2]) for r in waiting}
            relation = _register_samples(engine, [(r[0], *r[3:]) for r in waiting])
            engine.execute(f"CREATE OR REPLACE TEMP TABLE r_new AS {rollups.rollup_sql(relation)}")
            engine.unregister("p_samples")
            rows = _upsert_hours(con, engine, clusters)
            con.execute(
                "UPDATE upid.samples_day d SET rolled_up = true FROM unnest(%s::int[], %s::int[]) AS k(series_id, day) "
                "WHERE d.series_id = k.series_id AND d.day = k.day",
                [[int(r[0]) for r in waiting], [int(r[1]) for r in waiting]],
            )
            done["blocks"] += len(waiting)
            done["samples"] += sum(len(r[3]) for r in waiting)
            done["hourly_rows"] += rows


def _upsert_hours(con: psycopg.Connection, engine: duckdb.DuckDBPyConnection, clusters: dict[int, int]) -> int:
    """The rollup rows in the engine's r_new into samples_hour (each day row's hours replace what was stored for
    them), through two binary COPYs built by numpy: the scalars, and the histogram cells one per row, which the
    server gathers back into arrays. Returns the rows."""
    from upid.store.postgres.copy import copy_into

    scalars = engine.execute("""SELECT series_id, hour, n, cpu_sum, cpu_max, mem_sum, mem_max, net_n,
                                       coalesce(net_sum, 'NaN'::DOUBLE) AS net_sum,
                                       coalesce(net_max, 'NaN'::FLOAT) AS net_max FROM r_new""").fetchnumpy()
    if not len(scalars["hour"]):
        return 0
    cells = engine.execute("""SELECT series_id, hour, 0 AS kind, unnest(cpu_cells) AS cell FROM r_new
                              UNION ALL SELECT series_id, hour, 1, unnest(mem_cells) FROM r_new""").fetchnumpy()
    hours = np.asarray(scalars["hour"])
    con.execute("SELECT upid.ensure_partitions('samples_hour', 3600, %s, %s)", [int(hours.min()), int(hours.max())])
    con.execute("""CREATE TEMP TABLE IF NOT EXISTS w_hours (cluster_id int4, series_id int4, hour int4, n int2,
                       cpu_sum float8, cpu_max int4, mem_sum float8, mem_max int8, net_n int2, net_sum float8,
                       net_max float4) ON COMMIT DELETE ROWS""")
    con.execute("CREATE TEMP TABLE IF NOT EXISTS w_cells (series_id int4, hour int4, kind int2, cell int4) "
                "ON COMMIT DELETE ROWS")  # fmt: skip
    series = np.asarray(scalars["series_id"])
    cluster = np.vectorize(clusters.__getitem__, otypes=[np.int64])(series)
    kinds = ("int4", "int4", "int2", "float8", "int4", "float8", "int8", "int2", "float8", "float4")
    names = ["series_id", "hour", "n", "cpu_sum", "cpu_max", "mem_sum", "mem_max", "net_n", "net_sum", "net_max"]
    values = [(np.asarray(scalars[k]), t) for k, t in zip(names, kinds, strict=True)]
    copy_into(con, "w_hours", ["cluster_id", *names], [(cluster, "int4"), *values])
    copy_into(con, "w_cells", ["series_id", "hour", "kind", "cell"],
              [(np.asarray(cells[k]), t) for k, t in (("series_id", "int4"), ("hour", "int4"), ("kind", "int2"),
                                                       ("cell", "int4"))])  # fmt: skip
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*names[2:], "cpu_cells", "mem_cells"])
    con.execute(f"""
        INSERT INTO upid.samples_hour (cluster_id, {", ".join(names)}, cpu_cells, mem_cells)
        SELECT h.cluster_id, h.series_id, h.hour, h.n, h.cpu_sum, h.cpu_max, h.mem_sum, h.mem_max, h.net_n,
               nullif(h.net_sum, 'NaN'), nullif(h.net_max, 'NaN'), c.cpu_cells, c.mem_cells
        FROM w_hours h JOIN (
            SELECT series_id, hour, array_agg(cell ORDER BY cell) FILTER (WHERE kind = 0) AS cpu_cells,
                   array_agg(cell ORDER BY cell) FILTER (WHERE kind = 1) AS mem_cells
            FROM w_cells GROUP BY 1, 2) c USING (series_id, hour)
        ON CONFLICT (cluster_id, series_id, hour) DO UPDATE SET {updates}""")
    return len(hours)


def first_hour(con: psycopg.Connection, cid: int) -> int | None:
    row = con.execute("SELECT min(hour) FROM upid.samples_hour WHERE cluster_id = %s", [cid]).fetchone()
    return None if not row or row[0] is None else int(row[0]) * HOUR


def window(
    con: psycopg.Connection, cid: int, where_series: dict[int, tuple[int, int]], start: int, end: int
) -> tuple[dict[str, np.ndarray], Hours]:
    """The window's pod-hours (`where_series`: series id -> (container index, pod index))."""
    import pyarrow as pa

    from upid.store.duckdb import hourly

    lo, hi = int(start) // HOUR, int(end) // HOUR
    ids = list(where_series)
    stored = (
        numpy_cursor(con)
        .execute(
            f"""SELECT {_STORED} FROM upid.samples_hour h
                WHERE h.cluster_id = %s AND h.hour > %s AND h.hour <= %s AND h.series_id = ANY(%s)
                  AND NOT EXISTS (SELECT 1 FROM upid.samples_day d WHERE d.series_id = h.series_id
                                  AND d.day = h.hour / 24 AND NOT d.rolled_up)""",
            [cid, lo, hi, ids],
        )
        .fetchall()
    )
    pending = (
        numpy_cursor(con)
        .execute(
            "SELECT series_id, ts, cpu_m, mem_kib, net_rx, net_tx FROM upid.samples_day WHERE cluster_id = %s "
            "AND day BETWEEN %s AND %s AND NOT rolled_up AND series_id = ANY(%s)",
            [cid, (lo + 1) * HOUR // DAY, hi * HOUR // DAY, ids],
        )
        .fetchall()
    )
    engine = _engine()
    names = _STORED.split(", ")
    columns: dict[str, Any] = {n: [r[i] for r in stored] for i, n in enumerate(names[:10])}
    for i, n in ((10, "cpu_cells"), (11, "mem_cells")):
        lengths = np.asarray([len(r[i]) for r in stored], dtype=np.int32)
        values = np.concatenate([r[i] for r in stored]) if stored else np.zeros(0, dtype=np.int64)
        columns[n] = pa.ListArray.from_arrays(pa.array(np.r_[0, np.cumsum(lengths)].astype(np.int32)),
                                              pa.array(values.astype(np.int64)))  # fmt: skip
    types = {"series_id": pa.int64(), "hour": pa.int64(), "n": pa.int64(), "cpu_max": pa.int64(),
             "mem_max": pa.int64(), "net_n": pa.int64()}  # fmt: skip
    table = pa.table({n: columns[n] if n.endswith("cells") else pa.array(columns[n], type=types.get(n, pa.float64()))
                      for n in names})  # fmt: skip
    engine.register("p_stored", table)
    now = rollups.rollup_sql(_register_samples(engine, pending))
    engine.register("w_series_in", {"series_id": np.asarray(ids, dtype=np.int64),
                                    "cidx": np.asarray([where_series[s][0] for s in ids], dtype=np.int64),
                                    "pidx": np.asarray([where_series[s][1] for s in ids], dtype=np.int64)})  # fmt: skip
    engine.execute("CREATE TEMP TABLE w_series AS SELECT * FROM w_series_in")
    return hourly.frame(engine, f"SELECT * FROM p_stored UNION ALL ({now})", start, end)
