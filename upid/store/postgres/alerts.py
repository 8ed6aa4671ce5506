"""The alerts' states between runs (migration 8): read all that are not inactive; upsert by fingerprint (a
writer login only for its own clusters' alerts, as row-level security keys them on the cluster)."""

from __future__ import annotations

from typing import Any

import psycopg

from upid.store.alert_rows import COLUMNS, from_row, to_row


def load(con: psycopg.Connection) -> list[dict[str, Any]]:
    rows = con.execute(
        f"SELECT {', '.join(COLUMNS)} FROM upid.alerts WHERE state <> 'inactive' ORDER BY fingerprint"
    ).fetchall()
    return [from_row(tuple(r)) for r in rows]


def save(con: psycopg.Connection, states: list[dict[str, Any]]) -> None:
    names = ", ".join(COLUMNS)
    marks = ", ".join("%s" for _ in COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "fingerprint")
    with con.transaction():
        for s in states:
            con.execute(
                f"INSERT INTO upid.alerts ({names}) VALUES ({marks}) "
                f"ON CONFLICT (fingerprint) DO UPDATE SET {updates}, updated_at = now()",
                to_row(s),
            )
