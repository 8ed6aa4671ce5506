"""kubectl's equality-based label selectors."""

from __future__ import annotations

import pytest

from upid.errors import UsageError
from upid.selectors import matches, parse_selector

LABELS = {"app": "web", "tier": "front", "canary": ""}


@pytest.mark.parametrize(
    "selector, expected",
    [
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("app!=web", False),
        ("canary", True),
        ("!canary", False),
        ("!legacy", True),
        ("legacy", False),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
        ("", True),
        ("missing!=x", True),
    ],
)
def test_selector(selector: str, expected: bool) -> None:
    assert matches(parse_selector(selector), LABELS) is expected


@pytest.mark.parametrize("selector", ["tier in (web)", "=web", "!app=web", "a b"])
def test_invalid(selector: str) -> None:
    with pytest.raises(UsageError):
        parse_selector(selector)
