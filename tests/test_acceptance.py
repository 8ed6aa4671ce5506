"""What upid never stores, on every path (import, import-prometheus, collect): a sample dated before 2000 or
ahead of this machine's clock by more than the allowed skew, a negative, non-finite or absurd value. Each is a
counted bad row with a reason; the rest of the file or cluster is stored. Retention never wipes real history
because of one sample from the future."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import synth
from test_collect import collect, query

from upid.errors import ExitCode
from upid.ingest.canonical import read_canonical
from upid.ingest.prometheus.convert import Owners, Rejected, to_batch
from upid.samples import MAX_CPU_CORES, Acceptance
from upid.store.base import AuditRecord
from upid.store.duckdb.store import DuckDBStore

AUDIT = AuditRecord(command="test", args=[], user="tester")
NOW = int(time.time())


def _with_rows(tmp_path: Path, changes: list[dict[str, object]], start: int = synth.START) -> tuple[Path, int]:
    """A synthetic file whose first len(changes) rows get the given values; returns it and its row count."""
    data = synth.make(samples=12, start=start)
    for row, change in zip(data.rows, changes, strict=False):
        row.update(change)
    return data.write_csv(tmp_path / "u.csv"), len(data.rows)


def _import(upid, path: Path):
    r = upid("storage", "import", path, "-o", "json")
    assert r.code == 0, r.err
    return r.json()


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"timestamp": "4000-01-01T00:00:00Z"}, "is in the future"),
        ({"timestamp": str(NOW + 3600)}, "is in the future"),
        ({"timestamp": "1999-12-31T23:59:59Z"}, "is before 2000"),
        ({"timestamp": "86400"}, "is before 2000"),
        ({"timestamp": "1767225600000"}, "out of range (milliseconds?)"),
        ({"cpu_cores": "3000000"}, 'cpu_cores "3000000" is out of range'),
        ({"memory_bytes": "1e25"}, 'memory_bytes "1e25" is out of range'),
        ({"memory_bytes": "1e309"}, "is negative or not finite"),
        ({"cpu_request_cores": "3000000"}, 'cpu_request_cores "3000000" is out of range'),
        ({"memory_limit_bytes": "-100"}, "is negative"),
        ({"network_rx_bytes_per_s": "1e20"}, 'network_rx_bytes_per_s "1e20" is out of range'),
        ({"network_tx_bytes_per_s": "-inf"}, "is negative or not finite"),
    ],
)
def test_one_bad_value_is_one_bad_row_and_the_file_is_imported(upid, tmp_path: Path, change, reason) -> None:
    path, rows = _with_rows(tmp_path, [change])
    summary = _import(upid, path)
    assert summary["bad_rows"] == 1, summary
    assert reason in summary["reasons"][0]
    assert summary["clusters"][0]["written"] == rows - 1
    stats = query(
        upid,
        "SELECT max(timestamp) < now(), min(timestamp) >= '2000-01-01', max(cpu_cores) < 100, "
        "max(memory_bytes) < 1e12, max(network_rx_bytes_per_s) < 1e12, max(network_tx_bytes_per_s) >= 0, "
        "(SELECT max(cpu_request_m) < 1e5 AND min(memory_limit) > 0 FROM resources) FROM usage",
    )
    assert stats == [[True] * 7]


def test_the_allowed_skew_is_a_setting(upid, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, rows = _with_rows(tmp_path, [{"timestamp": str(NOW + 300)}, {"timestamp": str(NOW + 1800)}])
    summary = _import(upid, path)
    assert summary["bad_rows"] == 1 and "row 2: timestamp" in summary["reasons"][0]  # 5 min ahead is fine
    monkeypatch.setenv("UPID_CLOCK_SKEW", "3600")
    assert _import(upid, path)["bad_rows"] == 0


def test_a_future_sample_never_makes_retention_wipe_real_history(upid, home: Path, tmp_path: Path) -> None:
    """A store that holds one sample dated 4000-01-01 (written before upid checked, or by a faulty producer):
    `cleanup --days-to-keep 30` keeps the last 30 days measured from the wall clock."""
    start = (NOW - 40 * 86400) // 300 * 300
    data = synth.make(samples=40 * 24, step=3600, start=start)  # 40 days of hourly samples, up to now
    store = DuckDBStore(home / "upid.duckdb")
    [batch] = read_canonical(data.write_csv(tmp_path / "real.csv"), "c").batches
    store.write(batch, AUDIT)
    accept_anything = Acceptance(latest=float(2**40))
    [future] = read_canonical(
        synth.make(samples=1, start=64_060_588_800).write_csv(tmp_path / "future.csv"), "c", accept_anything
    ).batches
    store.write(future, AUDIT)
    r = upid("storage", "cleanup", "--days-to-keep", "30", "--yes")
    assert r.code == 0, r.err
    [[kept, oldest]] = query(upid, "SELECT count(*), min(epoch(timestamp)) FROM usage WHERE timestamp < now()")
    per_day = len(data.rows) / 40
    assert oldest >= NOW - 30 * 86400 - 3600
    assert kept == pytest.approx(30 * per_day, rel=0.02)


def test_collect_skips_samples_from_the_future_and_absurd_values_with_one_notice(upid, kube) -> None:
    """metrics-server once answered 9999-12-31: that pod's sample is skipped and counted; the rest is stored."""
    pods = [p for p in kube.cluster.pods if p.namespace != "kube-system"]
    future, huge = pods[0].name, pods[1].name

    def tamper(doc: dict) -> None:
        name = doc.get("metadata", {}).get("name")
        if name == future:
            doc["timestamp"] = "9999-12-31T23:59:59Z"
        elif name == huge:
            doc["containers"][0]["usage"]["cpu"] = "3000000"

    kube.behaviour.denied.add("nodes/proxy")  # usage from metrics.k8s.io
    kube.behaviour.tamper = tamper
    r = collect(upid, kube)
    assert r.code == 0, r.err
    bad = len(pods[0].workload.containers) + 1
    assert f"skipped {bad} malformed usage samples or requests/limits" in r.err
    assert "is in the future" in r.err
    stored = {row[0] for row in query(upid, "SELECT DISTINCT pod FROM usage")}
    huge_gone = len(pods[1].workload.containers) == 1  # its only container's sample was skipped
    assert future not in stored and len(stored) == len(kube.cluster.pods) - 1 - huge_gone
    [[latest, most]] = query(upid, "SELECT max(timestamp) < now(), max(cpu_cores) FROM usage")
    assert latest and most < 100


def test_collect_keeps_a_container_whose_request_is_absurd_without_the_request(upid, kube) -> None:
    c = kube.cluster
    w = next(p.workload for p in c.pods if p.owner_kind and p.workload.namespace != "kube-system")
    w.resources[w.containers[0]].setdefault("requests", {})["cpu"] = "99999999999"
    r = collect(upid, kube)
    assert r.code == 0, r.err
    assert "cpu request 1e+11 is out of range" in r.err
    rows = query(upid, "SELECT DISTINCT r.cpu_request_m FROM resources r JOIN series s USING (series_id) "
                       f"WHERE s.workload = '{w.name}' AND s.container = '{w.containers[0]}'")  # fmt: skip
    assert rows == [[None]]
    assert query(upid, f"SELECT count(*) FROM usage WHERE workload = '{w.name}'")[0][0] > 0


def test_prometheus_points_outside_the_window_or_range_are_counted_not_stored() -> None:
    """Prometheus answers as its HTTP API does (values as strings); the convert step keeps what can be stored."""
    t0 = 1_767_225_600

    def matrix(values: list[tuple[int, str]], **labels: str) -> list[dict]:
        metric = {"namespace": "shop", "pod": "web-1", "container": "app", **labels}
        return [{"metric": metric, "values": [[t, v] for t, v in values]}]

    times = [t0, t0 + 300, t0 + 600, 64_060_588_800]
    answers = {
        "cpu": matrix([(t, "0.5") for t in times[:2]] + [(times[2], "-0.25"), (times[3], "0.5")]),
        "memory": matrix([(t, "1e9") for t in times[:3]] + [(times[3], "1e9")]),
        "rx": matrix([(times[0], "1e20"), (times[1], "10")]),
        "requests": matrix([(times[0], "3000000")], resource="cpu"),
    }
    rejected = Rejected(Acceptance.now())
    batch = to_batch("c", answers, Owners(), 300, rejected)
    assert list(batch.ts) == times[:2]  # the negative CPU and the future point are gone
    assert np.isnan(batch.net_rx[0]) and batch.net_rx[1] == 10
    assert list(batch.resources["cpu_request_m"]) == [-1]
    assert dict(rejected.counts) == {
        "cpu: time out of range": 1,
        "cpu: value negative or out of range": 1,
        "memory: time out of range": 1,
        "rx: value negative or out of range": 1,
        "requests: value negative or out of range": 1,
    }
    assert MAX_CPU_CORES < 3_000_000


def test_a_file_of_future_rows_only_is_an_input_error(upid, tmp_path: Path) -> None:
    data = synth.make(samples=2, start=NOW + 86400)
    r = upid("storage", "import", data.write_csv(tmp_path / "f.csv"))
    assert r.code == ExitCode.INPUT
    assert "no usable row" in r.err and "is in the future" in r.err
