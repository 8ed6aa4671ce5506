"""Kubernetes equality-based label selectors (`app=web,tier!=db,canary,!legacy`), parsed in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass

from upid.errors import UsageError

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_TERM = re.compile(rf"^\s*(!?)\s*({_KEY})\s*(?:(==|=|!=)\s*([-A-Za-z0-9_.]*))?\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "exists", "!exists"
    value: str | None = None

    def matches(self, labels: dict[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op == "=":
            return labels.get(self.key) == self.value
        return labels.get(self.key) != self.value


def parse_selector(text: str) -> list[Requirement]:
    out = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        m = _TERM.match(term)
        if not m or (m.group(1) and m.group(4) is not None):
            raise UsageError(
                f"invalid label selector {text!r}: use key=value, key!=value, key or !key, joined by commas"
            )
        bang, key, op, value = m.group(1), m.group(2), m.group(4), m.group(5)
        if op is None:
            out.append(Requirement(key, "!exists" if bang else "exists"))
        else:
            out.append(Requirement(key, "!=" if op == "!=" else "=", value))
    return out


def matches(requirements: list[Requirement], labels: dict[str, str]) -> bool:
    return all(r.matches(labels) for r in requirements)
