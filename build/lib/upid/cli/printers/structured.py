"""json and yaml: the command's whole document, stable and colour-free."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from upid.cli.printers import View
    from upid.cli.session import Session


def dumps(document: object) -> str:
    """Indented JSON. orjson writes a forecast's 20 MB document in a twentieth of json's time; json stays the
    fallback for what orjson refuses (integers beyond 64 bits)."""
    import orjson

    try:
        return orjson.dumps(
            document,
            option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME,
            default=str,
        ).decode()
    except orjson.JSONEncodeError:
        return json.dumps(document, indent=2, sort_keys=False, default=str)


def print_json(view: View, session: Session, no_headers: bool) -> None:
    session.out.write(dumps(view.document) + "\n")


def print_yaml(view: View, session: Session, no_headers: bool) -> None:
    import yaml

    session.out.write(yaml.safe_dump(json.loads(json.dumps(view.document, default=str)), sort_keys=False))
