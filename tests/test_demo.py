"""`upid demo`: real data, its own store, offline."""

from __future__ import annotations

from pathlib import Path

import duckdb
import synth
from conftest import run_process

from upid.workflows.demo import sample_path


def test_demo_analyses_the_bundled_real_sample_without_touching_the_user_store(
    upid, home: Path, tmp_path: Path
) -> None:
    assert upid("storage", "import", synth.make(samples=3).write_csv(tmp_path / "u.csv")).code == 0
    user_store = home / "upid.duckdb"
    before = user_store.read_bytes()
    r = upid("demo", "-o", "json")
    assert r.code == 0, r.err
    doc = r.json()
    con = duckdb.connect()
    vms, rows = con.execute(f"SELECT count(DISTINCT pod), count(*) FROM '{sample_path()}'").fetchone()
    assert doc["summary"]["containers"] == vms == 50
    assert doc["cluster"] == "demo"
    assert "demo store:" in r.err and "next, on the demo's store" in r.err
    assert user_store.read_bytes() == before
    assert (home / "demo" / "upid.duckdb").exists()
    again = upid("demo")  # rebuilt from scratch each time
    assert again.code == 0 and "vm-1 " in again.out


def test_demo_as_a_fresh_process(home: Path) -> None:
    r = run_process(home, "demo")
    assert r.code == 0, r.err
    assert r.out.splitlines()[0].split()[:2] == ["NAMESPACE", "WORKLOAD"]


def test_the_commands_the_demo_suggests_work_as_written(upid, home, tmp_path, monkeypatch) -> None:
    import shlex

    monkeypatch.chdir(tmp_path)
    r = upid("demo")
    assert r.code == 0, r.err
    suggested = [line.split("#")[0].strip() for line in r.err.splitlines() if line.startswith("  upid ")]
    on_demo = [c for c in suggested if "--store" in c]
    assert len(on_demo) >= 4
    for command in on_demo:
        run = upid(*shlex.split(command)[1:])
        assert run.code == 0, (command, run.err)
    assert (tmp_path / "upid-demo.html").stat().st_size > 100_000
    plain = upid("analyze")  # the user's own store does not exist yet: the hint names the demo's
    assert plain.code == 4 and f"--store {home / 'demo' / 'upid.duckdb'}" in plain.err
