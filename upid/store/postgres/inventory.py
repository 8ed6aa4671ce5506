"""The inventory of a PostgreSQL store: what `storage collect` records besides samples (the cluster's identity,
nodes, workloads, HPAs, PDBs, container statuses, kubelet counters), written in the collection's transaction, and
read back for the next collection and for the analysis (the same records as the DuckDB backend's)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from upid.errors import UsageError
from upid.inventory import Collection, Identity
from upid.store.base import NODE_COLUMNS, AuditRecord, WriteResult, node_from_row, workloads_with_pdbs
from upid.store.postgres.writer import add_audit, ensure_cluster, write_samples

if TYPE_CHECKING:
    from collections.abc import Sequence

    import psycopg

    from upid.analysis.window import ContainerKey, Events, Node, Workload, WorkloadKey


def resolve_cluster(con: psycopg.Connection, identity: Identity, name: str) -> tuple[int, str]:
    """The stored cluster for this identity: found by UID (a renamed context keeps its history), else the cluster
    called `name` if it has no identity yet (history imported before), else a new one."""
    row = con.execute(
        "SELECT c.cluster_id, c.name FROM upid.cluster_identity i JOIN upid.clusters c USING (cluster_id) "
        "WHERE i.uid = %s",
        [identity.uid],
    ).fetchone()
    if row:
        cid, stored = int(row[0]), str(row[1])
    else:
        other = con.execute(
            "SELECT i.uid FROM upid.clusters c JOIN upid.cluster_identity i USING (cluster_id) WHERE c.name = %s",
            [name],
        ).fetchone()
        if other:
            raise UsageError(
                f"cluster name {name!r} already belongs to another cluster (uid {other[0]})",
                hint="store this one under another name with --cluster",
            )
        cid, stored = ensure_cluster(con, name), name
    con.execute(
        """INSERT INTO upid.cluster_identity VALUES (%s, %s, %s, %s, %s, %s, %s, now())
           ON CONFLICT (cluster_id) DO UPDATE SET context = EXCLUDED.context, server = EXCLUDED.server,
               version = EXCLUDED.version, distribution = EXCLUDED.distribution, provider = EXCLUDED.provider,
               updated_at = EXCLUDED.updated_at""",
        [
            cid,
            identity.uid,
            identity.context,
            identity.server,
            identity.version,
            identity.distribution,
            identity.provider,
        ],  # fmt: skip
    )
    return cid, stored


def _upsert(
    con: psycopg.Connection,
    table: str,
    cid: int,
    at: int,
    columns: dict[str, str],
    key: Sequence[str],
    rows: list[tuple[Any, ...]],
    first_seen: bool,
) -> None:
    """All rows in one INSERT ... SELECT FROM unnest ... ON CONFLICT. `columns`: each column's SQL array type."""
    if not rows:
        return
    stamps = ["first_seen", "last_seen"] if first_seen else ["last_seen"]
    names = ", ".join(["cluster_id", *columns, *stamps])
    arrays = ", ".join(f"%s::{kind}[]" for kind in columns.values())
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*columns, "last_seen"] if c not in key)
    con.execute(
        f"""INSERT INTO upid.{table} ({names})
            SELECT %s, u.*, {", ".join("%s" for _ in stamps)} FROM unnest({arrays}) AS u
            ON CONFLICT (cluster_id, {", ".join(key)}) DO UPDATE SET {updates}""",
        [cid, *([at] * len(stamps)), *([r[i] for r in rows] for i in range(len(columns)))],
    )


def _inventory(con: psycopg.Connection, cid: int, c: Collection) -> None:
    node_columns = {
        "name": "text",
        **dict.fromkeys(("cpu_capacity", "memory_capacity", "cpu_allocatable", "memory_allocatable"), "float8"),
        **dict.fromkeys(("instance_type", "region", "zone", "capacity_type", "provider_id"), "text"),
        "labels": "jsonb",
    }
    nodes = [(n.name, n.cpu_capacity, n.memory_capacity, n.cpu_allocatable, n.memory_allocatable, n.instance_type,
              n.region, n.zone, n.capacity_type, n.provider_id, json.dumps(n.labels)) for n in c.nodes]  # fmt: skip
    _upsert(con, "nodes", cid, c.at, node_columns, ["name"], nodes, True)
    workload_columns = {"namespace": "text", "kind": "text", "name": "text", "replicas": "int4",
                        "annotations": "jsonb", "labels": "jsonb"}  # fmt: skip
    workloads = [(w.namespace, w.kind, w.name, w.replicas, json.dumps(w.annotations), json.dumps(w.labels))
                 for w in c.workloads]  # fmt: skip
    _upsert(con, "workloads", cid, c.at, workload_columns, ["namespace", "kind", "name"], workloads, True)
    hpas = [(h["namespace"], h["name"], h["target_kind"], h["target_name"], h["min_replicas"], h["max_replicas"],
             h["current_replicas"], ",".join(h["resources"])) for h in c.hpas]  # fmt: skip
    if hpas:  # resources travel as one comma-joined text per HPA (an array of arrays must be rectangular)
        con.execute(
            """INSERT INTO upid.hpas (cluster_id, namespace, name, target_kind, target_name, min_replicas,
                   max_replicas, current_replicas, resources, last_seen)
               SELECT %s, u.ns, u.name, u.tk, u.tn, u.lo, u.hi, u.cur,
                      CASE WHEN u.res = '' THEN '{}'::text[] ELSE string_to_array(u.res, ',') END, %s
               FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::int4[], %s::int4[], %s::int4[],
                           %s::text[]) AS u(ns, name, tk, tn, lo, hi, cur, res)
               ON CONFLICT (cluster_id, namespace, name) DO UPDATE SET target_kind = EXCLUDED.target_kind,
                   target_name = EXCLUDED.target_name, min_replicas = EXCLUDED.min_replicas,
                   max_replicas = EXCLUDED.max_replicas, current_replicas = EXCLUDED.current_replicas,
                   resources = EXCLUDED.resources, last_seen = EXCLUDED.last_seen""",
            [cid, c.at, *([r[i] for r in hpas] for i in range(8))],
        )
    pdb_columns = {"namespace": "text", "name": "text", "min_available": "text", "max_unavailable": "text",
                   "selector": "jsonb", "disruptions_allowed": "int4"}  # fmt: skip
    pdbs = [(p["namespace"], p["name"], p["min_available"], p["max_unavailable"], json.dumps(p["selector"]),
             p["disruptions_allowed"]) for p in c.pdbs]  # fmt: skip
    _upsert(con, "pdbs", cid, c.at, pdb_columns, ["namespace", "name"], pdbs, False)


def _statuses_and_counters(con: psycopg.Connection, ids: list[int], c: Collection) -> None:
    """A status row only where something changed since the series' previous one; the counters replace the last."""
    if c.statuses:
        keys = ("restarts", "phase", "qos", "last_termination_reason", "last_termination_at")
        con.execute(
            """INSERT INTO upid.container_status
               SELECT n.* FROM unnest(%s::int4[], %s::int8[], %s::int4[], %s::text[], %s::text[], %s::text[],
                                      %s::text[]) AS n(series_id, ts, restarts, phase, qos, reason, at)
               LEFT JOIN LATERAL (SELECT * FROM upid.container_status p WHERE p.series_id = n.series_id
                                  AND p.ts <= n.ts ORDER BY p.ts DESC LIMIT 1) p ON true
               WHERE p.series_id IS NULL OR n.restarts IS DISTINCT FROM p.restarts OR n.phase IS DISTINCT FROM p.phase
                  OR n.reason IS DISTINCT FROM p.last_termination_reason
                  OR n.at IS DISTINCT FROM p.last_termination_at
               ON CONFLICT DO NOTHING""",
            [
                [ids[int(s["series_idx"])] for s in c.statuses],
                [c.at] * len(c.statuses),
                *(
                    [None if s[k] is None else (int(s[k]) if k == "restarts" else str(s[k])) for s in c.statuses]
                    for k in keys
                ),
            ],  # fmt: skip
        )
    if c.counters:
        con.execute(
            """INSERT INTO upid.kubelet_counters
               SELECT u.series_id, u.ts, u.cpu_ns, nullif(u.rx, 'NaN'), nullif(u.tx, 'NaN')
               FROM unnest(%s::int4[], %s::int8[], %s::float8[], %s::float8[], %s::float8[])
                    AS u(series_id, ts, cpu_ns, rx, tx)
               ON CONFLICT (series_id) DO UPDATE SET ts = EXCLUDED.ts, cpu_ns = EXCLUDED.cpu_ns, rx = EXCLUDED.rx,
                   tx = EXCLUDED.tx""",
            [
                [ids[int(k[0])] for k in c.counters],
                [int(k[1]) for k in c.counters],
                *([float(k[i]) for k in c.counters] for i in (2, 3, 4)),
            ],  # fmt: skip
        )


def write_collection(con: psycopg.Connection, c: Collection, name: str, audit: AuditRecord) -> WriteResult:
    """The whole snapshot in one transaction: stored entirely or not at all."""
    with con.transaction():
        cid, stored = resolve_cluster(con, c.identity, name)
        c.batch.cluster = stored
        new, created, ids = write_samples(con, cid, c.batch)
        _inventory(con, cid, c)
        _statuses_and_counters(con, ids, c)
        details = {"source": "collect", "received": len(c.batch), "written": new, "series_created": created,
                   "pods": c.pods, "nodes": len(c.nodes), "sources": c.sources,
                   "context": c.identity.context}  # fmt: skip
        add_audit(con, audit, stored, details)
    return WriteResult(cluster=stored, received=len(c.batch), written=new, series_created=created)


def previous_counters(con: psycopg.Connection, uid: str) -> dict[tuple[str, str, str], tuple[int, float, float, float]]:
    rows = con.execute(
        """SELECT s.namespace, s.pod, s.container, k.ts, k.cpu_ns, coalesce(k.rx, 'NaN'), coalesce(k.tx, 'NaN')
           FROM upid.kubelet_counters k JOIN upid.series s USING (series_id)
           JOIN upid.cluster_identity i USING (cluster_id) WHERE i.uid = %s""",
        [uid],
    ).fetchall()
    return {(r[0], r[1], r[2]): (int(r[3]), float(r[4]), float(r[5]), float(r[6])) for r in rows}


def cluster_identities(con: psycopg.Connection) -> list[dict[str, object]]:
    rows = con.execute(
        """SELECT c.name, i.uid, i.context, i.server, i.version, i.distribution, i.provider
           FROM upid.clusters c LEFT JOIN upid.cluster_identity i USING (cluster_id) ORDER BY c.name"""
    ).fetchall()
    keys = ("cluster", "uid", "context", "server", "version", "distribution", "provider")
    return [dict(zip(keys, r, strict=True)) for r in rows]


# -- reading, for the window ---------------------------------------------------------------------


def nodes(con: psycopg.Connection, cid: int) -> tuple[Node, ...]:
    rows = con.execute(
        f"SELECT {NODE_COLUMNS}, first_seen, last_seen FROM upid.nodes WHERE cluster_id = %s ORDER BY name", [cid]
    ).fetchall()
    return tuple(node_from_row(r) for r in rows)


def workloads(con: psycopg.Connection, cid: int) -> dict[WorkloadKey, Workload]:
    """Every workload the cluster's collections recorded: labels, replicas, annotations, its HPA, the PDBs whose
    selector matches its labels, and the order of its containers (for JSON patches)."""
    from upid.analysis.window import Hpa

    fields: dict[WorkloadKey, dict[str, Any]] = {}
    for ns, kind, name, replicas, notes, labels in con.execute(
        "SELECT namespace, kind, name, replicas, annotations, labels FROM upid.workloads WHERE cluster_id = %s "
        "ORDER BY namespace, kind, name",
        [cid],
    ).fetchall():
        fields[(ns, kind, name)] = {"replicas": replicas, "annotations": notes or {}, "labels": labels or {}}
    for ns, kind, name, containers in con.execute(
        """SELECT namespace, workload_kind, workload, array_agg(container ORDER BY first_id) FROM (
             SELECT namespace, workload_kind, workload, container, min(series_id) AS first_id FROM upid.series
             WHERE cluster_id = %s GROUP BY 1, 2, 3, 4) x GROUP BY 1, 2, 3""",
        [cid],
    ).fetchall():  # series are created in the pod spec's container order when collected
        fields.setdefault((ns, kind, name), {})["containers"] = tuple(containers)
    for ns, name, kind, target, lo, resources in con.execute(
        "SELECT namespace, name, target_kind, target_name, min_replicas, resources FROM upid.hpas "
        "WHERE cluster_id = %s ORDER BY namespace, name",
        [cid],
    ).fetchall():
        fields.setdefault((ns, kind, target), {})["hpa"] = Hpa(name, lo, tuple(sorted(resources or ())))
    pdbs = con.execute(
        "SELECT namespace, name, min_available, max_unavailable, selector, disruptions_allowed FROM upid.pdbs "
        "WHERE cluster_id = %s ORDER BY namespace, name",
        [cid],
    ).fetchall()
    return workloads_with_pdbs(fields, ((ns, name, lo, hi, selector or {}, allowed)
                                        for ns, name, lo, hi, selector, allowed in pdbs))  # fmt: skip


def epoch(text: str | None) -> int | None:
    """An RFC 3339 time as the API server writes it, in UNIX seconds; None when it is not one."""
    if not text:
        return None
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def events(con: psycopg.Connection, series: dict[int, tuple[ContainerKey, int, int, str | None]], end: int) -> Events:
    """OOM kills, restarts within the window, containers per pod and pods' nodes, for the window's series
    (`series`: series id -> (container key, container index, pod index, node))."""
    from upid.analysis.window import Events

    ooms: dict[ContainerKey, set[int]] = {}
    low: dict[ContainerKey, int] = {}
    high: dict[ContainerKey, int] = {}
    seen: set[ContainerKey] = set()
    for sid, restarts, reason, at in con.execute(
        "SELECT series_id, restarts, last_termination_reason, last_termination_at FROM upid.container_status "
        "WHERE series_id = ANY(%s) AND ts <= %s",
        [list(series), int(end)],
    ).fetchall():
        key = series[int(sid)][0]
        seen.add(key)
        if reason == "OOMKilled" and (when := epoch(at)) is not None:
            ooms.setdefault(key, set()).add(when)
        if restarts is not None:
            low[key] = min(low.get(key, restarts), restarts)
            high[key] = max(high.get(key, restarts), restarts)
    restarts = {key: high[key] - low[key] if key in high else 0 for key in seen}
    per_pod: dict[WorkloadKey, set[str]] = {}
    pod_nodes: dict[int, dict[int, str]] = {}
    for key, c, p, node in series.values():
        per_pod.setdefault(key[:3], set()).add(key[3])
        if node is not None:
            pod_nodes.setdefault(c, {})[p] = node
    return Events({k: tuple(sorted(v)) for k, v in ooms.items()}, restarts,
                  {k: len(v) for k, v in per_pod.items()}, pod_nodes)  # fmt: skip
