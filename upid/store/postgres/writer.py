"""Writing batches into a PostgreSQL store: series upserted, samples merged into their series-day rows (idempotent
on (series, second): a sample already stored is kept, a new one added), change points, an audit row; one
transaction per call. Rows being merged are locked (SELECT ... FOR UPDATE), so collectors of different clusters
never wait for each other and two writers of the same series-day take turns."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from upid.store.base import AuditRecord, WriteResult
from upid.store.postgres.arrays import numpy_cursor

if TYPE_CHECKING:
    import psycopg

    from upid.samples import SampleBatch

DAY = 86400
SERIES_KEY = ("namespace", "workload_kind", "workload", "pod", "container")


def ensure_cluster(con: psycopg.Connection, name: str) -> int:
    con.execute("INSERT INTO upid.clusters (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", [name])
    row = con.execute("SELECT cluster_id FROM upid.clusters WHERE name = %s", [name]).fetchone()
    assert row is not None
    return int(row[0])


def _series_ids(con: psycopg.Connection, cid: int, batch: SampleBatch) -> tuple[np.ndarray, int]:
    """The store's series id of each of the batch's series, creating the new ones; and how many were new."""
    keys = [[str(v) for v in batch.series[k]] for k in SERIES_KEY]
    nodes = [str(v) or None for v in batch.series.get("node", [""] * batch.series_count)]
    before = con.execute("SELECT count(*) FROM upid.series WHERE cluster_id = %s", [cid]).fetchone()
    con.execute(
        """INSERT INTO upid.series (cluster_id, namespace, workload_kind, workload, pod, container, node)
           SELECT %s, * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
           ON CONFLICT (cluster_id, namespace, workload_kind, workload, pod, container) DO NOTHING""",
        [cid, *keys, nodes],
    )
    after = con.execute("SELECT count(*) FROM upid.series WHERE cluster_id = %s", [cid]).fetchone()
    rows = con.execute(
        "SELECT series_id, namespace, workload_kind, workload, pod, container FROM upid.series WHERE cluster_id = %s",
        [cid],
    ).fetchall()
    known = {tuple(r[1:]): int(r[0]) for r in rows}
    ids = np.asarray([known[k] for k in zip(*keys, strict=True)], dtype=np.int64)
    return ids, int(after[0]) - int(before[0]) if after and before else 0


def _decode(values: list[int] | np.ndarray) -> np.ndarray:
    return np.cumsum(np.asarray(values, dtype=np.int64))


def _encode(values: np.ndarray) -> list[int]:
    deltas: list[int] = np.diff(values.astype(np.int64), prepend=np.int64(0)).tolist()
    return deltas


def _plain(values: np.ndarray) -> list[int | None] | None:
    """Network rates as stored: integers, None where not measured; None for a row with none measured."""
    finite = np.isfinite(values)
    if not finite.any():
        return None
    return [int(round(v)) if ok else None for v, ok in zip(values.tolist(), finite.tolist(), strict=True)]


def _as_array(values: list[Any] | np.ndarray | None, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    return np.asarray(values, dtype=np.float64)  # None becomes NaN


def write_samples(con: psycopg.Connection, cid: int, batch: SampleBatch) -> tuple[int, int, list[int]]:
    """Inside the caller's transaction; returns (samples written, series created, each batch series' id). Writers
    of one cluster take turns (a transaction-scoped advisory lock on the cluster); other clusters never wait."""
    con.execute("SELECT pg_advisory_xact_lock(hashtext('upid.cluster'), %s)", [cid])
    ids, created = _series_ids(con, cid, batch)
    rows, written = _day_parts(con, cid, ids, batch)
    if rows:
        insert_parts(con, rows)
    _resources(con, ids, batch)
    _oom_kills(con, ids, batch)
    return written, created, ids.tolist()


def _day_parts(con: psycopg.Connection, cid: int, ids: np.ndarray, batch: SampleBatch) -> tuple[list[Any], int]:
    """A new part for each series-day the batch brings new samples to (a sample already stored, in any part, is
    kept as it is), and the number of new samples. Stored parts are read, never rewritten: a collector's write
    costs its own samples, and compact merges a day's parts later."""
    sid = ids[batch.series_idx]
    ts = np.asarray(batch.ts, dtype=np.int64)
    if not len(ts):
        return [], 0
    order = np.lexsort((ts, sid))
    sid, ts = sid[order], ts[order]
    cpu, mem = np.asarray(batch.cpu_m)[order], np.asarray(batch.mem_kib)[order]
    rx, tx = np.asarray(batch.net_rx, dtype=float)[order], np.asarray(batch.net_tx, dtype=float)[order]
    day = ts // DAY
    starts = np.flatnonzero(np.r_[True, (sid[1:] != sid[:-1]) | (day[1:] != day[:-1])])
    ends = np.r_[starts[1:], len(ts)]
    keys = [(int(sid[a]), int(day[a])) for a in starts]
    stored: dict[tuple[int, int], tuple[int, list[np.ndarray]]] = {}
    for s, d, part, times in numpy_cursor(con).execute(
        """SELECT d.series_id, d.day, d.part, d.ts FROM upid.samples_day d
           JOIN unnest(%s::int[], %s::int[]) AS k(series_id, day) USING (series_id, day) WHERE d.cluster_id = %s""",
        [[k[0] for k in keys], [k[1] for k in keys], cid],
    ):
        top, parts = stored.get((int(s), int(d)), (-1, []))
        stored[(int(s), int(d))] = (max(top, int(part)), [*parts, _decode(times)])
    rows, written = [], 0
    for (s, d), a, b in zip(keys, starts, ends, strict=True):
        t, first = np.unique(ts[a:b], return_index=True)  # one sample per second: the first
        top, parts = stored.get((s, d), (-1, []))
        new = ~np.isin(t, np.concatenate(parts)) if parts else np.ones(len(t), dtype=bool)
        if not new.any():
            continue
        keep = first[new] + a
        written += len(keep)
        rows.append((d, cid, s, top + 1, _encode(ts[keep]), _encode(cpu[keep]), _encode(mem[keep]), _plain(rx[keep]),
                     _plain(tx[keep])))  # fmt: skip
    return rows, written


PARTS = "day, cluster_id, series_id, part, ts, cpu_m, mem_kib, net_rx, net_tx"
PART_TYPES = ["int4", "int4", "int4", "int2", "int4[]", "int4[]", "int8[]", "int8[]", "int8[]"]


def insert_parts(con: psycopg.Connection, rows: list[Any], queue: bool = True) -> None:
    """Rows (PARTS' columns) into the month partitions (made first): a binary COPY into a temp table, then one
    INSERT (COPY cannot write a table under row-level security); their series-days join the rollup queue."""
    days = [r[0] for r in rows]
    con.execute("SELECT upid.ensure_partitions('samples_day', 86400, %s, %s)", [min(days), max(days)])
    con.execute(
        "CREATE TEMP TABLE IF NOT EXISTS w_parts (LIKE upid.samples_day INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    with con.cursor().copy(f"COPY w_parts ({PARTS}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(PART_TYPES)
        for row in rows:
            copy.write_row(row)
    con.execute(f"INSERT INTO upid.samples_day ({PARTS}) SELECT {PARTS} FROM w_parts")
    if queue:
        con.execute("INSERT INTO upid.rollup_queue SELECT DISTINCT cluster_id, series_id, day FROM w_parts "
                    "ON CONFLICT DO NOTHING")  # fmt: skip
    con.execute("TRUNCATE w_parts")


def _resources(con: psycopg.Connection, ids: np.ndarray, batch: SampleBatch) -> None:
    """Request/limit change points (-1: not set), each (series, time) once."""
    res = batch.resources
    if not res or not len(res.get("ts", ())):
        return
    columns = ("cpu_request_m", "cpu_limit_m", "memory_request", "memory_limit")
    values = [[None if int(v) < 0 else int(v) for v in res[c]] for c in columns]
    con.execute(
        """INSERT INTO upid.resources SELECT * FROM unnest(%s::int[], %s::bigint[], %s::int[], %s::int[],
               %s::bigint[], %s::bigint[]) ON CONFLICT DO NOTHING""",
        [ids[np.asarray(res["series_idx"])].tolist(), [int(v) for v in res["ts"]], *values],
    )


def _oom_kills(con: psycopg.Connection, ids: np.ndarray, batch: SampleBatch) -> None:
    """OOMKilled terminations (imported) as container_status rows, as a collect records them; each kill once."""
    kills = batch.oom_kills
    if not kills or not len(kills.get("ts", ())):
        return
    at = "to_char(to_timestamp(k.ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    con.execute(
        f"""INSERT INTO upid.container_status (series_id, ts, last_termination_reason, last_termination_at)
            SELECT DISTINCT k.series_id, k.ts, 'OOMKilled', {at}
            FROM unnest(%s::int4[], %s::int8[]) AS k(series_id, ts)
            WHERE NOT EXISTS (SELECT 1 FROM upid.container_status c WHERE c.series_id = k.series_id
                              AND c.last_termination_reason = 'OOMKilled' AND c.last_termination_at = {at})
            ON CONFLICT DO NOTHING""",
        [ids[np.asarray(kills["series_idx"])].tolist(), [int(v) for v in kills["ts"]]],
    )


def add_audit(con: psycopg.Connection, audit: AuditRecord, cluster: str | None, details: dict[str, Any]) -> None:
    con.execute(
        "INSERT INTO upid.audit_log (command, args, cluster, os_user, result, details) "
        "VALUES (%s, %s, %s, %s, 'ok', %s)",
        [audit.command, audit.args, cluster, audit.user, json.dumps(details, sort_keys=True)],
    )


def write_batches(con: psycopg.Connection, batches: Iterable[SampleBatch], audit: AuditRecord) -> list[WriteResult]:
    out = []
    with con.transaction():
        for batch in batches:
            cid = ensure_cluster(con, batch.cluster)
            written, created, _ = write_samples(con, cid, batch)
            details = {"source": batch.source, "received": len(batch), "written": written, "series_created": created}
            add_audit(con, audit, batch.cluster, details)
            out.append(WriteResult(batch.cluster, len(batch), written, created))
    return out
