"""CLI conventions: help everywhere, one-line errors with distinct exit codes, --debug, settings precedence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import synth
import typer

from upid import __version__
from upid.cli.app import app
from upid.errors import ExitCode


def _commands(group=None, path=()):  # every leaf command path of the tree
    group = group or typer.main.get_command(app)
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name)


def test_version(upid) -> None:
    r = upid("--version")
    assert r.code == 0 and r.out.strip() == f"upid {__version__}"


@pytest.mark.parametrize("path", list(_commands()), ids=" ".join)
def test_every_command_has_help_with_an_example(upid, path: tuple[str, ...]) -> None:
    r = upid(*path, "--help")
    assert r.code == 0
    body = r.out
    assert "Usage: upid " + " ".join(path) in body
    assert "Example" in body, f"{' '.join(path)} --help has no example"
    description = body.split("Usage:")[1].splitlines()[2:4]
    assert any(line.strip() for line in description), "no help text"


@pytest.mark.parametrize(
    "args, message",
    [
        (("analyze", "--bogus"), "No such option: --bogus"),
        (("analyze", "-o", "xml"), "unknown output format 'xml'; allowed: table, wide, json, yaml, csv"),
        (("analyze", "--history", "two weeks"), "invalid duration 'two weeks'"),
        (("analyze", "--until", "noon"), "invalid timestamp 'noon'"),
        (("nosuchcommand",), "No such command"),
        (("storage", "cleanup", "--days-to-keep", "0"), "--days-to-keep"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(upid, args: tuple[str, ...], message: str) -> None:
    r = upid(*args)
    assert r.code == ExitCode.USAGE
    assert r.out == ""
    assert r.err.startswith("error: ") and message in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_debug_shows_the_traceback_anywhere_on_the_line(upid) -> None:
    plain = upid("analyze")
    assert "Traceback" not in plain.err
    debug = upid("analyze", "--debug")
    assert debug.code == plain.code == ExitCode.NO_DATA
    assert "Traceback" in debug.err and debug.err.strip().splitlines()[-1] == plain.err.strip()


def test_settings_precedence_flag_env_config(upid, home: Path, tmp_path: Path, monkeypatch) -> None:
    data = synth.make(samples=4).write_csv(tmp_path / "u.csv")
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(f'store = "{tmp_path / "from-config.duckdb"}"\n')
    assert upid("storage", "import", data).code == 0
    assert (tmp_path / "from-config.duckdb").exists()
    monkeypatch.setenv("UPID_STORE", str(tmp_path / "from-env.duckdb"))
    assert upid("storage", "import", data).code == 0
    assert (tmp_path / "from-env.duckdb").exists()
    assert upid("storage", "import", data, "--store", tmp_path / "from-flag.duckdb").code == 0
    assert (tmp_path / "from-flag.duckdb").exists()
    assert not (home / "upid.duckdb").exists()


@pytest.mark.parametrize(
    "config, message",
    [
        ("store = [", "cannot read"),
        ("colour = 'blue'", "unknown setting(s) colour"),
        ("days_to_keep = 'many'", "expected int for days_to_keep"),
    ],
)
def test_a_broken_config_is_a_config_error(upid, home: Path, config: str, message: str) -> None:
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(config + "\n")
    r = upid("storage", "status")
    assert r.code == ExitCode.CONFIG and message in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_bad_environment_value(upid, monkeypatch) -> None:
    monkeypatch.setenv("UPID_LOCK_TIMEOUT", "soon")
    r = upid("storage", "status")
    assert r.code == ExitCode.CONFIG and "UPID_LOCK_TIMEOUT" in r.err


def test_python_dash_m_and_exit_codes_from_a_real_process(home: Path) -> None:
    from conftest import run_process

    r = run_process(home, "analyze")
    assert r.code == ExitCode.NO_DATA and r.err.startswith("error: no store at")
    assert run_process(home, "--version").out.strip() == f"upid {__version__}"
    assert os.environ.get("UPID_HOME") != str(home) or True


def test_docs_cli_md_is_generated_from_the_real_help() -> None:
    from conftest import REPO

    from upid.cli.reference import render

    assert (REPO / "docs" / "cli.md").read_text() == render(), "run: python -m upid.cli.reference > docs/cli.md"


def test_installed_as_a_kubectl_plugin() -> None:
    """kubectl runs `kubectl-upid` from PATH for `kubectl upid ...`: the same CLI."""
    import shutil
    import subprocess
    import sysconfig

    folders = [sysconfig.get_path("scripts"), sysconfig.get_path("scripts", f"{os.name}_user")]
    found = [shutil.which("kubectl-upid")] + [shutil.which("kubectl-upid", path=f) for f in folders]
    plugin = next((f for f in found if f), None)
    assert plugin, "pip install puts kubectl-upid next to upid"
    r = subprocess.run([plugin, "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("upid ")
    r = subprocess.run([plugin, "analyze", "-o", "xml"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.startswith("error: unknown output format")
