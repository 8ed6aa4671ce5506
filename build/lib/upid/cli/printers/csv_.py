"""csv: one row per record, one column per value, raw numbers in base units named in the header
(`cpu_request_cores`, `memory_limit_bytes`, `monthly_savings`); empty for none. For spreadsheets and scripts."""

from __future__ import annotations

import csv
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from upid.cli.printers import View
    from upid.cli.session import Session


def cell(value: Any) -> Any:
    if value is None or value == "-":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def print_csv(view: View, session: Session, no_headers: bool) -> None:
    keys = view.csv or [c.key for c in view.columns]
    writer = csv.writer(session.out, lineterminator="\n")
    if not no_headers:
        writer.writerow(keys)
    for record in view.records:
        writer.writerow([cell(record.get(k)) for k in keys])
