"""Read-side SQL of the DuckDB backend: status, usage for analysis, audit, user queries, export, cleanup."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from upid.errors import NoDataError, UsageError
from upid.store.base import AuditEntry, AuditRecord, ClusterStatus
from upid.store.duckdb import blocks
from upid.store.duckdb.connection import one, sql_literal
from upid.store.duckdb.writer import add_audit, transaction

if TYPE_CHECKING:
    import numpy as np  # annotations only; numpy is imported where it is used

    from upid.analysis.frame import UsageFrame
    from upid.analysis.window import ClusterWindow, ContainerKey, Events, Node, Scope, Workload, WorkloadKey

READ_MEMORY_LIMIT = "400MB"


def _cluster_id(con: duckdb.DuckDBPyConnection, cluster: str) -> int:
    row = one(con, "SELECT cluster_id FROM clusters WHERE name = ?", [cluster])
    if not row:
        names = [r[0] for r in con.execute("SELECT name FROM clusters ORDER BY name").fetchall()]
        raise NoDataError(f"no cluster {cluster!r} in the store", hint=f"known clusters: {', '.join(names) or 'none'}")
    return int(row[0])


def all_samples(con: duckdb.DuckDBPyConnection, store: Path, cluster_id: int | None = None) -> str:
    return blocks.samples_sql(blocks.block_files(con, store, cluster_id))


def usage_view(con: duckdb.DuckDBPyConnection, store: Path) -> str:
    """Every sample with readable names and SI units: what `storage query` and `export` show."""
    return f"""
        SELECT c.name AS cluster, s.namespace, s.workload_kind, s.workload, s.pod, s.container, s.node,
               x.ts AS timestamp, x.cpu_m / 1000.0 AS cpu_cores, x.mem_kib * 1024 AS memory_bytes,
               x.net_rx AS network_rx_bytes_per_s, x.net_tx AS network_tx_bytes_per_s,
               CASE x.source WHEN 1 THEN 'import' WHEN 2 THEN 'metrics-server' WHEN 3 THEN 'kubelet-summary'
                             WHEN 4 THEN 'prometheus' END AS source
        FROM ({all_samples(con, store)}) x
        JOIN series s USING (series_id) JOIN clusters c USING (cluster_id)"""


def newest_sample(con: duckdb.DuckDBPyConnection, store: Path, cluster: str) -> int | None:
    cid = _cluster_id(con, cluster)
    row = one(
        con,
        f"SELECT epoch(max(ts))::BIGINT FROM ({all_samples(con, store, cid)}) x "
        "WHERE series_id IN (SELECT series_id FROM series WHERE cluster_id = ?)",
        [cid],
    )
    return int(row[0]) if row and row[0] is not None else None


def sample_times(
    con: duckdb.DuckDBPyConnection, store: Path, cluster: str, start: int, end: int, namespaces: list[str] | None
) -> set[int]:
    """The distinct sample times in [start, end] of the cluster (of these namespaces, when given)."""
    if cluster not in {r[0] for r in con.execute("SELECT name FROM clusters").fetchall()}:
        return set()
    cid = _cluster_id(con, cluster)
    where = "" if not namespaces else f" AND namespace IN ({', '.join(sql_literal(n) for n in namespaces)})"
    rows = con.execute(
        f"SELECT DISTINCT epoch(ts)::BIGINT FROM ({all_samples(con, store, cid)}) x "
        f"WHERE ts BETWEEN make_timestamp(?::BIGINT * 1000000) AND make_timestamp(?::BIGINT * 1000000) "
        f"AND series_id IN (SELECT series_id FROM series WHERE cluster_id = ?{where})",
        [start, end, cid],
    ).fetchall()
    return {int(r[0]) for r in rows}


def cluster_status(con: duckdb.DuckDBPyConnection, store: Path) -> list[ClusterStatus]:
    rows = con.execute(f"""
        SELECT c.name, count(DISTINCT s.series_id), count(x.ts), epoch(min(x.ts))::BIGINT, epoch(max(x.ts))::BIGINT
        FROM clusters c LEFT JOIN series s USING (cluster_id)
        LEFT JOIN ({all_samples(con, store)}) x USING (series_id)
        GROUP BY c.name ORDER BY c.name""").fetchall()
    return [ClusterStatus(name=r[0], series=int(r[1]), samples=int(r[2]), first=r[3], last=r[4]) for r in rows]


def load_usage(
    con: duckdb.DuckDBPyConnection,
    store: Path,
    cid: int,
    cluster: str,
    start: int,
    end: int,
    namespaces: list[str] | None,
    workloads: list[WorkloadKey] | None = None,
) -> tuple[UsageFrame, Events]:
    import numpy as np

    from upid.analysis.frame import UsageFrame

    ns_filter = ""
    params: list[object] = [cid]
    if namespaces:
        ns_filter = f"AND namespace IN ({', '.join('?' for _ in namespaces)})"
        params += namespaces
    if workloads is not None:  # chosen by a label selector
        con.register(
            "w_allowed",
            {
                k: np.asarray([w[i] for w in workloads], dtype=object)
                for i, k in enumerate(("namespace", "workload_kind", "workload"))
            },
        )
        ns_filter += (
            " AND (namespace, workload_kind, workload) IN (SELECT (namespace, workload_kind, workload) FROM w_allowed)"
        )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE w_series AS
        SELECT *, dense_rank() OVER (PARTITION BY cidx ORDER BY pod) - 1 AS pidx FROM (
            SELECT series_id, pod,
                   dense_rank() OVER (ORDER BY namespace, workload_kind, workload, container) - 1 AS cidx,
                   namespace, workload_kind, workload, container
            FROM series WHERE cluster_id = ? {ns_filter})""",
        params,
    )
    lo, hi = (
        f"make_timestamp({int(start)}::BIGINT * 1000000)",
        f"make_timestamp({int(end)}::BIGINT * 1000000)",
    )
    files = blocks.block_files(con, store, cid, _sql_ts(con, start), _sql_ts(con, end))
    con.execute(f"SET memory_limit = '{READ_MEMORY_LIMIT}'")  # sorts spill to disk rather than grow the process
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
    containers = con.execute(f"""
        WITH latest AS (
            SELECT w.cidx, arg_max(r.cpu_request_m, r.ts) AS cr, arg_max(r.cpu_limit_m, r.ts) AS cl,
                   arg_max(r.memory_request, r.ts) AS mr, arg_max(r.memory_limit, r.ts) AS ml
            FROM resources r JOIN w_series w USING (series_id) WHERE r.ts <= {hi} GROUP BY w.cidx)
        SELECT DISTINCT w.cidx, w.namespace, w.workload_kind, w.workload, w.container,
               l.cr / 1000.0 AS cpu_request, l.cl / 1000.0 AS cpu_limit,
               l.mr::DOUBLE AS memory_request, l.ml::DOUBLE AS memory_limit
        FROM w_series w LEFT JOIN latest l USING (cidx) ORDER BY w.cidx""").fetchnumpy()
    events = _events(con, hi)
    con.execute("DROP TABLE temp.w_series")
    frame = UsageFrame(
        cluster=cluster,
        start=start,
        end=end,
        containers={k: _filled(v) for k, v in containers.items()},
        container_idx=np.asarray(data.pop("cidx")),
        pod_idx=np.asarray(data.pop("pidx")),
        ts=np.asarray(data.pop("ts"), dtype=np.int64) + int(start),
        cpu=np.asarray(data.pop("cpu_m")) / 1000.0,
        memory=np.asarray(data.pop("mem_kib")) * 1024.0,
        network=_filled(data.pop("net")).astype(np.float32),
    )
    return frame, events


def nodes(con: duckdb.DuckDBPyConnection, cid: int) -> tuple[Node, ...]:
    from upid.analysis.window import Node

    rows = con.execute(
        """SELECT name, cpu_capacity, memory_capacity, cpu_allocatable, memory_allocatable,
                  instance_type, region, zone, capacity_type, provider_id,
                  epoch(first_seen)::BIGINT, epoch(last_seen)::BIGINT
           FROM nodes WHERE cluster_id = ? ORDER BY name""",
        [cid],
    ).fetchall()
    return tuple(
        Node(
            name=r[0],
            cpu_capacity=float(r[1] or 0),
            memory_capacity=float(r[2] or 0),
            cpu_allocatable=_number(r[3]),
            memory_allocatable=_number(r[4]),
            instance_type=r[5],
            region=r[6],
            zone=r[7],
            capacity_type=r[8],
            provider_id=r[9],
            first_seen=r[10],
            last_seen=r[11],
        )
        for r in rows
    )


def _number(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def workloads(con: duckdb.DuckDBPyConnection, cid: int) -> dict[WorkloadKey, Workload]:
    """Every workload the cluster's collections recorded: labels, replicas, annotations, its HPA, the PDBs whose
    selector matches its labels, and the order of its containers (for JSON patches)."""
    from upid.analysis.window import Hpa, Pdb, Workload

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
    for ns, name, lo, hi, selector, allowed in pdbs:
        match = json.loads(selector or "{}") or {}  # the PDB's matchLabels
        for key, have in fields.items():
            labels = have.get("labels", {})
            if key[0] == ns and match and all(labels.get(k) == v for k, v in match.items()):
                have["pdbs"] = (*have.get("pdbs", ()), Pdb(name, lo, hi, allowed))
    return {key: Workload(**f) for key, f in fields.items()}


def window(
    con: duckdb.DuckDBPyConnection, store: Path, cluster: str, start: int, end: int, scope: Scope
) -> ClusterWindow:
    """The one read of an analysis: usage of the scoped workloads over (start, end], nodes, workloads, events."""
    from upid.analysis.window import ClusterWindow
    from upid.selectors import matches, parse_selector

    cid = _cluster_id(con, cluster)
    known = workloads(con, cid)
    chosen = None
    if scope.selector:
        requirements = parse_selector(scope.selector)
        chosen = [key for key, w in known.items() if matches(requirements, dict(w.labels))]
    namespaces = list(scope.namespaces) if scope.namespaces else None
    frame, events = load_usage(con, store, cid, cluster, start, end, namespaces, chosen)
    return ClusterWindow(frame, nodes(con, cid), known, events)


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
    return Events({k: tuple(sorted(v)) for k, v in ooms.items()}, restarts, per_pod, pod_nodes)


def _sql_ts(con: duckdb.DuckDBPyConnection, epoch: int) -> str:
    row = one(con, "SELECT make_timestamp(CAST(? AS BIGINT) * 1000000)::VARCHAR", [int(epoch)])
    assert row is not None
    return str(row[0])


def _filled(values: np.ndarray) -> np.ndarray:
    """DuckDB returns masked arrays where NULLs occur: turn those into NaN (numbers) or None."""
    import numpy as np

    if isinstance(values, np.ma.MaskedArray):
        masked: Any = values
        if values.dtype.kind == "f":
            return np.asarray(masked.filled(np.nan))
        return np.asarray(masked.astype(object).filled(None))
    return np.asarray(values)


def audit_log(con: duckdb.DuckDBPyConnection, limit: int) -> list[AuditEntry]:
    rows = con.execute(
        "SELECT id, epoch(logged_at)::BIGINT, command, cluster, os_user, result, details, args "
        "FROM audit_log ORDER BY id DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [
        AuditEntry(
            id=r[0],
            at=r[1],
            command=r[2],
            cluster=r[3],
            user=r[4],
            result=r[5],
            details={**json.loads(r[6] or "{}"), "args": list(r[7])},
        )
        for r in rows
    ]


def export(con: duckdb.DuckDBPyConnection, store: Path, directory: Path, overwrite: bool) -> dict[str, int]:
    """Every sample as Parquet, hive-partitioned by cluster and day, readable by any Parquet engine."""
    if directory.exists() and any(directory.iterdir()):
        if not overwrite:
            raise UsageError(f"{directory} is not empty", hint="choose an empty directory or pass --overwrite")
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = sql_literal(directory)
    row = one(con, f"SELECT count(*) FROM ({usage_view(con, store)})")
    con.execute(
        f"COPY (SELECT *, strftime(timestamp, '%Y-%m-%d') AS day FROM ({usage_view(con, store)}) "
        f"ORDER BY cluster, day, namespace, workload, pod, container, timestamp) "
        f"TO {target} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (cluster, day))"
    )
    files = len(list(directory.rglob("*.parquet")))
    return {"samples": int(row[0]) if row else 0, "files": files}


def cleanup(
    con: duckdb.DuckDBPyConnection,
    store: Path,
    days_to_keep: int,
    audit: AuditRecord,
    now: float,
    clusters: list[str] | None = None,
    dry_run: bool = False,
) -> tuple[dict[str, int], list[Path]]:
    """Drop samples older than `days_to_keep` before each cluster's newest sample, as Prometheus' retention
    counts from its newest data, so that imported history is not wiped by the wall clock. A newest sample
    after `now` (the wall clock) counts as `now`: one sample from the future never wipes real history.

    Returns per-cluster removed counts (what would go, with `dry_run`, which changes nothing) and the block files
    to delete once the transaction has committed.
    """
    cutoffs = []
    for cid, name in con.execute("SELECT cluster_id, name FROM clusters ORDER BY name").fetchall():
        newest = newest_sample(con, store, name)
        if newest is not None and (clusters is None or name in clusters):
            cutoffs.append((int(cid), str(name), _sql_ts(con, min(newest, int(now)) - days_to_keep * 86400)))
    if dry_run:
        return {name: _count_older(con, store, cid, cutoff) for cid, name, cutoff in cutoffs}, []
    removed: dict[str, int] = {}
    old_files: list[Path] = []
    with transaction(con):
        for cid, name, cutoff in cutoffs:
            removed[name], files = _cleanup_cluster(con, store, cid, cutoff)
            old_files += files
        add_audit(con, audit, None, "ok", {"days_to_keep": days_to_keep, "removed": removed})
    con.execute("CHECKPOINT")
    return removed, old_files


def _count_older(con: duckdb.DuckDBPyConnection, store: Path, cid: int, cutoff: str) -> int:
    files = blocks.block_files(con, store, cid, None, cutoff)
    in_cluster = f"series_id IN (SELECT series_id FROM series WHERE cluster_id = {int(cid)})"
    row = one(con, f"SELECT count(*) FROM ({blocks.samples_sql(files)}) WHERE {in_cluster} AND ts < ?::TIMESTAMP",
              [cutoff])  # fmt: skip
    return int(row[0]) if row else 0


def _cleanup_cluster(con: duckdb.DuckDBPyConnection, store: Path, cid: int, cutoff: str) -> tuple[int, list[Path]]:
    in_cluster = f"series_id IN (SELECT series_id FROM series WHERE cluster_id = {int(cid)})"
    row = one(con, f"SELECT count(*) FROM samples WHERE {in_cluster} AND ts < ?::TIMESTAMP", [cutoff])
    count = int(row[0]) if row else 0
    con.execute(f"DELETE FROM samples WHERE {in_cluster} AND ts < ?::TIMESTAMP", [cutoff])
    old = con.execute(
        "SELECT block_id, file, max_ts < ?::TIMESTAMP, samples FROM blocks "
        "WHERE cluster_id = ? AND min_ts < ?::TIMESTAMP",
        [cutoff, cid, cutoff],
    ).fetchall()
    files = []
    root = blocks.blocks_dir(store)
    for block_id, file, whole, rows in old:
        path = root / file
        if whole:
            count += int(rows)
        else:  # keep the block's recent part as a new block
            kept = blocks.write_block(
                con,
                store,
                cid,
                f"SELECT * FROM read_parquet({sql_literal(path)}) WHERE ts >= {sql_literal(cutoff)}::TIMESTAMP",
            )
            count += int(rows) - kept
        con.execute("DELETE FROM blocks WHERE block_id = ?", [block_id])
        files.append(path)
    return count, files
