"""table and wide: kubectl-style tables (no borders, upper-case headers) rendered with Rich, with a TOTAL row
under a rule when the view has totals (not with --no-headers, which is for scripts)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from upid.cli.printers import View
    from upid.cli.session import Session


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Control characters (ESC and the rest of C0/C1) as \\xNN: a name imported from a file never moves the
    cursor, recolours or retitles the user's terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _render(view: View, session: Session, no_headers: bool, wide: bool) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    columns = [c for c in view.columns if wide or not c.wide]
    totals = view.totals if view.totals is not None and len(view.records) > 1 and not no_headers else None
    table = Table(
        box=None if no_headers else box.SIMPLE if totals else box.SIMPLE_HEAD,
        show_header=not no_headers,
        show_footer=totals is not None,
        header_style="bold",
        footer_style="bold",
        pad_edge=False,
        show_edge=False,
    )
    for n, c in enumerate(columns):
        footer = "" if totals is None else "TOTAL" if n == 0 else c.fmt(totals[c.key]) if c.key in totals else ""
        table.add_column(c.header, footer=footer, justify="right" if c.numeric else "left", no_wrap=True)
    for record in view.records:  # Text, not markup: a value with [brackets] is printed as it is
        table.add_row(
            *(
                Text(printable(c.fmt(v := record.get(c.key))), style=(c.style(v) if c.style else None) or "")
                for c in columns
            )
        )
    console = session.console()
    console.print(table)
    for line in view.footer:
        console.print(Text(printable(line)))


def print_table(view: View, session: Session, no_headers: bool) -> None:
    _render(view, session, no_headers, wide=False)


def print_wide(view: View, session: Session, no_headers: bool) -> None:
    _render(view, session, no_headers, wide=True)
