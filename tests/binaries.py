"""Where the built binaries are: dist/upid (one file) and build/out/upid-onedir/upid (one folder), or the paths in
UPID_BINARY and UPID_BINARY_DIR. Absent binaries skip their tests, unless UPID_REQUIRE_BINARY is set (.ci/run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ONEFILE = Path(os.environ.get("UPID_BINARY", REPO / "dist" / "upid"))
ONEDIR = Path(os.environ.get("UPID_BINARY_DIR", REPO / "build" / "out" / "upid-onedir")) / "upid"
DIST = ONEFILE.parent


def require(path: Path) -> Path:
    if path.is_file() and os.access(path, os.X_OK):
        return path
    if os.environ.get("UPID_REQUIRE_BINARY"):
        pytest.fail(f"UPID_REQUIRE_BINARY is set but {path} is missing: run build/build.sh")
    pytest.skip(f"{path} is not built (build/build.sh builds it)")
