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
    assert "demo store:" in r.err and "next:" in r.err
    assert user_store.read_bytes() == before
    assert (home / "demo" / "upid.duckdb").exists()
    again = upid("demo")  # rebuilt from scratch each time
    assert again.code == 0 and "vm-1 " in again.out


def test_demo_as_a_fresh_process(home: Path) -> None:
    r = run_process(home, "demo")
    assert r.code == 0, r.err
    assert r.out.splitlines()[0].split()[:2] == ["NAMESPACE", "WORKLOAD"]
