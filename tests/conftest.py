"""Shared fixtures: an isolated UPID_HOME, the CLI run in-process or as a real process, and test data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from upid.cli.app import main

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
UPID_VARS = (
    "UPID_HOME",
    "UPID_STORE",
    "UPID_CLUSTER",
    "UPID_DEBUG",
    "UPID_DAYS_TO_KEEP",
    "UPID_HOURLY_DAYS_TO_KEEP",
    "UPID_LOCK_TIMEOUT",
    "UPID_CLOCK_SKEW",
)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """One real PostgreSQL for the session (tests/pg.py); skipped when none is installed, unless
    UPID_REQUIRE_POSTGRES=1 (CI), where that fails."""
    from pg import running, server_bin

    found = server_bin()
    if found is None:
        if os.environ.get("UPID_REQUIRE_POSTGRES") == "1":
            pytest.fail("UPID_REQUIRE_POSTGRES=1 but no PostgreSQL server is installed (apt-get install postgresql)")
        pytest.skip("no PostgreSQL server installed (Debian: apt-get install postgresql)")
    with running(found) as s:
        yield s


@pytest.fixture
def pg(pg_server: Any, monkeypatch: pytest.MonkeyPatch, home: Path) -> str:
    """A fresh database for the test, its URL (no password in it: PGPASSWORD, as libpq reads it)."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.dsn(), password=pg_server.password, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    return str(pg_server.dsn(database=name))


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in UPID_VARS:
        monkeypatch.delenv(var, raising=False)
    h = tmp_path / "upid-home"
    monkeypatch.setenv("UPID_HOME", str(h))
    monkeypatch.setenv("NO_COLOR", "1")
    return h


@pytest.fixture
def upid(home: Path, capsys: pytest.CaptureFixture[str]):
    """Run the CLI in this process: exit code, stdout and stderr kept apart."""

    def run(*args: object) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(int(code), captured.out, captured.err)

    return run


def process_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UPID_VARS}
    env.update({"UPID_HOME": str(home), "NO_COLOR": "1", **extra})
    return env


def run_process(home: Path, *args: object, timeout: float = 120, **env: str) -> Result:
    """Run `python -m upid` as a separate process, as cron or a user would."""
    proc = subprocess.run(
        [sys.executable, "-m", "upid", *map(str, args)],
        capture_output=True,
        text=True,
        env=process_env(home, **env),
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class KubeEnv:
    cluster: Any
    server: Any
    kubeconfig: Path

    @property
    def behaviour(self) -> Any:
        return self.server.behaviour


@pytest.fixture
def kube(tmp_path: Path):
    """A running test API server with a small cluster, and a kubeconfig for it (context 'test')."""
    from kube.model import Cluster
    from kube.server import KubeServer, write_kubeconfig

    cluster = Cluster(pods=40, nodes=4)
    with KubeServer(cluster) as server:
        yield KubeEnv(cluster, server, write_kubeconfig(tmp_path / "kubeconfig", {"test": server.url}))
