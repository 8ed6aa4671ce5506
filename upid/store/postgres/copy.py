"""COPY ... FROM STDIN (FORMAT BINARY) data built by numpy: one structured array holds every tuple (the field count,
then each field's length and big-endian value), so a million rows cost one `tobytes()`, not a Python call per
value. Fixed-width, non-NULL columns only: a NULL travels as NaN and the SQL that reads the table turns it back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import psycopg

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
WIDTHS = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float4": ">f4", "float8": ">f8"}


def binary(columns: list[tuple[np.ndarray, str]]) -> bytes:
    """The COPY stream of rows whose fields are `columns` (values, PostgreSQL type), all of one length."""
    n = len(columns[0][0]) if columns else 0
    fields = [("count", ">i2")]
    for i, (_, kind) in enumerate(columns):
        fields += [(f"length{i}", ">i4"), (f"value{i}", WIDTHS[kind])]
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = len(columns)
    for i, (values, kind) in enumerate(columns):
        rows[f"length{i}"] = np.dtype(WIDTHS[kind]).itemsize
        rows[f"value{i}"] = values
    return HEADER + rows.tobytes() + TRAILER


def copy_into(con: psycopg.Connection, table: str, names: list[str], columns: list[tuple[np.ndarray, str]]) -> None:
    with con.cursor().copy(f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(binary(columns))
