"""`upid storage import`: formats, validation, idempotency, clusters kept apart."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import synth

from upid.errors import ExitCode


def _status(upid) -> dict:
    r = upid("storage", "status", "-o", "json")
    assert r.code == 0, r.err
    return r.json()


@pytest.mark.parametrize("name", ["usage.csv", "usage.csv.gz", "usage.parquet", "usage-iso.csv"])
def test_every_format_imports_the_same_samples(upid, tmp_path: Path, name: str) -> None:
    data = synth.make()
    path = tmp_path / name
    if name.endswith(".parquet"):
        data.write_parquet(path)
    else:
        data.write_csv(path, iso="iso" in name)
    r = upid("storage", "import", path)
    assert r.code == 0, r.err
    assert r.out == ""  # data goes to stdout only when asked for
    assert f"imported {len(data.rows):,} samples into cluster alpha" in r.err
    status = _status(upid)
    assert status["samples"] == len(data.rows)
    [cluster] = status["clusters"]
    assert cluster["series"] == len({(x["namespace"], x["pod"]) for x in data.rows})
    assert cluster["first"] == "2026-01-01T00:00:00Z"


def test_reimport_stores_each_sample_once(upid, tmp_path: Path) -> None:
    path = synth.make().write_csv(tmp_path / "u.csv")
    assert upid("storage", "import", path).code == 0
    r = upid("storage", "import", path, "-o", "json")
    assert r.code == 0
    summary = r.json()
    assert summary["clusters"][0]["written"] == 0
    assert summary["clusters"][0]["already_stored"] == summary["clusters"][0]["samples"]
    assert _status(upid)["samples"] == summary["clusters"][0]["samples"]


def test_overlapping_import_adds_only_new_samples(upid, tmp_path: Path) -> None:
    first = synth.make(samples=40)
    longer = synth.make(samples=60)  # same seed: the first 40 samples of each series are identical
    assert upid("storage", "import", first.write_csv(tmp_path / "a.csv")).code == 0
    r = upid("storage", "import", longer.write_parquet(tmp_path / "b.parquet"), "-o", "json")
    assert r.json()["clusters"][0]["written"] == len(longer.rows) - len(first.rows)
    assert _status(upid)["samples"] == len(longer.rows)


def test_bad_rows_are_counted_with_reasons_and_good_rows_kept(upid, tmp_path: Path) -> None:
    data = synth.make(samples=10)
    path = data.write_csv(tmp_path / "u.csv")
    lines = path.read_text().splitlines()
    broken = (
        lines[:1]
        + [
            _set(lines, 1, "cpu_cores", "abc"),
            _set(lines, 2, "timestamp", "yesterday"),
            _set(lines, 3, "namespace", ""),
            _set(lines, 4, "memory_bytes", "-5"),
            "1767225600,too,few",
        ]
        + lines[5:]
    )
    path.write_text("\n".join(broken) + "\n")
    r = upid("storage", "import", path, "-o", "json")
    assert r.code == 0, r.err
    summary = r.json()
    assert summary["bad_rows"] == 5
    assert summary["clusters"][0]["written"] == len(data.rows) - 4
    assert "5 of" in r.err and "rows skipped as bad" in r.err
    reasons = " ".join(summary["reasons"])
    for expected in (
        'cpu_cores "abc" is not a number',
        'timestamp "yesterday" is not ISO-8601',
        "namespace is empty",
        'memory_bytes "-5" is negative',
        "Expected Number of Columns",
    ):
        assert expected in reasons


def _set(lines: list[str], index: int, column: str, value: str) -> str:
    header = lines[0].split(",")
    row = next(csv.reader([lines[index]]))
    row[header.index(column)] = value
    return ",".join(row)


def test_a_file_without_good_rows_is_an_input_error_and_stores_nothing(upid, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,namespace,pod,container,cpu_cores,memory_bytes\nnever,a,b,c,x,y\n")
    r = upid("storage", "import", path)
    assert r.code == ExitCode.INPUT
    assert r.err.startswith("error: ") and len(r.err.strip().splitlines()) == 1
    assert "no usable row" in r.err


@pytest.mark.parametrize(
    "content, message",
    [
        ("timestamp,namespace,pod\n1,a,b\n", "missing required column(s): container, cpu_cores, memory_bytes"),
        ("", "is empty"),
        ("PAR1 this is no parquet file PAR1", "cannot read as CSV or Parquet"),
    ],
)
def test_malformed_files_give_one_line_errors(upid, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "f.parquet"
    path.write_text(content)
    r = upid("storage", "import", path)
    assert r.code == ExitCode.INPUT
    assert message in r.err
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1


def test_missing_file(upid, tmp_path: Path) -> None:
    r = upid("storage", "import", tmp_path / "nope.csv")
    assert r.code == ExitCode.INPUT and "no such file" in r.err


def test_unknown_columns_are_ignored_with_a_notice(upid, tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text(
        "timestamp,namespace,pod,container,cpu_cores,memory_bytes,colour\n1767225600,ns,p,c,0.5,1048576,blue\n"
    )
    r = upid("storage", "import", path)
    assert r.code == 0
    assert "ignored unknown column(s): colour" in r.err


def test_defaults_for_optional_columns(upid, tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text(
        "timestamp,namespace,pod,container,cpu_cores,memory_bytes\n2026-01-01T00:00:00Z,ns,pod-a,c,0.5,1048576\n"
    )
    assert upid("storage", "import", path, "--cluster", "lab").code == 0
    r = upid(
        "storage", "query", "SELECT cluster, workload_kind, workload, cpu_cores, memory_bytes FROM usage", "-o", "json"
    )
    assert r.json()["rows"] == [["lab", "Deployment", "pod-a", 0.5, 1048576]]


def test_duplicate_rows_in_one_file_are_kept_once(upid, tmp_path: Path) -> None:
    data = synth.make(samples=5)
    data.rows += data.rows[:3]
    r = upid("storage", "import", data.write_csv(tmp_path / "u.csv"), "-o", "json")
    assert r.json()["duplicate_rows"] == 3
    assert _status(upid)["samples"] == len(data.rows) - 3


def test_clusters_in_one_file_stay_apart(upid, tmp_path: Path) -> None:
    data = synth.make(clusters=("alpha", "beta"), samples=6)
    assert upid("storage", "import", data.write_csv(tmp_path / "u.csv")).code == 0
    clusters = {c["cluster"]: c for c in _status(upid)["clusters"]}
    assert set(clusters) == {"alpha", "beta"}
    assert clusters["alpha"]["samples"] == clusters["beta"]["samples"] == len(data.rows) // 2
    r = upid("analyze", "-o", "json")
    assert r.code == ExitCode.USAGE and "several clusters (alpha, beta)" in r.err
    beta = upid("analyze", "--cluster", "beta", "-o", "json").json()
    assert {x["cluster"] for x in beta["recommendations"]} == {"beta"}


def test_requests_are_stored_as_change_points(upid, tmp_path: Path) -> None:
    data = synth.make(namespaces=("shop",), workloads=1, pods=1, samples=6)
    for row in data.rows[3:]:
        row["cpu_request_cores"] = 2.0
    assert upid("storage", "import", data.write_csv(tmp_path / "u.csv")).code == 0
    assert upid("storage", "import", data.write_csv(tmp_path / "u.csv")).code == 0  # again: no new change points
    r = upid("storage", "query", "SELECT cpu_request_m FROM resources ORDER BY ts", "-o", "json")
    assert [row[0] for row in r.json()["rows"]] == [round(float(data.rows[0]["cpu_request_cores"]) * 1000), 2000]
    current = upid("analyze", "-o", "json").json()["recommendations"][0]["current"]
    assert current["cpu_request"] == 2.0


def test_the_first_of_duplicate_rows_wins(upid, tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text(
        "timestamp,namespace,pod,container,cpu_cores,memory_bytes\n"
        "1767225600,ns,p,c,0.1,1048576\n1767225600,ns,p,c,0.9,1048576\n1767225900,ns,p,c,0.2,1048576\n"
    )
    assert upid("storage", "import", path).code == 0
    r = upid("storage", "query", "SELECT cpu_cores FROM usage ORDER BY timestamp", "-o", "json")
    assert [row[0] for row in r.json()["rows"]] == [0.1, 0.2]


def _corrupt_crc(data: bytes) -> bytes:
    return data[:-8] + bytes([data[-8] ^ 0xFF]) + data[-7:]  # the trailer's CRC-32, one byte flipped


def _corrupt_middle(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0x5A for b in data[middle : middle + 64]) + data[middle + 64 :]


@pytest.mark.parametrize("damage", [_corrupt_crc, _corrupt_middle, lambda d: d[: len(d) * 2 // 3]])
def test_a_corrupt_gzip_file_is_an_input_error_and_imports_nothing(upid, tmp_path: Path, damage) -> None:
    path = synth.make(samples=200).write_csv(tmp_path / "u.csv.gz")
    path.write_bytes(damage(path.read_bytes()))
    r = upid("storage", "import", path)
    assert r.code == ExitCode.INPUT, r.err
    assert "corrupt gzip file" in r.err and len(r.err.strip().splitlines()) == 1
    assert upid("storage", "status", "-o", "json").code == ExitCode.NO_DATA


def test_a_file_of_many_clusters_is_written_in_one_transaction_with_one_line(upid, tmp_path: Path) -> None:
    data = synth.make(samples=2, clusters=tuple(f"c{i:02d}" for i in range(30)), namespaces=("a",), workloads=1)
    r = upid("storage", "import", data.write_csv(tmp_path / "u.csv"), "-o", "json")
    assert r.code == 0, r.err
    assert r.err.strip().splitlines() == [f"imported {len(data.rows)} samples into 30 clusters (0 already stored, "
                                          "60 new series)"]  # fmt: skip
    assert len(r.json()["clusters"]) == 30
    status = _status(upid)
    assert len(status["clusters"]) == 30 and status["samples"] == len(data.rows)
    entries = upid("storage", "audit-log", "--limit", "100", "-o", "json").json()["entries"]
    assert sorted(e["cluster"] for e in entries) == [f"c{i:02d}" for i in range(30)]  # one row per cluster
