"""The alerts table's rows as both backends read and write them: plain dicts (the store knows no alerting)."""

from __future__ import annotations

from typing import Any

import orjson

COLUMNS = ("fingerprint", "alert", "cluster", "labels", "annotations", "state", "active_since", "value", "fired_at",
           "resolved_at", "severity")  # fmt: skip


def to_row(state: dict[str, Any]) -> list[Any]:
    return [orjson.dumps(state[c]).decode() if c in ("labels", "annotations") else state[c] for c in COLUMNS]


def from_row(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(COLUMNS, row, strict=True))
    for c in ("labels", "annotations"):
        value = out[c]
        out[c] = orjson.loads(value) if isinstance(value, (str, bytes)) else dict(value or {})
    for c in ("active_since", "fired_at", "resolved_at"):
        out[c] = None if out[c] is None else int(out[c])
    out["value"] = None if out["value"] is None else float(out["value"])
    return out
