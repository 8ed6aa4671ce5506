"""The hourly frame of a window from rollup rows, in DuckDB SQL: each pod-hour's means, exact peaks and count, and
the pods' CPU histograms merged for the window and for the backtest's fit and replay parts, so that no histogram
cell reaches Python. The DuckDB store runs it over its rollup blocks; the PostgreSQL store over its stored rows and
the rows rolled up now, in an in-memory DuckDB (upid/store/postgres/hourly.py).

`rows` is SQL yielding rollup rows (rollups.rollup_sql's columns; more than one row per series and hour is merged);
the temp table w_series maps each series to its container (cidx) and pod (pidx).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from upid.store.duckdb import rollups

if TYPE_CHECKING:
    import duckdb
    import numpy as np

    from upid.analysis.window import Hours


def _hours(start: int, end: int) -> str:
    """The hours of the window (start, end]: those starting in it (an hour is read whole)."""
    return f"hour > {int(start) // rollups.HOUR} AND hour <= {int(end) // rollups.HOUR}"


def frame(con: duckdb.DuckDBPyConnection, rows: str, start: int, end: int) -> tuple[dict[str, np.ndarray], Hours]:
    """The window's pod-hours: a frame's arrays (hourly means) and the Hours beside them."""
    import numpy as np

    from upid.analysis.backtest import backtest_cut
    from upid.analysis.rollup import CPU_BUCKETS, MEMORY_BUCKETS
    from upid.analysis.window import Hours

    chosen = f"FROM ({rows}) r JOIN w_series w USING (series_id) WHERE {_hours(start, end)}"
    data = con.execute(f"""
        SELECT CAST(w.cidx AS INTEGER) AS cidx, CAST(w.pidx AS INTEGER) AS pidx, r.hour::BIGINT * 3600 AS ts,
               sum(r.n)::INTEGER AS n, (sum(r.cpu_sum) / sum(r.n) / 1000.0)::DOUBLE AS cpu,
               (max(r.cpu_max) / 1000.0)::DOUBLE AS cpu_peak, (sum(r.mem_sum) / sum(r.n) * 1024.0)::DOUBLE AS memory,
               (max(r.mem_max) * 1024.0)::DOUBLE AS memory_peak,
               max(r.net_max)::FLOAT AS net  -- idle and sleep rules read peaks: an hour is as busy as its peak
        {chosen} GROUP BY ALL ORDER BY cidx, ts, pidx""").fetchnumpy()
    cidx = np.asarray(data["cidx"])
    ts = np.asarray(data["ts"], dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, cidx[1:] != cidx[:-1]]) if len(cidx) else np.zeros(0, dtype=np.int64)
    ends = np.r_[starts[1:], len(cidx)] - 1
    cuts = {int(cidx[a]): backtest_cut(int(ts[a]), int(ts[b])) for a, b in zip(starts, ends, strict=True)}
    con.register("w_cuts", {"cidx": np.asarray(list(cuts), dtype=np.int64),
                            "cut": np.asarray(list(cuts.values()), dtype=np.int64)})  # fmt: skip
    cpu_cells = con.execute(f"""
        SELECT w.cidx, w.pidx, (r.hour::BIGINT * 3600 > c.cut)::INTEGER AS replay,
               (cell // {rollups.CELL})::INTEGER AS bucket, sum(cell % {rollups.CELL})::BIGINT AS k
        FROM (SELECT series_id, hour, unnest(cpu_cells) AS cell FROM ({rows})) r
        JOIN w_series w USING (series_id) JOIN w_cuts c USING (cidx)
        WHERE {_hours(start, end)} GROUP BY ALL""").fetchnumpy()
    mem_cells = con.execute(f"""
        SELECT w.cidx, (cell // {rollups.CELL})::INTEGER AS bucket, sum(cell % {rollups.CELL})::BIGINT AS k
        FROM (SELECT series_id, hour, unnest(mem_cells) AS cell FROM ({rows})) r JOIN w_series w USING (series_id)
        WHERE {_hours(start, end)} GROUP BY ALL""").fetchnumpy()
    con.unregister("w_cuts")
    cpu: dict[tuple[int, int, int], np.ndarray] = {}
    for c, p, part, bucket, k in zip(*(np.asarray(cpu_cells[x]) for x in ("cidx", "pidx", "replay", "bucket", "k")),
                                     strict=True):  # fmt: skip
        cpu.setdefault((int(c), int(p), int(part)), np.zeros(CPU_BUCKETS.count))[int(bucket)] += int(k)
    memory: dict[int, np.ndarray] = {}
    for c, bucket, k in zip(*(np.asarray(mem_cells[x]) for x in ("cidx", "bucket", "k")), strict=True):
        memory.setdefault(int(c), np.zeros(MEMORY_BUCKETS.count))[int(bucket)] += int(k)
    arrays = {
        "container_idx": cidx,
        "pod_idx": np.asarray(data["pidx"]),
        "ts": ts,
        "cpu": np.asarray(data["cpu"]),
        "memory": np.asarray(data["memory"]),
        "network": filled(data["net"]).astype(np.float32),
    }
    hours = Hours(np.asarray(data["n"]), np.asarray(data["cpu_peak"]), np.asarray(data["memory_peak"]), cuts, cpu,
                  memory)  # fmt: skip
    return arrays, hours


def filled(values: np.ndarray) -> np.ndarray:
    """DuckDB returns masked arrays where NULLs occur: turn those into NaN (numbers) or None."""
    import numpy as np

    if isinstance(values, np.ma.MaskedArray):
        masked: Any = values
        if values.dtype.kind == "f":
            return np.asarray(masked.filled(np.nan))
        return np.asarray(masked.astype(object).filled(None))
    return np.asarray(values)
