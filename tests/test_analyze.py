"""`upid analyze`: statistics per workload container, recomputed here from the input data."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
import synth
import yaml

from upid.errors import ExitCode


def _expected(rows: list[dict], start: int, end: int) -> dict:
    """What the analysis must say, computed from the raw rows at the store's resolution (1m CPU, 1 KiB)."""
    window = [r for r in rows if start < int(r["timestamp"]) <= end]
    cpu = np.array([round(float(r["cpu_cores"]) * 1000) / 1000 for r in window])
    mem = np.array([round(int(r["memory_bytes"]) / 1024) * 1024 for r in window], dtype=float)
    return {
        "cpu_p50": np.percentile(cpu, 50),
        "cpu_p95": np.percentile(cpu, 95),
        "cpu_max": cpu.max(),
        "memory_p95": np.percentile(mem, 95),
        "memory_max": mem.max(),
        "samples": len(window),
        "pods": len({r["pod"] for r in window}),
    }


@pytest.fixture
def data(upid, tmp_path: Path) -> synth.Dataset:
    d = synth.make(samples=7 * 24, step=3600)  # a week, hourly
    assert upid("storage", "import", d.write_csv(tmp_path / "u.csv")).code == 0
    return d


def test_statistics_match_the_data(upid, data: synth.Dataset) -> None:
    r = upid("analyze", "-o", "json", "--history", "3d")
    assert r.code == 0, r.err
    doc = r.json()
    end = max(int(x["timestamp"]) for x in data.rows)
    assert doc["window"] == {"start": "2026-01-04T23:00:00Z", "end": "2026-01-07T23:00:00Z"}
    assert doc["summary"]["containers"] == len(data.containers())
    for rec in doc["recommendations"]:
        key = (rec["cluster"], rec["namespace"], rec["workload_kind"], rec["workload"], rec["container"])
        want = _expected(data.containers()[key], end - 3 * 86400, end)
        usage = rec["usage"]
        for k in ("cpu_p50", "cpu_p95", "cpu_max"):
            assert usage[k] == pytest.approx(want[k], abs=1e-6), k
        for k in ("memory_p95", "memory_max"):
            assert usage[k] == pytest.approx(want[k], abs=1), k
        assert usage["samples"] == want["samples"] and usage["pods"] == want["pods"]
        first = data.containers()[key][0]
        assert rec["current"] == {
            "cpu_request": float(first["cpu_request_cores"]),
            "cpu_limit": None,
            "memory_request": first["memory_request_bytes"],
            "memory_limit": first["memory_limit_bytes"],
        }


def test_until_moves_the_window(upid, data: synth.Dataset) -> None:
    doc = upid("analyze", "-o", "json", "--until", "2026-01-03T00:00:00Z", "--history", "1d").json()
    assert doc["window"]["end"] == "2026-01-03T00:00:00Z"
    assert all(rec["usage"]["last"] <= "2026-01-03T00:00:00Z" for rec in doc["recommendations"])
    assert {rec["usage"]["samples"] for rec in doc["recommendations"]} == {2 * 24}  # 2 pods x 24 hours


def test_namespace_filter(upid, data: synth.Dataset) -> None:
    doc = upid("analyze", "-n", "shop", "-o", "json").json()
    assert {rec["namespace"] for rec in doc["recommendations"]} == {"shop"}
    assert upid("analyze", "-A", "-o", "json").json()["summary"]["containers"] == len(data.containers())
    r = upid("analyze", "-n", "nowhere")
    assert r.code == ExitCode.NO_DATA and "no samples" in r.err


def test_table_wide_csv_and_yaml_agree(upid, data: synth.Dataset) -> None:
    table = upid("analyze")
    assert table.code == 0
    assert table.out.splitlines()[0].split()[:3] == ["NAMESPACE", "WORKLOAD", "CONTAINER"]
    assert "KIND" not in table.out.splitlines()[0]
    assert "KIND" in upid("analyze", "-o", "wide").out.splitlines()[0]
    assert upid("analyze", "--no-headers").out.splitlines()[0].split()[0] in ("batch", "shop")
    rows = list(csv.DictReader(io.StringIO(upid("analyze", "-o", "csv").out)))
    doc = yaml.safe_load(upid("analyze", "-o", "yaml").out)
    assert len(rows) == len(doc["recommendations"]) == len(data.containers())
    assert float(rows[0]["cpu_p95_cores"]) == pytest.approx(doc["recommendations"][0]["usage"]["cpu_p95"])


def test_unknown_cluster(upid, data: synth.Dataset) -> None:
    r = upid("analyze", "--cluster", "nope")
    assert r.code == ExitCode.NO_DATA and "known clusters: alpha" in r.err
