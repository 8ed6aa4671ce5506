"""json and yaml: the command's whole document, stable and colour-free."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from upid.cli.printers import View
    from upid.cli.session import Session


def print_json(view: View, session: Session, no_headers: bool) -> None:
    session.out.write(json.dumps(view.document, indent=2, sort_keys=False, default=str) + "\n")


def print_yaml(view: View, session: Session, no_headers: bool) -> None:
    import yaml

    session.out.write(yaml.safe_dump(json.loads(json.dumps(view.document, default=str)), sort_keys=False))
