"""The `changes` table: the audit trail of `upid optimize`, written before and after every change."""

from __future__ import annotations

import json
from typing import Any

import duckdb

from upid.store.base import ChangeRecord

_COLUMNS = (
    "id, run, epoch(started_at)::BIGINT, epoch(finished_at)::BIGINT, cluster, context, kube_user, os_user, "
    "namespace, kind, name, action, before, after, status, message, rollback_of"
)


def begin(con: duckdb.DuckDBPyConnection, c: ChangeRecord) -> int:
    row = con.execute(
        """INSERT INTO changes
           SELECT coalesce(max(id), 0) + 1, ?, now()::TIMESTAMP, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
           FROM changes RETURNING id""",
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
        ],
    ).fetchone()
    assert row is not None
    return int(row[0])


def end(con: duckdb.DuckDBPyConnection, change_id: int, status: str, message: str | None, after: Any) -> None:
    """Close the change and log it in `audit_log` too, where every command that changes a cluster is listed."""
    con.execute(
        "UPDATE changes SET finished_at = now()::TIMESTAMP, status = ?, message = ?, after = coalesce(?, after) "
        "WHERE id = ?",
        [status, message, None if after is None else json.dumps(after, sort_keys=True), change_id],
    )
    con.execute(
        """INSERT INTO audit_log
           SELECT (SELECT coalesce(max(id), 0) + 1 FROM audit_log), now()::TIMESTAMP, 'optimize ' || action,
                  [run], cluster, os_user, status,
                  json_object('change', id, 'workload', namespace || '/' || kind || '/' || name, 'context', context,
                              'kube_user', kube_user, 'message', message)
           FROM changes WHERE id = ?""",
        [change_id],
    )


def read(con: duckdb.DuckDBPyConnection, limit: int, cluster: str | None) -> list[ChangeRecord]:
    where = "WHERE cluster = ?" if cluster else ""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM changes {where} ORDER BY id DESC LIMIT ?", [*([cluster] if cluster else []), limit]
    ).fetchall()
    return [
        ChangeRecord(
            id=r[0],
            run=r[1],
            started_at=r[2],
            finished_at=r[3],
            cluster=r[4],
            context=r[5],
            kube_user=r[6],
            os_user=r[7],
            namespace=r[8],
            kind=r[9],
            name=r[10],
            action=r[11],
            before=json.loads(r[12]),
            after=json.loads(r[13]),
            status=r[14],
            message=r[15],
            rollback_of=r[16],
        )
        for r in rows
    ]
