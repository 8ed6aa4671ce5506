"""Hourly rollups in the store and the retention tiers (#20): written by `storage compact` and before cleanup drops
raw samples, rolled up on the fly until then, equal to the reference rollup of the same samples, read by long
windows, kept after the raw samples are gone, checked by verify.
Everything runs on the bundled real sample (50 Bitbrains VMs, 14 days)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest

from upid.analysis.rollup import CPU_BUCKETS, MEMORY_BUCKETS, roll_up
from upid.errors import ExitCode
from upid.store.duckdb import rollups
from upid.workflows.demo import sample_path

DAY = 86400


def _json(upid, *args: object) -> dict:
    r = upid(*args, "-o", "json")
    assert r.code == 0, r.err
    return r.json()


@pytest.fixture
def imported(upid, home: Path) -> Path:
    assert upid("storage", "import", sample_path(), "--cluster", "bb").code == 0
    return home / "upid.duckdb"


def _rows(store: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_the_sql_buckets_are_the_reference_buckets_on_real_values() -> None:
    assert (rollups.CPU_GRID[0], rollups.CPU_GRID[2]) == (CPU_BUCKETS.first, CPU_BUCKETS.count)
    assert (rollups.MEMORY_GRID[0], rollups.MEMORY_GRID[2]) == (MEMORY_BUCKETS.first, MEMORY_BUCKETS.count)
    con = duckdb.connect()
    cpu_m, mem = con.execute(f"SELECT cpu_cores * 1000, memory_bytes FROM '{sample_path()}'").fetchnumpy().values()
    cpu_m = np.round(np.asarray(cpu_m)).astype(np.int64)
    con.register("v", {"cores": cpu_m / 1000.0, "bytes": np.asarray(mem, dtype=np.float64)})
    got = con.execute(
        f"SELECT {rollups._bucket('cores', rollups.CPU_GRID)}, {rollups._bucket('bytes', rollups.MEMORY_GRID)} FROM v"
    ).fetchnumpy()
    sql_cpu, sql_mem = (np.asarray(x) for x in got.values())
    np.testing.assert_array_equal(sql_cpu, CPU_BUCKETS.index(cpu_m / 1000.0))
    np.testing.assert_array_equal(sql_mem, MEMORY_BUCKETS.index(np.asarray(mem, dtype=np.float64)))


def test_stored_rollups_equal_the_reference_rollup_of_each_series(upid, imported: Path) -> None:
    assert not _rows(imported, "SELECT file FROM rollup_blocks"), "an import leaves the rollups for later"
    r = upid("storage", "compact")
    assert r.code == 0 and "rolled up 1 block(s), 201,175 samples" in r.err, r.err
    files = [f for (f,) in _rows(imported, "SELECT file FROM rollup_blocks")]
    assert files and _rows(imported, "SELECT count(*) FROM blocks WHERE NOT rolled_up") == [(0,)]
    assert "rolled up 0 block(s)" in upid("storage", "compact").err  # once only
    root = imported.parent / (imported.name + ".blocks")
    con = duckdb.connect()
    listing = [str(root / f) for f in files]
    stored = con.execute(
        f"SELECT series_id, hour, n, cpu_sum, cpu_max, mem_max, cpu_cells FROM read_parquet({listing}) ORDER BY ALL"
    ).fetchall()
    samples = con.execute(
        f"SELECT series_id, epoch(ts)::BIGINT, cpu_m, mem_kib FROM read_parquet('{root}/c*/b*.parquet') ORDER BY ALL"
    ).fetchnumpy()
    sid, ts, cpu_m, mem = (np.asarray(v) for v in samples.values())
    assert sum(r[2] for r in stored) == len(ts)  # every sample once
    for series in np.unique(sid)[:10]:
        pick = sid == series
        ref = roll_up(ts[pick], cpu_m[pick] / 1000.0, CPU_BUCKETS)
        mine = [r for r in stored if r[0] == series]
        assert [r[1] for r in mine] == ref.hours.tolist()
        assert [r[2] for r in mine] == ref.count.tolist()
        assert [r[4] / 1000.0 for r in mine] == ref.peak.tolist()
        np.testing.assert_allclose([r[3] / 1000.0 for r in mine], ref.total)
        assert max(r[5] for r in mine) * 1024 == (mem[pick] * 1024).max()
        cells = sorted((int(r[1]), c // rollups.CELL, c % rollups.CELL) for r in mine for c in r[6])
        expected = sorted((int(ref.hours[h]), b, n) for h, b, n in ref.cells.tolist())
        assert cells == expected


def test_hourly_analysis_matches_raw_where_it_is_exact_and_is_close_elsewhere(upid, imported: Path) -> None:
    raw = _json(upid, "analyze", "--resolution", "raw")
    hour = _json(upid, "analyze", "--resolution", "hour")  # the block rolled up on the fly
    assert upid("storage", "compact").code == 0
    assert _json(upid, "analyze", "--resolution", "hour") == hour  # the same from the stored rollups
    assert hour["summary"]["containers"] == raw["summary"]["containers"] == 50
    by_key = {(r["workload"], r["container"]): r for r in raw["recommendations"]}
    close = 0
    for h in hour["recommendations"]:
        r = by_key[(h["workload"], h["container"])]
        assert h["usage"]["memory_max"] == r["usage"]["memory_max"]  # maxima are exact
        assert h["usage"]["cpu_max"] == r["usage"]["cpu_max"]
        assert h["recommended"]["memory_request"] == r["recommended"]["memory_request"]  # peak-based: exact
        if r["usage"]["cpu_p95"] >= 0.02:
            assert h["usage"]["cpu_p95"] == pytest.approx(r["usage"]["cpu_p95"], rel=0.05)
            close += abs(h["usage"]["cpu_p95"] / r["usage"]["cpu_p95"] - 1) <= 0.03
    assert close >= 0.9 * sum(r["usage"]["cpu_p95"] >= 0.02 for r in raw["recommendations"])
    # the money is within a cent per hour of the raw figures' (pod-hours stand for whole hours)
    assert hour["summary"]["monthly_cost"]["current"] == pytest.approx(
        raw["summary"]["monthly_cost"]["current"], rel=0.01
    )


def test_vpa_needs_raw_samples(upid, imported: Path) -> None:
    doc = _json(upid, "analyze", "--resolution", "hour", "--strategy", "vpa")
    assert all("needs raw samples" in (r["reason"] or "") for r in doc["recommendations"])


def test_raw_tier_cleanup_keeps_the_hourly_history_and_long_windows_read_it(upid, imported: Path) -> None:
    before = _json(upid, "analyze", "--resolution", "hour")
    r = upid("storage", "cleanup", "--days-to-keep", "3", "--yes")
    assert r.code == 0 and "samples older than 3 days" in r.err
    status = _json(upid, "storage", "status")
    assert status["clusters"][0]["samples"] < 201_175 * 0.3  # the raw tier holds 3 of 14 days
    after = _json(upid, "analyze", "--history", "14d")  # auto: 14 d > 3 d of raw samples -> hourly
    assert [r["recommended"] for r in after["recommendations"]] == [r["recommended"] for r in before["recommendations"]]
    assert after["summary"]["samples"] == before["summary"]["samples"]
    short = _json(upid, "analyze", "--history", "2d")  # within the raw tier: raw samples
    assert short["summary"]["samples"] < after["summary"]["samples"] / 5


def test_hourly_tier_drops_whole_rollup_blocks(upid, imported: Path) -> None:
    assert upid("storage", "compact").code == 0
    # with the default tiers nothing goes (14 days of data)
    r = upid("storage", "cleanup", "--dry-run")
    assert r.code == 0 and "would remove 0 samples" in r.err
    # rollup blocks older than the hourly tier go whole; a block straddling the cutoff stays whole
    rows = _rows(imported, "SELECT count(*), sum(rows) FROM rollup_blocks")[0]
    r = upid("storage", "cleanup", "--days-to-keep", "1", "--hourly-days-to-keep", "1", "--yes")
    assert r.code == 0, r.err
    assert _rows(imported, "SELECT count(*), sum(rows) FROM rollup_blocks")[0] == rows  # one block, straddling
    bad = upid("storage", "cleanup", "--days-to-keep", "30", "--hourly-days-to-keep", "10", "--yes")
    assert bad.code == ExitCode.USAGE and "at least as long as raw samples" in bad.err


def test_head_samples_are_rolled_up_when_read_and_when_cleanup_drops_them(upid, home: Path, tmp_path: Path) -> None:
    # a small import stays in the head: its hours are rolled up when a window is read
    lines = ["timestamp,namespace,workload,pod,container,cpu_cores,memory_bytes"]
    start = 1_767_225_600
    lines += [
        f"{start + i * 300},ns,web,web-1,app,{0.1 + (i % 12) * 0.01:.2f},{(200 + i % 7) * 2**20}" for i in range(864)
    ]
    path = tmp_path / "small.csv"
    path.write_text("\n".join(lines) + "\n")
    assert upid("storage", "import", path, "--cluster", "small").code == 0
    assert _rows(home / "upid.duckdb", "SELECT count(*) FROM rollup_blocks")[0][0] == 0
    hour = _json(upid, "analyze", "--resolution", "hour", "--history", "3d")
    assert hour["summary"]["samples"] >= 852 and hour["recommendations"][0]["usage"]["memory_max"] == 206 * 2**20
    # cleanup drops head samples: their hours are kept as rollups first
    assert upid("storage", "cleanup", "--days-to-keep", "1", "--yes").code == 0
    assert _rows(home / "upid.duckdb", "SELECT count(*) FROM rollup_blocks")[0][0] == 1
    again = _json(upid, "analyze", "--resolution", "hour", "--history", "3d")
    assert again["summary"]["samples"] == hour["summary"]["samples"]
    assert again["recommendations"][0]["recommended"] == hour["recommendations"][0]["recommended"]


def test_a_store_without_rollups_gets_them_at_compact(upid, imported: Path) -> None:
    assert upid("storage", "compact").code == 0
    expected = _rows(imported, "SELECT sum(rows), sum(samples) FROM rollup_blocks")[0]
    con = duckdb.connect(str(imported))
    root = imported.parent / (imported.name + ".blocks")
    for (f,) in con.execute("SELECT file FROM rollup_blocks").fetchall():
        (root / f).unlink()
    con.execute("DELETE FROM rollup_blocks")
    con.execute("UPDATE blocks SET rolled_up = false")  # as migration 6 leaves a store written before it
    con.close()
    assert upid("storage", "compact").code == 0
    assert _rows(imported, "SELECT sum(rows), sum(samples) FROM rollup_blocks")[0] == expected


def test_verify_finds_a_damaged_rollup_block(upid, imported: Path, tmp_path: Path) -> None:
    assert upid("storage", "compact").code == 0
    assert upid("storage", "verify").code == 0
    (f,) = _rows(imported, "SELECT file FROM rollup_blocks")[0]
    path = imported.parent / (imported.name + ".blocks") / f
    shutil.copy(path, tmp_path / "good")
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF  # the middle: size and footer unchanged
    path.write_bytes(bytes(data))
    r = upid("storage", "verify")
    assert r.code == ExitCode.STORE_CORRUPT and f in r.err


def test_report_and_optimize_read_the_rollups_too(upid, imported: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    assert upid("report", "--html", page, "--resolution", "hour").code == 0
    assert "vm-1" in page.read_text()
    raw, hour = (_json(upid, "optimize", "--resolution", res) for res in ("raw", "hour"))
    assert hour["summary"]["changes"] and len(hour["changes"]) == hour["summary"]["changes"]
    # the same workloads are resized, each memory request the same (exact peaks)
    memory = {
        res: {
            (c["workload"], k["container"]): k["after"]["memory_request"]
            for c in doc["changes"]
            for k in c.get("containers", [])
            if c["action"] == "rightsize"
        }  # fmt: skip
        for res, doc in (("raw", raw), ("hour", hour))
    }
    assert memory["raw"] and memory["hour"]
    common = memory["raw"].keys() & memory["hour"].keys()
    assert len(common) >= 0.9 * len(memory["raw"]) and all(memory["raw"][k] == memory["hour"][k] for k in common)
