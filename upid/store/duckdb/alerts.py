"""The alerts' states between runs (migration 7): read all that are not inactive; write by fingerprint."""

from __future__ import annotations

from typing import Any

import duckdb

from upid.store.alert_rows import COLUMNS, from_row, to_row


def load(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM alerts WHERE state <> 'inactive' ORDER BY fingerprint")
    return [from_row(tuple(r)) for r in rows.fetchall()]


def save(con: duckdb.DuckDBPyConnection, states: list[dict[str, Any]]) -> None:
    marks = ", ".join("?" for _ in COLUMNS)
    con.execute("BEGIN")
    try:
        for s in states:
            con.execute(
                f"INSERT OR REPLACE INTO alerts ({', '.join(COLUMNS)}, updated_at) VALUES ({marks}, now()::TIMESTAMP)",
                to_row(s),
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
