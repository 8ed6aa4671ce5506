"""Every file and folder upid creates is owner-only (0600 / 0700), whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from conftest import run_process


def _loose(root: Path) -> list[str]:
    return [f"{p} {stat.filemode(p.stat().st_mode)}" for p in [root, *root.rglob("*")] if p.stat().st_mode & 0o077]


def test_files_are_owner_only_under_umask_000(tmp_path: Path) -> None:
    from upid.workflows.demo import sample_path

    home, elsewhere = tmp_path / "home", tmp_path / "stores" / "deep"
    old = os.umask(0)
    try:
        r = run_process(home, "storage", "import", sample_path(), "--cluster", "demo")  # a block, a DuckDB file
        assert r.code == 0, r.err
        r = run_process(home, "storage", "import", sample_path(), "--store", elsewhere / "x.duckdb")
        assert r.code == 0, r.err
        assert run_process(home, "config", "set", "cluster", "demo").code == 0
        assert run_process(home, "report", "--html", tmp_path / "r.html").code == 0
        assert run_process(home, "storage", "export", tmp_path / "export").code == 0
    finally:
        os.umask(old)
    for root in (home, elsewhere.parent, tmp_path / "export"):
        assert root.exists() and _loose(root) == [], root
    assert stat.S_IMODE((tmp_path / "r.html").stat().st_mode) == 0o600
