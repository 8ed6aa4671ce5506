"""The window read of the DuckDB backend: one cluster's scoped workloads over (start, end], as a ClusterWindow.

Raw: every sample, in 4-byte columns, sorted by container, time and pod. Hourly: the rollups (rollups.py) merged
per pod-hour into a frame of hourly means (network: the hour's peak), with the pod-hours' counts and peaks and
the pods' CPU histograms for the window and the backtest's two parts, aggregated here so that no histogram cell
reaches Python.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from upid.store.base import NODE_COLUMNS, node_from_row, selected_workloads, workloads_with_pdbs
from upid.store.duckdb import blocks, hourly, rollups
from upid.store.duckdb.connection import epoch_sql, sql_ts
from upid.store.duckdb.queries import cluster_id

if TYPE_CHECKING:
    import numpy as np  # annotations only; numpy is imported where it is used

    from upid.analysis.frame import UsageFrame
    from upid.analysis.window import ClusterWindow, ContainerKey, Events, Hours, Node, Scope, Workload, WorkloadKey

READ_MEMORY_LIMIT = "400MB"


def _select_series(
    con: duckdb.DuckDBPyConnection, cid: int, namespaces: list[str] | None, chosen: list[WorkloadKey] | None
) -> None:
    """Temp table w_series: the window's series, numbered by container (cidx) and pod within it (pidx)."""
    import numpy as np

    where = ""
    params: list[object] = [cid]
    if namespaces:
        where = f"AND namespace IN ({', '.join('?' for _ in namespaces)})"
        params += namespaces
    if chosen is not None:  # chosen by a label selector
        keys = ("namespace", "workload_kind", "workload")
        con.register("w_allowed", {k: np.asarray([w[i] for w in chosen], dtype=object) for i, k in enumerate(keys)})
        where += (
            " AND (namespace, workload_kind, workload) IN (SELECT (namespace, workload_kind, workload) FROM w_allowed)"  # noqa: E501
        )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE w_series AS
        SELECT *, dense_rank() OVER (PARTITION BY cidx ORDER BY pod) - 1 AS pidx FROM (
            SELECT series_id, pod,
                   dense_rank() OVER (ORDER BY namespace, workload_kind, workload, container) - 1 AS cidx,
                   namespace, workload_kind, workload, container
            FROM series WHERE cluster_id = ? {where})""",
        params,
    )


def _containers(con: duckdb.DuckDBPyConnection, hi: str) -> dict[str, np.ndarray]:
    """Each container of w_series and its requests and limits in force at `hi` (the latest change among its pods)."""
    found = con.execute(f"""
        WITH latest AS (
            SELECT w.cidx, arg_max(r.cpu_request_m, r.ts) AS cr, arg_max(r.cpu_limit_m, r.ts) AS cl,
                   arg_max(r.memory_request, r.ts) AS mr, arg_max(r.memory_limit, r.ts) AS ml
            FROM resources r JOIN w_series w USING (series_id) WHERE r.ts <= {hi} GROUP BY w.cidx)
        SELECT DISTINCT w.cidx, w.namespace, w.workload_kind, w.workload, w.container,
               l.cr / 1000.0 AS cpu_request, l.cl / 1000.0 AS cpu_limit,
               l.mr::DOUBLE AS memory_request, l.ml::DOUBLE AS memory_limit
        FROM w_series w LEFT JOIN latest l USING (cidx) ORDER BY w.cidx""").fetchnumpy()
    return {k: hourly.filled(v) for k, v in found.items()}


def _raw(con: duckdb.DuckDBPyConnection, store: Path, cid: int, start: int, end: int) -> dict[str, np.ndarray]:
    import numpy as np

    lo, hi = epoch_sql(start), epoch_sql(end)
    files = blocks.block_files(con, store, cid, sql_ts(con, start), sql_ts(con, end))
    data = con.execute(f"""
        SELECT CAST(w.cidx AS INTEGER) AS cidx, CAST(w.pidx AS INTEGER) AS pidx,
               CAST(epoch(x.ts) - {int(start)} AS INTEGER) AS ts, x.cpu_m AS cpu_m,
               CAST(x.mem_kib AS INTEGER) AS mem_kib,
               -- one direction measured is still a measurement: NULL only when neither is
               CAST(CASE WHEN x.net_rx IS NULL AND x.net_tx IS NULL THEN NULL
                         ELSE coalesce(x.net_rx, 0) + coalesce(x.net_tx, 0) END AS FLOAT) AS net
        FROM ({blocks.samples_sql(files)}) x JOIN w_series w USING (series_id)
        WHERE x.ts > {lo} AND x.ts <= {hi}
        ORDER BY cidx, ts, pidx""").fetchnumpy()  # 4-byte columns: a 20 M-sample window stays under 1.5 GB
    return {
        "container_idx": np.asarray(data.pop("cidx")),
        "pod_idx": np.asarray(data.pop("pidx")),
        "ts": np.asarray(data.pop("ts"), dtype=np.int64) + int(start),
        "cpu": np.asarray(data.pop("cpu_m")) / 1000.0,
        "memory": np.asarray(data.pop("mem_kib")) * 1024.0,
        "network": hourly.filled(data.pop("net")).astype(np.float32),
    }


def _hourly(
    con: duckdb.DuckDBPyConnection, store: Path, cid: int, start: int, end: int
) -> tuple[dict[str, np.ndarray], Hours]:
    """The window's pod-hours from the rollups: a frame's arrays (hourly means) and the Hours beside them."""
    root = blocks.blocks_dir(store)
    lo_hour, hi_hour = int(start) // rollups.HOUR - 1, int(end) // rollups.HOUR
    pending = rollups.pending_files(con, store, cid, sql_ts(con, start - rollups.HOUR), sql_ts(con, end))
    rows = rollups.hourly_sql(rollups.rollup_files(con, store, root, cid, lo_hour, hi_hour), pending, cid)
    return hourly.frame(con, rows, start, end)


def load_usage(
    con: duckdb.DuckDBPyConnection,
    store: Path,
    cid: int,
    cluster: str,
    start: int,
    end: int,
    namespaces: list[str] | None,
    chosen: list[WorkloadKey] | None = None,
    resolution: str = "raw",
) -> tuple[UsageFrame, Events, Hours | None]:
    from upid.analysis.frame import UsageFrame

    _select_series(con, cid, namespaces, chosen)
    con.execute(f"SET memory_limit = '{READ_MEMORY_LIMIT}'")  # sorts spill to disk rather than grow the process
    hours = None
    if resolution == "hour":
        arrays, hours = _hourly(con, store, cid, start, end)
    else:
        arrays = _raw(con, store, cid, start, end)
    containers = _containers(con, epoch_sql(end))
    events = _events(con, epoch_sql(end))
    con.execute("DROP TABLE temp.w_series")
    return UsageFrame(cluster=cluster, start=start, end=end, containers=containers, **arrays), events, hours


def nodes(con: duckdb.DuckDBPyConnection, cid: int) -> tuple[Node, ...]:
    rows = con.execute(
        f"SELECT {NODE_COLUMNS}, epoch(first_seen)::BIGINT, epoch(last_seen)::BIGINT FROM nodes WHERE cluster_id = ? "
        "ORDER BY name",
        [cid],
    ).fetchall()
    return tuple(node_from_row(r) for r in rows)


def workloads(con: duckdb.DuckDBPyConnection, cid: int) -> dict[WorkloadKey, Workload]:
    """Every workload the cluster's collections recorded: labels, replicas, annotations, its HPA, the PDBs whose
    selector matches its labels, and the order of its containers (for JSON patches)."""
    from upid.analysis.window import Hpa

    fields: dict[WorkloadKey, dict[str, Any]] = {}
    for ns, kind, name, replicas, notes, labels in con.execute(
        "SELECT namespace, kind, name, replicas, annotations, labels FROM workloads WHERE cluster_id = ?", [cid]
    ).fetchall():
        fields[(ns, kind, name)] = {
            "replicas": replicas,
            "annotations": json.loads(notes or "{}"),
            "labels": json.loads(labels or "{}"),
        }
    for ns, kind, name, containers in con.execute(
        """SELECT namespace, workload_kind, workload, list(container ORDER BY first_id) FROM (
             SELECT namespace, workload_kind, workload, container, min(series_id) AS first_id FROM series
             WHERE cluster_id = ? GROUP BY ALL) GROUP BY ALL""",
        [cid],
    ).fetchall():  # series are created in the pod spec's container order when collected
        fields.setdefault((ns, kind, name), {})["containers"] = tuple(containers)
    for ns, name, kind, target, lo, resources in con.execute(
        "SELECT namespace, name, target_kind, target_name, min_replicas, resources FROM hpas WHERE cluster_id = ?",
        [cid],
    ).fetchall():
        fields.setdefault((ns, kind, target), {})["hpa"] = Hpa(name, lo, tuple(sorted(resources or ())))
    pdbs = con.execute(
        "SELECT namespace, name, min_available, max_unavailable, selector, disruptions_allowed FROM pdbs "
        "WHERE cluster_id = ? ORDER BY namespace, name",
        [cid],
    ).fetchall()
    return workloads_with_pdbs(fields, ((ns, name, lo, hi, json.loads(selector or "{}") or {}, allowed)
                                        for ns, name, lo, hi, selector, allowed in pdbs))  # fmt: skip


def window(
    con: duckdb.DuckDBPyConnection, store: Path, cluster: str, start: int, end: int, scope: Scope
) -> ClusterWindow:
    """The one read of an analysis: usage of the scoped workloads over (start, end], nodes, workloads, events."""
    from upid.analysis.window import ClusterWindow

    cid = cluster_id(con, cluster)
    known = workloads(con, cid)
    chosen = None
    if scope.selector:
        chosen = selected_workloads(known, scope.selector)
    namespaces = list(scope.namespaces) if scope.namespaces else None
    frame, events, hours = load_usage(con, store, cid, cluster, start, end, namespaces, chosen, scope.resolution)
    return ClusterWindow(frame, nodes(con, cid), known, events, hours)


def _events(con: duckdb.DuckDBPyConnection, hi: str) -> Events:
    """What strategies use besides usage: OOM kills, restarts, containers per pod, pods' nodes (collected
    clusters only), for the window's series (w_series)."""
    from upid.analysis.window import Events

    ooms: dict[ContainerKey, list[int]] = {}
    for ns, kind, name, container, at in con.execute(f"""
            SELECT DISTINCT w.namespace, w.workload_kind, w.workload, w.container,
                   epoch(try_cast(c.last_termination_at AS TIMESTAMPTZ))::BIGINT
            FROM container_status c JOIN w_series w USING (series_id)
            WHERE c.last_termination_reason = 'OOMKilled' AND c.ts <= {hi}""").fetchall():
        if at is not None:
            ooms.setdefault((ns, kind, name, container), []).append(int(at))
    per_pod = {
        (ns, kind, name): int(n)
        for ns, kind, name, n in con.execute(
            "SELECT namespace, workload_kind, workload, count(DISTINCT container) FROM w_series GROUP BY ALL"
        ).fetchall()
    }
    restarts = {
        (r[0], r[1], r[2], r[3]): int(r[4])
        for r in con.execute(f"""
        SELECT w.namespace, w.workload_kind, w.workload, w.container,
               coalesce(max(c.restarts) - min(c.restarts), 0)  -- NULL: an imported OOM kill, no counter
        FROM container_status c JOIN w_series w USING (series_id) WHERE c.ts <= {hi} GROUP BY ALL""").fetchall()
    }
    pod_nodes: dict[int, dict[int, str]] = {}
    for c, p, node in con.execute(
        "SELECT DISTINCT cidx, pidx, s.node FROM w_series w JOIN series s USING (series_id) WHERE s.node IS NOT NULL"
    ).fetchall():
        pod_nodes.setdefault(int(c), {})[int(p)] = node
    pod_names: dict[int, dict[int, str]] = {}
    for c, p, pod in con.execute("SELECT DISTINCT cidx, pidx, pod FROM w_series").fetchall():
        pod_names.setdefault(int(c), {})[int(p)] = str(pod)
    return Events({k: tuple(sorted(v)) for k, v in ooms.items()}, restarts, per_pod, pod_nodes, pod_names)
