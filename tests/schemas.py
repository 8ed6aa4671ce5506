"""Validate a real output against its JSON Schema in docs/schemas/, and show that the schema can fail."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "schemas"


@cache
def _registry() -> Any:
    from referencing import Registry, Resource

    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry())


def check(document: Any, name: str) -> None:
    """The document is valid; without its first required key, or with it of the wrong type, it is not."""
    v = validator(name)
    errors = sorted(v.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, f"{name}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    required = v.schema.get("required") or []
    if required and isinstance(document, dict):
        broken = copy.deepcopy(document)
        del broken[required[0]]
        assert not v.is_valid(broken), f"{name}: the schema accepts a document without {required[0]!r}"
        broken = {**copy.deepcopy(document), required[0]: object()}
        assert not v.is_valid(broken), f"{name}: the schema accepts any value for {required[0]!r}"
