"""The -o registry: every output format by name, one small module each.

A command builds a View (the JSON document plus flat records and their columns) and calls `emit`;
the help text and the error for an unknown format both come from the registry's keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

from upid.errors import UsageError

if TYPE_CHECKING:
    from upid.cli.session import Session


def plain(value: Any) -> str:
    return "-" if value is None else str(value)


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    fmt: Callable[[Any], str] = plain
    wide: bool = False  # shown by -o wide only
    numeric: bool = False  # right-aligned
    sort_key: str | None = None  # the record key --sort-by orders this column by (a raw value), when not `key`
    style: Callable[[Any], str | None] | None = None  # a Rich style per value (terminals only; NO_COLOR wins)


SEVERITY_STYLES = {"critical": "bold red", "warning": "yellow", "ok": "cyan", "good": "green"}


def severity_style(value: Any) -> str | None:
    return SEVERITY_STYLES.get(str(value))


def with_money(columns: list[Column], currency: str, *keys: str) -> list[Column]:
    """The columns, those named showing their raw amounts as money in `currency` ('$12.40')."""
    from dataclasses import replace

    from upid.units import format_money

    def money(v: Any) -> str:
        return "-" if v is None or v == "-" else format_money(v, currency)

    return [replace(c, fmt=money) if c.key in keys else c for c in columns]


@dataclass
class View:
    document: Any
    records: list[dict[str, Any]]
    columns: list[Column]
    empty: str = "No resources found."
    footer: list[str] = field(default_factory=list)  # summary lines under a table
    totals: dict[str, Any] | None = None  # a TOTAL row under a table, in the records' keys and raw values
    csv: list[str] | None = None  # -o csv's columns: record keys, raw values in base units named in the key


Printer = Callable[[View, "Session", bool], None]


def _registry() -> dict[str, Printer]:
    from upid.cli.printers import csv_, structured, table

    return {
        "table": table.print_table,
        "wide": table.print_wide,
        "json": structured.print_json,
        "yaml": structured.print_yaml,
        "csv": csv_.print_csv,
    }


FORMATS = ("table", "wide", "json", "yaml", "csv")


def validate(value: str, allowed: tuple[str, ...] = FORMATS) -> str:
    if value not in allowed:
        raise UsageError(f"unknown output format {value!r}; allowed: {', '.join(allowed)}")
    return value


def output_option(extra: tuple[str, ...] = ()) -> Any:
    allowed = FORMATS + tuple(extra)
    return typer.Option(
        "--output",
        "-o",
        help=f"Output format: {', '.join(allowed)}.",
        metavar="FORMAT",
        callback=lambda v: validate(v, allowed),
        autocompletion=lambda incomplete: [f for f in allowed if f.startswith(incomplete)],
    )


def sort_records(view: View, sort_by: str) -> None:
    """kubectl's --sort-by, on a column: its key, its header or any column of -o csv; '-' first: descending.
    Rows without a value go last either way."""
    descending = sort_by.startswith("-")
    wanted = sort_by.lstrip("-").lstrip(".").lower()
    column = next(
        (c for c in view.columns if wanted in (c.key.lower(), c.header.lower(), c.header.lower().replace(" ", "-"))),
        None,
    )
    raw = next((k for k in view.csv or [] if k.lower() == wanted), None)  # or any column of -o csv
    if column is None and raw is None:
        allowed = dict.fromkeys([c.key for c in view.columns] + list(view.csv or []))
        raise UsageError(f"unknown --sort-by column {sort_by!r}; allowed: {', '.join(allowed)}")
    key = (column.sort_key or column.key) if column else str(raw)

    def value(record: dict[str, Any]) -> Any:
        v = record.get(key)
        return None if v in (None, "-", "") else v

    present = [r for r in view.records if value(r) is not None]
    missing = [r for r in view.records if value(r) is None]
    numbers = all(isinstance(value(r), int | float) for r in present)
    present.sort(key=lambda r: value(r) if numbers else str(value(r)), reverse=descending)
    view.records = present + missing


def emit(view: View, fmt: str, session: Session, no_headers: bool = False, sort_by: str | None = None) -> None:
    if sort_by:
        sort_records(view, sort_by)
    if not view.records and fmt in ("table", "wide", "csv"):
        session.notice(view.empty)
        return
    _registry()[fmt](view, session, no_headers)
