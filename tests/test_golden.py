"""Every printer of `analyze`, pinned on the bundled real sample: table, wide, json, yaml, csv and junit are
compared byte for byte with tests/golden/. After an intended change, regenerate them with
`UPID_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py` and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
FORMATS = ("table", "wide", "json", "yaml", "csv", "junit")


@pytest.fixture
def demo(upid) -> None:
    from upid.workflows.demo import sample_path

    assert upid("storage", "import", sample_path(), "--cluster", "demo").code == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_analyze_output_is_pinned(upid, demo, fmt: str) -> None:
    r = upid("analyze", "-o", fmt, "--fail-on", "critical") if fmt == "junit" else upid("analyze", "-o", fmt)
    assert r.code in (0, 15), r.err
    path = GOLDEN / f"analyze.{fmt}"
    if os.environ.get("UPID_UPDATE_GOLDEN"):
        path.write_text(r.out)
    assert r.out == path.read_text(), f"analyze -o {fmt} differs from {path} (UPID_UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("command", [("idle",), ("cost",), ("optimize",)])
def test_the_other_csvs_are_pinned(upid, demo, command: tuple[str, ...]) -> None:
    r = upid(*command, "-o", "csv")
    assert r.code == 0, r.err
    path = GOLDEN / f"{command[0]}.csv"
    if os.environ.get("UPID_UPDATE_GOLDEN"):
        path.write_text(r.out)
    assert r.out == path.read_text(), f"{' '.join(command)} -o csv differs from {path}"
