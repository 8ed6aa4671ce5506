"""csv: the flat records with machine values (cores, bytes, ISO times), every column including wide ones."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from upid.cli.printers import View
    from upid.cli.session import Session


def print_csv(view: View, session: Session, no_headers: bool) -> None:
    keys = [c.key for c in view.columns]
    writer = csv.writer(session.out, lineterminator="\n")
    if not no_headers:
        writer.writerow(keys)
    for record in view.records:
        writer.writerow(["" if record.get(k) is None else record.get(k) for k in keys])
