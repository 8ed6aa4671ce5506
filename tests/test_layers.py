"""The architecture holds: analysis is pure, the store never imports the CLI, heavy imports stay lazy."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import REPO


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    return {m.split(".")[0] for m in out.split()}


def test_analysis_imports_no_cli_store_cluster_or_driver() -> None:
    loaded = _loaded_after("import upid.analysis.usage, upid.analysis.document, upid.analysis.frame")
    assert not loaded & {"typer", "rich", "click", "duckdb", "kubernetes", "pyarrow", "sklearn"}


def test_the_store_imports_no_cli() -> None:
    loaded = _loaded_after("import upid.store.duckdb.store, upid.ingest.canonical")
    assert not loaded & {"typer", "rich", "click"}


def test_help_does_not_import_heavy_packages() -> None:
    loaded = _loaded_after("from upid.cli.app import main\nmain(['--help'])")
    assert not loaded & {"duckdb", "kubernetes", "pyarrow", "sklearn", "scipy", "starlette", "uvicorn"}


def test_import_linter_contracts() -> None:
    lint = shutil.which("lint-imports")
    if not lint:
        pytest.skip("import-linter is not installed")
    r = subprocess.run([lint], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr


def test_help_does_not_import_numpy() -> None:
    assert "numpy" not in _loaded_after("from upid.cli.app import main\nmain(['--help'])")


def test_the_strategy_names_in_help_are_the_registry() -> None:
    from upid.analysis.strategies import STRATEGIES
    from upid.cli.options import STRATEGY_NAMES

    assert set(STRATEGY_NAMES) == set(STRATEGIES)


def test_collect_imports_no_scikit_learn_scipy_or_pyarrow(kube, home) -> None:
    """`storage collect` runs every few minutes from cron: it must not pay for the analysis packages."""
    args = ["storage", "collect", "--kubeconfig", str(kube.kubeconfig)]
    code = f"from upid.cli.app import main\nassert main({args!r}) == 0"
    loaded = _loaded_after(code)
    assert "duckdb" in loaded and "kubernetes" in loaded  # it did collect and store
    assert not loaded & {"sklearn", "scipy", "pyarrow", "starlette", "uvicorn"}


def test_storage_status_loads_no_numpy(home, tmp_path) -> None:
    """A store that is only read for its totals needs DuckDB, not numpy (a 30 ms import, on every cron run)."""
    import os

    import synth

    from upid.cli.app import main

    assert main(["storage", "import", str(synth.make().write_csv(tmp_path / "u.csv"))]) == 0
    code = "from upid.cli.app import main\nmain(['storage', 'status'])"
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('numpy' in sys.modules, file=sys.stderr)"],
        capture_output=True, text=True, check=True, cwd=REPO, env={**os.environ, "UPID_HOME": str(home)},
    )  # fmt: skip
    assert out.stderr.strip().splitlines()[-1] == "False"
