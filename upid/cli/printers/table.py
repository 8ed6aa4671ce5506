"""table and wide: kubectl-style tables (no borders, upper-case headers) rendered with Rich."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from upid.cli.printers import View
    from upid.cli.session import Session


def _render(view: View, session: Session, no_headers: bool, wide: bool) -> None:
    from rich import box
    from rich.table import Table

    columns = [c for c in view.columns if wide or not c.wide]
    table = Table(
        box=box.SIMPLE_HEAD if not no_headers else None,
        show_header=not no_headers,
        header_style="bold",
        pad_edge=False,
        show_edge=False,
    )
    for c in columns:
        table.add_column(c.header, justify="right" if c.numeric else "left", no_wrap=True)
    for record in view.records:
        table.add_row(*(c.fmt(record.get(c.key)) for c in columns))
    console = session.console()
    console.print(table)
    for line in view.footer:
        console.print(line)


def print_table(view: View, session: Session, no_headers: bool) -> None:
    _render(view, session, no_headers, wide=False)


def print_wide(view: View, session: Session, no_headers: bool) -> None:
    _render(view, session, no_headers, wide=True)
