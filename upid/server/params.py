"""Query strings -> the workflows' requests, with the CLI's names and defaults; anything unknown or malformed is
a UsageError (400), never a guess."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from upid.errors import UsageError
from upid.workflows.requests import Query

SELECTORS = ("cluster", "namespace", "selector", "history", "until", "resolution")


class Params:
    """The query of one request: each name at most once, except `namespace` (repeated or comma-separated)."""

    def __init__(self, raw: Sequence[tuple[str, str]], allowed: Sequence[str]) -> None:
        self.values: dict[str, list[str]] = {}
        for key, value in raw:
            if key not in allowed:
                raise UsageError(f"unknown parameter {key!r}; allowed: {', '.join(allowed)}")
            self.values.setdefault(key, []).append(value)
        for key, values in self.values.items():
            if key != "namespace" and len(values) > 1:
                raise UsageError(f"parameter {key!r} given {len(values)} times")

    def get(self, key: str, default: str | None = None) -> str | None:
        values = self.values.get(key)
        return values[0] if values else default

    def text(self, key: str, default: str) -> str:
        value = self.get(key)
        return default if value is None or value == "" else value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.get(key)
        if value is None or value == "":
            return default
        try:
            number = float(value)
        except ValueError:
            raise UsageError(f"parameter {key!r} must be a number, got {value!r}") from None
        if not low <= number <= high:
            raise UsageError(f"parameter {key!r} must be from {low:g} to {high:g}, got {value}")
        return number

    def flag(self, key: str) -> bool:
        value = (self.get(key) or "false").lower()
        if value not in ("true", "false", "1", "0"):
            raise UsageError(f"parameter {key!r} must be true or false, got {value!r}")
        return value in ("true", "1")

    def choice(self, key: str, allowed: Sequence[str], default: str | None) -> str | None:
        value = self.get(key, default)
        if value is not None and value not in allowed:
            raise UsageError(f"parameter {key!r} must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def query(self, history: str = "14d") -> Query:
        names = [n for v in self.values.get("namespace", []) for n in v.split(",") if n]
        return Query(
            cluster=self.get("cluster") or None,
            namespaces=names or None,
            selector=self.get("selector") or None,
            history=self.text("history", history),
            until=self.get("until") or None,
            resolution=self.text("resolution", "auto"),
        )


def pairs(items: Mapping[str, str] | Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(items.items()) if isinstance(items, Mapping) else list(items)
