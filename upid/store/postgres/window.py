"""The window read of the PostgreSQL backend: the same ClusterWindow as the DuckDB backend's for the same samples
(containers numbered alike, samples sorted by container, time and pod). Raw samples only in this version."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from upid.errors import NoDataError
from upid.store.base import selected_workloads
from upid.store.postgres import hourly, inventory
from upid.store.postgres.arrays import numpy_cursor
from upid.store.postgres.writer import DAY, SERIES_KEY, _as_array, _decode

if TYPE_CHECKING:
    from collections.abc import Iterator

    import psycopg

    from upid.analysis.window import ClusterWindow, Scope
    from upid.samples import SampleBatch
    from upid.store.base import Extent

CONTAINER = ("namespace", "workload_kind", "workload", "container")


def cluster_id(con: psycopg.Connection, cluster: str) -> int:
    row = con.execute("SELECT cluster_id FROM upid.clusters WHERE name = %s", [cluster]).fetchone()
    if not row:
        names = [r[0] for r in con.execute("SELECT name FROM upid.clusters ORDER BY name").fetchall()]
        raise NoDataError(f"no cluster {cluster!r} in the store", hint=f"known clusters: {', '.join(names) or 'none'}")
    return int(row[0])


def extent(con: psycopg.Connection, cid: int) -> Extent:
    """The cluster's first and last sample: the first day's first time, the last day's last (a row's times are
    delta-encoded, so its last time is the sum of its array), and the start of its oldest hourly rollup."""
    from upid.store.base import Extent

    days = con.execute("SELECT min(day), max(day) FROM upid.samples_day WHERE cluster_id = %s", [cid]).fetchone()
    if not days or days[0] is None:
        return Extent(None, None, None)
    first = con.execute(
        "SELECT min(ts[1]) FROM upid.samples_day WHERE cluster_id = %s AND day = %s", [cid, days[0]]
    ).fetchone()
    last = con.execute(
        "SELECT max((SELECT sum(v) FROM unnest(ts) AS v)) FROM upid.samples_day WHERE cluster_id = %s AND day = %s",
        [cid, days[1]],
    ).fetchone()
    return Extent(int(first[0]) if first else None, int(last[0]) if last else None, hourly.first_hour(con, cid))


def window(con: psycopg.Connection, cluster: str, start: int, end: int, scope: Scope) -> ClusterWindow:
    from upid.analysis.frame import UsageFrame
    from upid.analysis.window import ClusterWindow

    cid = cluster_id(con, cluster)
    known = inventory.workloads(con, cid)
    where, params = "", [cid]
    if scope.namespaces:
        where, params = " AND namespace = ANY(%s)", [cid, list(scope.namespaces)]  # type: ignore[list-item]
    series = con.execute(
        f"SELECT series_id, {', '.join(SERIES_KEY)}, node FROM upid.series WHERE cluster_id = %s{where}", params
    ).fetchall()
    if scope.selector:
        chosen = set(selected_workloads(known, scope.selector))
        series = [r for r in series if (r[1], r[2], r[3]) in chosen]
    containers = sorted({tuple(r[i] for i in (1, 2, 3, 5)) for r in series})
    cidx = {key: i for i, key in enumerate(containers)}
    pods: dict[int, list[str]] = {}
    for r in series:
        pods.setdefault(cidx[(r[1], r[2], r[3], r[5])], []).append(r[4])
    pidx = {c: {p: i for i, p in enumerate(sorted(set(names)))} for c, names in pods.items()}
    described = {}  # series id -> (container key, container index, pod index, node)
    for r in series:
        key = (r[1], r[2], r[3], r[5])
        described[int(r[0])] = (key, cidx[key], pidx[cidx[key]][r[4]], r[6])
    where_series = {sid: (c, p) for sid, (_, c, p, _) in described.items()}
    hours = None
    if scope.resolution == "hour":
        arrays, hours = hourly.window(con, cid, where_series, start, end)
    else:
        arrays = _raw(con, cid, where_series, start, end)
    resources = _resources(con, [int(s) for s in where_series], where_series, end, len(containers))
    frame = UsageFrame(
        cluster=cluster,
        start=start,
        end=end,
        containers={
            **{k: np.asarray([key[i] for key in containers], dtype=object) for i, k in enumerate(CONTAINER)},
            **resources,
        },
        **arrays,
    )
    names = {c: {i: pod for pod, i in m.items()} for c, m in pidx.items()}
    events = dataclasses.replace(inventory.events(con, described, end), pod_names=names)
    return ClusterWindow(frame, inventory.nodes(con, cid), known, events, hours)


def _raw(
    con: psycopg.Connection, cid: int, where_series: dict[int, tuple[int, int]], start: int, end: int
) -> dict[str, np.ndarray]:
    """Every sample of the window's series over (start, end], sorted by container, time and pod."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("c", "p", "ts", "cpu", "mem", "net")}
    rows = (
        numpy_cursor(con)
        .execute(
            """SELECT series_id, ts, cpu_m, mem_kib, net_rx, net_tx FROM upid.samples_day
           WHERE cluster_id = %s AND day BETWEEN %s AND %s AND series_id = ANY(%s)""",
            [cid, int(start) // DAY, int(end) // DAY, list(where_series)],
        )
        .fetchall()
    )
    for sid, ts, cpu, mem, rx, tx in rows:
        t = _decode(ts)
        keep = (t > start) & (t <= end)
        if not keep.any():
            continue
        n = len(t)
        received, sent = _as_array(rx, n), _as_array(tx, n)
        both_unset = np.isnan(received) & np.isnan(sent)
        net = np.where(both_unset, np.nan, np.nan_to_num(received) + np.nan_to_num(sent))
        ci, pi = where_series[int(sid)]
        for name, values in (("ts", t), ("cpu", _decode(cpu)), ("mem", _decode(mem)), ("net", net)):
            parts[name].append(values[keep])
        parts["c"].append(np.full(int(keep.sum()), ci, dtype=np.int32))
        parts["p"].append(np.full(int(keep.sum()), pi, dtype=np.int32))
    joined = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
    order = np.lexsort((joined["p"], joined["ts"], joined["c"]))
    return {
        "container_idx": joined["c"][order].astype(np.int32),
        "pod_idx": joined["p"][order].astype(np.int32),
        "ts": joined["ts"][order].astype(np.int64),
        "cpu": joined["cpu"][order] / 1000.0,
        "memory": joined["mem"][order] * 1024.0,
        "network": joined["net"][order].astype(np.float32),
    }


def _resources(
    con: psycopg.Connection, ids: list[int], where: dict[int, tuple[int, int]], end: int, count: int
) -> dict[str, np.ndarray]:
    """Each container's requests and limits in force at `end`: the latest change point among its pods."""
    out = {k: np.full(count, np.nan) for k in ("cpu_request", "cpu_limit", "memory_request", "memory_limit")}
    latest: dict[int, int] = {}
    for sid, ts, cr, cl, mr, ml in con.execute(
        "SELECT series_id, ts, cpu_request_m, cpu_limit_m, memory_request, memory_limit FROM upid.resources "
        "WHERE series_id = ANY(%s) AND ts <= %s ORDER BY ts, series_id",
        [ids, int(end)],
    ).fetchall():
        c = where[int(sid)][0]
        if ts >= latest.get(c, -1):
            latest[c] = ts
            for k, v, scale in (("cpu_request", cr, 1000), ("cpu_limit", cl, 1000), ("memory_request", mr, 1),
                                ("memory_limit", ml, 1)):  # fmt: skip
                out[k][c] = np.nan if v is None else v / scale
    return out


SERIES_PER_BATCH = 200


def batches(con: psycopg.Connection, cluster: str) -> Iterator[SampleBatch]:
    """The cluster's samples as SampleBatches, a group of series at a time (`storage copy`). The PostgreSQL store
    keeps no per-sample source, so they come back as imported."""
    from upid.samples import SampleBatch

    cid = cluster_id(con, cluster)
    series = con.execute(
        f"SELECT series_id, {', '.join(SERIES_KEY)}, coalesce(node, '') FROM upid.series WHERE cluster_id = %s "
        "ORDER BY series_id",
        [cid],
    ).fetchall()
    for at in range(0, len(series), SERIES_PER_BATCH):
        group = series[at : at + SERIES_PER_BATCH]
        index = {int(r[0]): i for i, r in enumerate(group)}
        ids = list(index)
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("idx", "ts", "cpu", "mem", "rx", "tx")}
        for sid, ts, cpu, mem, rx, tx in (
            numpy_cursor(con)
            .execute(
                "SELECT series_id, ts, cpu_m, mem_kib, net_rx, net_tx FROM upid.samples_day WHERE cluster_id = %s "
                "AND series_id = ANY(%s) ORDER BY series_id, day, part",
                [cid, ids],
            )
            .fetchall()
        ):
            t = _decode(ts)
            cols["idx"].append(np.full(len(t), index[int(sid)], dtype=np.int64))
            cols["ts"].append(t)
            cols["cpu"].append(_decode(cpu))
            cols["mem"].append(_decode(mem))
            cols["rx"].append(_as_array(rx, len(t)))
            cols["tx"].append(_as_array(tx, len(t)))
        if not cols["ts"]:
            continue
        res = con.execute(
            "SELECT series_id, ts, coalesce(cpu_request_m, -1), coalesce(cpu_limit_m, -1), "
            "coalesce(memory_request, -1), coalesce(memory_limit, -1) FROM upid.resources WHERE series_id = ANY(%s) "
            "ORDER BY series_id, ts",
            [ids],
        ).fetchall()
        kills = sorted({(int(sid), when) for sid, at in con.execute(
            "SELECT series_id, last_termination_at FROM upid.container_status WHERE series_id = ANY(%s) "
            "AND last_termination_reason = 'OOMKilled'", [ids]).fetchall()
            if (when := inventory.epoch(at)) is not None})  # fmt: skip
        names = ("series_idx", "ts", "cpu_request_m", "cpu_limit_m", "memory_request", "memory_limit")
        resources = {n: np.asarray([index[int(r[0])] if i == 0 else int(r[i]) for r in res], dtype=np.int64)
                     for i, n in enumerate(names)}  # fmt: skip
        keys = (*SERIES_KEY, "node")
        yield SampleBatch(
            cluster=cluster,
            source="import",
            series={k: np.asarray([r[i + 1] for r in group], dtype=object) for i, k in enumerate(keys)},
            series_idx=np.concatenate(cols["idx"]),
            ts=np.concatenate(cols["ts"]),
            cpu_m=np.concatenate(cols["cpu"]),
            mem_kib=np.concatenate(cols["mem"]),
            net_rx=np.concatenate(cols["rx"]),
            net_tx=np.concatenate(cols["tx"]),
            resources=resources,
            oom_kills={
                "series_idx": np.asarray([index[k[0]] for k in kills], dtype=np.int64),
                "ts": np.asarray([k[1] for k in kills], dtype=np.int64),
            },  # fmt: skip
        )
