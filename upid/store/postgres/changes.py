"""The `changes` table of a PostgreSQL store: the audit trail of `upid optimize`, written before and after every
change, each also logged in `audit_log` when it ends (the same records as the DuckDB backend's)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from upid.store.base import ChangeRecord

if TYPE_CHECKING:
    import psycopg

_COLUMNS = (
    "id, run, extract(epoch FROM started_at)::bigint, extract(epoch FROM finished_at)::bigint, cluster, context, "
    "kube_user, os_user, namespace, kind, name, action, before, after, status, message, rollback_of"
)


def begin(con: psycopg.Connection, c: ChangeRecord) -> int:
    row = con.execute(
        """INSERT INTO upid.changes (run, cluster, context, kube_user, os_user, namespace, kind, name, action, before,
                                     after, status, message, rollback_of)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        [
            c.run,
            c.cluster,
            c.context,
            c.kube_user,
            c.os_user,
            c.namespace,
            c.kind,
            c.name,
            c.action,
            json.dumps(c.before, sort_keys=True),
            json.dumps(c.after, sort_keys=True),
            c.status,
            c.message,
            c.rollback_of,
        ],  # fmt: skip
    ).fetchone()
    assert row is not None
    return int(row[0])


def end(con: psycopg.Connection, change_id: int, status: str, message: str | None, after: Any) -> None:
    """Close the change and log it in `audit_log` too, where every command that changes a cluster is listed."""
    with con.transaction():
        con.execute(
            "UPDATE upid.changes SET finished_at = now(), status = %s, message = %s, after = coalesce(%s, after) "
            "WHERE id = %s",
            [status, message, None if after is None else json.dumps(after, sort_keys=True), change_id],
        )
        con.execute(
            """INSERT INTO upid.audit_log (command, args, cluster, os_user, result, details)
               SELECT 'optimize ' || action, ARRAY[run], cluster, os_user, status,
                      jsonb_build_object('change', id, 'workload', namespace || '/' || kind || '/' || name,
                                         'context', context, 'kube_user', kube_user, 'message', message)
               FROM upid.changes WHERE id = %s""",
            [change_id],
        )


def read(con: psycopg.Connection, limit: int, cluster: str | None) -> list[ChangeRecord]:
    where = "WHERE cluster = %s" if cluster else ""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM upid.changes {where} ORDER BY id DESC LIMIT %s",
        [*([cluster] if cluster else []), limit],
    ).fetchall()
    names = ("id", "run", "started_at", "finished_at", "cluster", "context", "kube_user", "os_user", "namespace",
             "kind", "name", "action", "before", "after", "status", "message", "rollback_of")  # fmt: skip
    return [ChangeRecord(**dict(zip(names, r, strict=True))) for r in rows]
