"""The alerts' states between runs (migration 7): read all that are not inactive; write by fingerprint."""

from __future__ import annotations

from typing import Any

import duckdb

from upid.store.alert_rows import COLUMNS, from_row, to_row


def load(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM alerts WHERE state <> 'inactive' ORDER BY fingerprint")
    return [from_row(tuple(r)) for r in rows.fetchall()]


CHUNK = 500  # rows per INSERT: one statement each, not one per alert


def save(con: duckdb.DuckDBPyConnection, states: list[dict[str, Any]]) -> None:
    row = "(" + ", ".join("?" for _ in COLUMNS) + ", now()::TIMESTAMP)"
    into = f"INSERT OR REPLACE INTO alerts ({', '.join(COLUMNS)}, updated_at) VALUES"
    con.execute("BEGIN")
    try:
        for at in range(0, len(states), CHUNK):
            part = states[at : at + CHUNK]
            con.execute(f"{into} {', '.join([row] * len(part))}", [v for s in part for v in to_row(s)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
