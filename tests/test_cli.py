"""CLI conventions: help everywhere, one-line errors with distinct exit codes, --debug, settings precedence."""

from __future__ import annotations

import os
import subprocess
import sys
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


def _on_a_terminal(home: Path, *args: str, stream: str = "stderr", **env: str) -> tuple[int, str, str]:
    """Run upid with one stream on a pseudo-terminal and the other piped: (exit code, piped text, terminal text)."""
    import pty
    import subprocess
    import sys

    from conftest import process_env

    master, slave = pty.openpty()
    pipes = (
        {"stdout": subprocess.PIPE, "stderr": slave}
        if stream == "stderr"
        else {"stdout": slave, "stderr": subprocess.PIPE}
    )
    proc = subprocess.Popen([sys.executable, "-m", "upid", *args], env=process_env(home, **env), **pipes)  # type: ignore[call-overload]
    os.close(slave)
    piped = (proc.stdout or proc.stderr).read()  # type: ignore[union-attr]
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    return proc.wait(timeout=60), piped.decode(), seen.decode(errors="replace")


def test_progress_shows_on_a_terminal_stderr_only(home: Path) -> None:
    import json

    from conftest import run_process

    from upid.workflows.demo import sample_path

    assert run_process(home, "storage", "import", sample_path(), "--cluster", "demo").code == 0
    code, out, terminal = _on_a_terminal(home, "analyze", "-o", "json")
    assert code == 0 and json.loads(out)["cluster"] == "demo"  # stdout stays pure data
    assert "analysing..." in terminal  # a spinner for people
    piped = run_process(home, "analyze", "-o", "json")
    assert piped.code == 0 and piped.err == ""  # cron, CI logs and pipes get no progress at all


def _bash_completes(tmp_path: Path, home: Path, words: list[str]) -> list[str]:
    """What bash offers after `words` (the last one being typed), through `source <(upid completion bash)`."""
    import shlex
    import subprocess
    import sys

    from conftest import process_env

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "upid"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m upid "$@"\n')
    shim.chmod(0o755)
    env = process_env(home, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    script = (
        "source <(upid completion bash)\n"
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        "_upid_completion upid\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_shell_completion_in_a_real_bash(tmp_path: Path, home: Path) -> None:
    import shutil

    if not shutil.which("bash"):
        pytest.skip("no bash here")
    assert _bash_completes(tmp_path, home, ["upid", "opt"]) == ["optimize"]
    assert set(_bash_completes(tmp_path, home, ["upid", "storage", "c"])) == {"cleanup", "collect", "compact", "copy"}
    assert "--sort-by" in _bash_completes(tmp_path, home, ["upid", "analyze", "--so"])
    assert _bash_completes(tmp_path, home, ["upid", "analyze", "-o", "j"]) == ["json", "junit"]


def test_completion_scripts_for_zsh_and_fish_and_a_wrong_shell(upid) -> None:
    for shell, marker in (("bash", "complete -o default -F"), ("zsh", "compdef"), ("fish", "complete --command upid")):
        r = upid("completion", shell)
        assert r.code == 0 and marker in r.out and "_UPID_COMPLETE" in r.out
    r = upid("completion", "tcsh")
    assert r.code == ExitCode.USAGE and "allowed: bash, zsh, fish" in r.err


def test_severity_colours_on_a_terminal_only_and_never_with_no_color(home: Path) -> None:
    from conftest import run_process

    from upid.workflows.demo import sample_path

    assert run_process(home, "storage", "import", sample_path(), "--cluster", "demo").code == 0
    code, _, terminal = _on_a_terminal(home, "analyze", stream="stdout", NO_COLOR="")  # empty: not set (no-color.org)
    assert code == 0 and "\x1b[1;31mcritical" in terminal  # bold red
    code, _, terminal = _on_a_terminal(home, "analyze", stream="stdout", NO_COLOR="1")
    assert code == 0 and "critical" in terminal and "\x1b[1;31m" not in terminal
    piped = run_process(home, "analyze", NO_COLOR="")
    assert "critical" in piped.out and "\x1b[" not in piped.out  # no escape codes into a pipe or a file


@pytest.mark.parametrize(
    "args",
    [
        ("analyze", "--until", "inf"),
        ("analyze", "--until", "nan"),
        ("analyze", "--until", "-1e30"),
        ("analyze", "--until", "9999-12-31T00:00:00Z"),
        ("analyze", "--until", "1999-12-31T00:00:00Z"),
        ("analyze", "--history", "999999999w"),
        ("analyze", "--history", "0.5s"),
        ("idle", "--min-idle", "1e400d"),
        ("storage", "collect", "--request-timeout", "0.5s"),
        ("storage", "query", "SELECT 1", "--timeout", "0s"),
    ],
)
def test_out_of_range_flag_values_are_usage_errors(upid, args: tuple[str, ...]) -> None:
    """Each was an internal error (exit 1) before: now one line and exit 2."""
    r = upid(*args)
    assert r.code == ExitCode.USAGE, (args, r.code, r.err)
    assert r.err.startswith("error: ") and r.err.count("\n") == 1, r.err


def test_a_relative_upid_home_is_taken_from_the_working_directory(tmp_path: Path) -> None:
    from conftest import process_env

    rows = "timestamp,namespace,workload,pod,container,cpu_cores,memory_bytes\n1767225600,a,w,w-1,c,0.1,1000000\n"
    (tmp_path / "u.csv").write_text(rows)
    env = {**process_env(tmp_path), "UPID_HOME": "stores/x"}
    run = [sys.executable, "-m", "upid"]
    assert (
        subprocess.run([*run, "storage", "import", "u.csv"], cwd=tmp_path, env=env, capture_output=True).returncode == 0
    )
    assert (tmp_path / "stores" / "x" / "upid.duckdb").exists()
    assert not (tmp_path / "stores" / "x" / "stores").exists()


def test_control_characters_in_names_are_escaped_in_tables(upid, tmp_path: Path) -> None:
    """A workload named with ESC sequences (from an import file) cannot drive the terminal."""
    name = "evil\x1b]0;pwned\x07\x1b[2J"
    rows = ["timestamp,namespace,workload,pod,container,cpu_cores,memory_bytes,cpu_request_cores"]
    rows += [f"{1767225600 + i * 300},ns,{name},p-1,c,0.2,100000000,1" for i in range(400)]
    (tmp_path / "u.csv").write_text("\n".join(rows) + "\n")
    assert upid("storage", "import", tmp_path / "u.csv").code == 0
    for args in (("analyze",), ("storage", "query", "SELECT DISTINCT workload FROM usage")):
        r = upid(*args)
        assert r.code == 0 and "\x1b" not in r.out and "\x07" not in r.out, args
        assert "evil\\x1b]0;pwned\\x07\\x1b[2J" in r.out
    assert name in upid("storage", "query", "SELECT DISTINCT workload FROM usage", "-o", "json").json()["rows"][0]


@pytest.mark.parametrize(
    "args",
    [
        ("storage", "query", "SELECT * FROM usage", "-o", "csv"),  # the csv module's writes
        ("analyze", "-o", "wide"),  # Rich's table
        ("analyze", "-o", "json"),
    ],
)
def test_a_reader_that_leaves_early_is_not_an_error(home: Path, args: tuple[str, ...]) -> None:
    """`upid ... | head -1`: exit 0 and nothing on stderr, as kubectl."""
    from conftest import process_env, run_process

    from upid.workflows.demo import sample_path

    assert run_process(home, "storage", "import", sample_path(), "--cluster", "demo").code == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "upid", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=process_env(home),
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()  # as head does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""


def _every_command(cmd, path=("upid",)):
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _every_command(sub, (*path, name))


def test_every_help_has_an_example_and_fits_80_columns(home: Path) -> None:
    """Examples are printed as written (never rewrapped away from their comment), so each must fit."""
    from upid.cli.app import cli_command

    problems = []
    for path, cmd in _every_command(cli_command()):
        if path[-1] == "completion" or cmd.hidden:
            continue
        r = subprocess.run([sys.executable, "-m", "upid", *path[1:], "--help"], capture_output=True, text=True,
                           env={**os.environ, "COLUMNS": "80", "UPID_HOME": str(home)}, timeout=60)  # fmt: skip
        if "Example" not in r.stdout:
            problems.append(f"{' '.join(path)}: no example")
        problems += [
            f"{' '.join(path)}: {len(line)} columns: {line}" for line in r.stdout.splitlines() if len(line) > 80
        ]
    assert not problems, "\n".join(problems)


def test_the_kubectl_plugin_says_kubectl_upid(home: Path) -> None:
    code = "import sys; from upid.cli.app import kubectl_main as m; sys.argv = ['kubectl-upid', 'analyze', '-h']; m()"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "UPID_HOME": str(home)})  # fmt: skip
    assert r.stdout.startswith("Usage: kubectl upid analyze") and "  kubectl upid analyze" in r.stdout


def test_an_option_without_its_value_points_at_the_subcommand(upid) -> None:
    r = upid("storage", "status", "-o")
    assert r.code == ExitCode.USAGE
    assert "allowed: table, wide, json, yaml, csv" in r.err and "see 'upid storage status --help'" in r.err
