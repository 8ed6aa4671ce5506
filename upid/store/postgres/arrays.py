"""Integer arrays read straight into numpy: PostgreSQL's binary array format parsed with one np.frombuffer per
array instead of a Python int per element (a month of day rows: 0.64 s against 1.5 s with psycopg's lists)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

import numpy as np
from psycopg.adapt import Loader
from psycopg.pq import Format

if TYPE_CHECKING:
    import psycopg

INT4_ARRAY, INT8_ARRAY = 1007, 1016  # the type oids of int4[] and int8[]


class _IntArrayLoader(Loader):
    """A 1-D int4[]/int8[] in binary format -> int64 ndarray; with NULL elements -> float64 with NaN there."""

    format = Format.BINARY
    width = 4

    def load(self, data: Any) -> np.ndarray:
        raw = bytes(data)
        ndim, has_nulls = struct.unpack_from(">ii", raw, 0)
        if ndim == 0:
            return np.zeros(0, dtype=np.int64)
        count = struct.unpack_from(">i", raw, 12)[0]
        if not has_nulls:  # every element: a 4-byte length, then the value
            cells = np.dtype([("length", ">i4"), ("value", f">i{self.width}")])
            out: np.ndarray = np.frombuffer(raw, dtype=cells, count=count, offset=20)["value"].astype(np.int64)
            return out
        values = np.full(count, np.nan)
        at = 20
        for i in range(count):
            (length,) = struct.unpack_from(">i", raw, at)
            at += 4
            if length >= 0:
                values[i] = int.from_bytes(raw[at : at + length], "big", signed=True)
                at += length
        return values


class _Int8ArrayLoader(_IntArrayLoader):
    width = 8


def numpy_cursor(con: psycopg.Connection) -> psycopg.Cursor[Any]:
    """A binary cursor whose integer arrays come back as numpy arrays."""
    cur = con.cursor(binary=True)
    cur.adapters.register_loader(INT4_ARRAY, _IntArrayLoader)
    cur.adapters.register_loader(INT8_ARRAY, _Int8ArrayLoader)
    return cur
