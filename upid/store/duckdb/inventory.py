"""Writing a collection's inventory (identity, nodes, workloads, HPAs, PDBs, statuses, counters) and
reading back what the next collection needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from upid.errors import UsageError
from upid.inventory import Collection, Identity
from upid.store.base import AuditRecord, WriteResult
from upid.store.duckdb import blocks
from upid.store.duckdb.connection import epoch_sql, one
from upid.store.duckdb.writer import add_audit, audited, ensure_cluster, transaction, write_samples

if TYPE_CHECKING:
    pass  # annotations only; numpy is imported where it is used


def resolve_cluster(con: duckdb.DuckDBPyConnection, identity: Identity, name: str) -> tuple[int, str]:
    """The stored cluster for this identity: found by UID (so renaming a context keeps its history), else
    the cluster called `name` if it has no identity yet (history imported before), else a new one."""
    row = one(
        con,
        "SELECT c.cluster_id, c.name FROM cluster_identity i JOIN clusters c USING (cluster_id) WHERE i.uid = ?",
        [identity.uid],
    )
    if row:
        cluster_id, stored = int(row[0]), str(row[1])
    else:
        other = one(
            con, "SELECT i.uid FROM clusters c JOIN cluster_identity i USING (cluster_id) WHERE c.name = ?", [name]
        )
        if other:
            raise UsageError(
                f"cluster name {name!r} already belongs to another cluster (uid {other[0]})",
                hint="store this one under another name with --cluster",
            )
        cluster_id, stored = ensure_cluster(con, name), name
    con.execute(
        """INSERT INTO cluster_identity VALUES (?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)
        ON CONFLICT (cluster_id) DO UPDATE SET context = excluded.context, server = excluded.server,
            version = excluded.version, distribution = excluded.distribution, provider = excluded.provider,
            updated_at = excluded.updated_at""",
        [
            cluster_id,
            identity.uid,
            identity.context,
            identity.server,
            identity.version,
            identity.distribution,
            identity.provider,
        ],
    )
    return cluster_id, stored


def _upsert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    cid: int,
    at: int,
    columns: dict[str, str],
    key: list[str],
    rows: list[tuple[Any, ...]],
    first_seen: bool,
) -> None:
    """All rows in one set-based INSERT ... ON CONFLICT (a statement per row costs ~0.2 ms each).
    `columns` maps each column to the SQL that types it from the registered value."""
    import numpy as np

    if not rows:
        return
    con.register("b_upsert", {c: np.asarray([r[i] for r in rows], dtype=object) for i, c in enumerate(columns)})
    select = ", ".join(expr.format(c=c) for c, expr in columns.items())
    stamps = ["first_seen", "last_seen"] if first_seen else ["last_seen"]
    names = ", ".join(["cluster_id", *columns, *stamps])
    updates = ", ".join(f"{c} = excluded.{c}" for c in [*columns, "last_seen"] if c not in key)
    con.execute(
        f"""INSERT INTO {table} ({names}) SELECT {int(cid)}, {select}, {", ".join("a.at" for _ in stamps)}
        FROM b_upsert, (SELECT {epoch_sql(at)} AS at) a
        ON CONFLICT (cluster_id, {", ".join(key)}) DO UPDATE SET {updates}"""
    )
    con.unregister("b_upsert")


_TEXT, _DOUBLE, _INT = "CAST({c} AS VARCHAR)", "CAST({c} AS DOUBLE)", "CAST({c} AS INTEGER)"


def _upsert_inventory(con: duckdb.DuckDBPyConnection, cid: int, c: Collection) -> None:
    node_columns = {
        "name": _TEXT,
        **dict.fromkeys(("cpu_capacity", "memory_capacity", "cpu_allocatable", "memory_allocatable"), _DOUBLE),
        **dict.fromkeys(("instance_type", "region", "zone", "capacity_type", "provider_id"), _TEXT),
        "labels": "CAST({c} AS JSON)",
    }
    _upsert(
        con,
        "nodes",
        cid,
        c.at,
        node_columns,
        ["name"],
        [
            (
                n.name,
                n.cpu_capacity,
                n.memory_capacity,
                n.cpu_allocatable,
                n.memory_allocatable,
                n.instance_type,
                n.region,
                n.zone,
                n.capacity_type,
                n.provider_id,
                json.dumps(n.labels),
            )
            for n in c.nodes
        ],
        True,
    )
    _upsert(
        con,
        "workloads",
        cid,
        c.at,
        {
            "namespace": _TEXT,
            "kind": _TEXT,
            "name": _TEXT,
            "replicas": _INT,
            "annotations": "CAST({c} AS JSON)",
            "labels": "CAST({c} AS JSON)",
        },
        ["namespace", "kind", "name"],
        [
            (w.namespace, w.kind, w.name, w.replicas, json.dumps(w.annotations), json.dumps(w.labels))
            for w in c.workloads
        ],
        True,
    )
    _upsert(
        con,
        "hpas",
        cid,
        c.at,
        {
            "namespace": _TEXT,
            "name": _TEXT,
            "target_kind": _TEXT,
            "target_name": _TEXT,
            "min_replicas": _INT,
            "max_replicas": _INT,
            "current_replicas": _INT,
            "resources": "CASE WHEN {c} = '' THEN []::VARCHAR[] ELSE string_split({c}, ',') END",
        },
        ["namespace", "name"],
        [
            (
                h["namespace"],
                h["name"],
                h["target_kind"],
                h["target_name"],
                h["min_replicas"],
                h["max_replicas"],
                h["current_replicas"],
                ",".join(h["resources"]),
            )
            for h in c.hpas
        ],
        False,
    )
    _upsert(
        con,
        "pdbs",
        cid,
        c.at,
        {
            "namespace": _TEXT,
            "name": _TEXT,
            "min_available": _TEXT,
            "max_unavailable": _TEXT,
            "selector": "CAST({c} AS JSON)",
            "disruptions_allowed": _INT,
        },
        ["namespace", "name"],
        [
            (
                p["namespace"],
                p["name"],
                p["min_available"],
                p["max_unavailable"],
                json.dumps(p["selector"]),
                p["disruptions_allowed"],
            )
            for p in c.pdbs
        ],
        False,
    )


def _statuses_and_counters(con: duckdb.DuckDBPyConnection, c: Collection) -> None:
    import numpy as np

    if c.statuses:
        cols = {
            k: np.asarray([s[k] for s in c.statuses], dtype=object if k != "series_idx" else np.int64)
            for k in ("series_idx", "restarts", "phase", "qos", "last_termination_reason", "last_termination_at")
        }
        con.register("b_status", cols)
        con.execute(f"""INSERT INTO container_status
            SELECT n.* FROM (SELECT m.series_id, {epoch_sql(c.at)} AS ts, CAST(s.restarts AS INTEGER) AS restarts,
                                    s.phase, s.qos, s.last_termination_reason, s.last_termination_at
                             FROM b_status s JOIN b_map m ON m.idx = s.series_idx) n
            ASOF LEFT JOIN container_status p ON n.series_id = p.series_id AND n.ts >= p.ts
            WHERE p.series_id IS NULL OR n.restarts IS DISTINCT FROM p.restarts OR n.phase IS DISTINCT FROM p.phase
               OR n.last_termination_reason IS DISTINCT FROM p.last_termination_reason
               OR n.last_termination_at IS DISTINCT FROM p.last_termination_at""")
        con.unregister("b_status")
    if c.counters:
        arr = np.asarray(c.counters, dtype=np.float64)
        con.register(
            "b_counters",
            {
                "series_idx": arr[:, 0].astype(np.int64),
                "ts": arr[:, 1].astype(np.int64),
                "cpu_ns": arr[:, 2],
                "rx": arr[:, 3],
                "tx": arr[:, 4],
            },
        )
        con.execute("""INSERT INTO kubelet_counters
            SELECT m.series_id, make_timestamp(b.ts * 1000000), b.cpu_ns, nullif(b.rx, 'NaN'::DOUBLE),
                   nullif(b.tx, 'NaN'::DOUBLE)
            FROM b_counters b JOIN b_map m ON m.idx = b.series_idx
            ON CONFLICT (series_id) DO UPDATE SET ts = excluded.ts, cpu_ns = excluded.cpu_ns, rx = excluded.rx,
                tx = excluded.tx""")
        con.unregister("b_counters")


def write_collection(
    con: duckdb.DuckDBPyConnection,
    store: Path,
    c: Collection,
    name: str,
    audit: AuditRecord,
    thresholds: blocks.Thresholds,
    spooled: bool = False,
) -> WriteResult:
    """The whole snapshot in one transaction: it is stored entirely or not at all."""
    with transaction(con):
        cid, stored = resolve_cluster(con, c.identity, name)
        c.batch.cluster = stored
        new, created = write_samples(con, store, c.batch, cid, thresholds)
        _upsert_inventory(con, cid, c)
        _statuses_and_counters(con, c)
        details = {
            "source": "collect",
            "received": len(c.batch),
            "written": new,
            "series_created": created,
            "pods": c.pods,
            "nodes": len(c.nodes),
            "sources": c.sources,
            "context": c.identity.context,
        }
        add_audit(con, audit, stored, "ok", audited(details, spooled))
    return WriteResult(cluster=stored, received=len(c.batch), written=new, series_created=created)


def previous_counters(
    con: duckdb.DuckDBPyConnection, uid: str
) -> dict[tuple[str, str, str], tuple[int, float, float, float]]:
    rows = con.execute(
        """SELECT s.namespace, s.pod, s.container, epoch(k.ts)::BIGINT, k.cpu_ns, coalesce(k.rx, 'NaN'::DOUBLE),
                  coalesce(k.tx, 'NaN'::DOUBLE)
        FROM kubelet_counters k JOIN series s USING (series_id) JOIN cluster_identity i USING (cluster_id)
        WHERE i.uid = ?""",
        [uid],
    ).fetchall()
    return {(r[0], r[1], r[2]): (int(r[3]), float(r[4]), float(r[5]), float(r[6])) for r in rows}


def cluster_identities(con: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    rows = con.execute("""SELECT c.name, i.uid, i.context, i.server, i.version, i.distribution, i.provider
        FROM clusters c LEFT JOIN cluster_identity i USING (cluster_id) ORDER BY c.name""").fetchall()
    keys = ("cluster", "uid", "context", "server", "version", "distribution", "provider")
    return [dict(zip(keys, r, strict=True)) for r in rows]
