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


@dataclass
class View:
    document: Any
    records: list[dict[str, Any]]
    columns: list[Column]
    empty: str = "No resources found."
    footer: list[str] = field(default_factory=list)  # summary lines under a table


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
    )


def emit(view: View, fmt: str, session: Session, no_headers: bool = False) -> None:
    if not view.records and fmt in ("table", "wide", "csv"):
        session.notice(view.empty)
        return
    _registry()[fmt](view, session, no_headers)
