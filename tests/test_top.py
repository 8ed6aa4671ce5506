"""`upid top`: each scope's buckets against the same numbers computed here from the stored samples with SQL;
trends and anomalies on histories built here with a known growth and a known spike; the scopes add up on a
collected cluster; bad input."""

from __future__ import annotations

import csv
import io

import pytest
from schemas import check

from upid.errors import ExitCode

DAY = 86400


@pytest.fixture
def demo(upid):
    from upid.workflows.demo import sample_path

    assert upid("storage", "import", sample_path(), "--cluster", "demo").code == 0


def _json(upid, *args):
    r = upid(*args, "-o", "json")
    assert r.code == 0, r.err
    return r.json()


def _sql(upid, sql: str) -> list[list]:
    r = upid("storage", "query", sql, "-o", "json")
    assert r.code == 0, r.err
    return r.json()["rows"]


def test_namespaces_by_day_equal_sql_over_the_stored_samples(upid, demo) -> None:
    doc = _json(upid, "top", "namespaces", "--history", "7d")
    check(doc, "top")
    (row,) = doc["rows"]
    assert row["namespace"] == "bitbrains" and row["series"] == 50
    step = doc["step_seconds"]
    start, end = doc["window"]["start"], doc["window"]["end"]
    # the same definition, in SQL: each series' mean per grid point, summed per grid point, then per day
    rows = _sql(
        upid,
        f"""
        WITH cells AS (
            SELECT pod, (epoch(timestamp)::BIGINT // {step}) * {step} AS t, avg(cpu_cores) AS cpu,
                   avg(memory_bytes) AS mem
            FROM usage WHERE timestamp > TIMESTAMPTZ '{start}' AND timestamp <= TIMESTAMPTZ '{end}'
            GROUP BY pod, t),
        sums AS (SELECT t, sum(cpu) AS cpu, sum(mem) AS mem FROM cells GROUP BY t)
        SELECT strftime(to_timestamp((t // 86400) * 86400), '%Y-%m-%dT%H:%M:%SZ') AS day, min(cpu), avg(cpu),
               quantile_cont(cpu, 0.95), max(cpu), max(mem)
        FROM sums GROUP BY day ORDER BY day""",
    )
    got = row["cpu"]["buckets"]
    assert [b["start"] for b in got] == [r[0] for r in rows]
    for b, r in zip(got, rows, strict=True):
        assert b["min"] == pytest.approx(r[1], abs=1e-4) and b["mean"] == pytest.approx(r[2], abs=1e-4)
        assert b["p95"] == pytest.approx(r[3], abs=1e-4) and b["max"] == pytest.approx(r[4], abs=1e-4)
    assert [b["max"] for b in row["memory"]["buckets"]] == [pytest.approx(r[5], abs=1) for r in rows]


def test_workloads_and_pods_split_the_namespace_and_csv_has_a_row_per_bucket(upid, demo) -> None:
    by_ns = _json(upid, "top", "namespaces", "--by", "hour", "--history", "2d")["rows"][0]
    workloads = _json(upid, "top", "workloads", "--by", "hour", "--history", "2d")
    pods = _json(upid, "top", "pods", "--by", "hour", "--history", "2d")
    check(pods, "top")
    assert len(workloads["rows"]) == len(pods["rows"]) == 50  # one pod per VM in the sample
    assert {r["pod"] for r in pods["rows"]} == {r["workload"] for r in workloads["rows"]}
    # means add up across scopes where every series has a sample at every grid point of the hour
    total = [sum(r["cpu"]["buckets"][i]["mean"] for r in workloads["rows"]) for i in range(3)]
    assert total == pytest.approx([b["mean"] for b in by_ns["cpu"]["buckets"][:3]], rel=0.02)
    r = upid("top", "workloads", "--by", "hour", "--history", "2d", "-o", "csv")
    lines = list(csv.DictReader(io.StringIO(r.out)))
    assert len(lines) == sum(len(w["cpu"]["buckets"]) for w in workloads["rows"])
    assert set(lines[0]) >= {"workload", "bucket_start", "cpu_p95_cores", "memory_max_bytes", "cpu_anomaly"}
    table = upid("top", "pods", "--by", "hour", "--history", "2d")
    assert table.code == 0 and "CPU BY HOUR" in table.out and "▁" in table.out


def _history(tmp_path, days: int = 21):
    """Two workloads sampled every 5 minutes: `grow` gains 0.1 cores a day; `spike` is flat at 0.2 cores but
    ten times that on day 15."""
    lines = ["timestamp,namespace,workload,pod,container,cpu_cores,memory_bytes"]
    t0 = 1_700_000_000 // DAY * DAY
    for k in range(days * 288):
        ts = t0 + k * 300
        day = k // 288
        lines.append(f"{ts},app,grow,grow-0,main,{0.5 + 0.1 * (k * 300) / DAY:.6f},{200_000_000}")
        wobble = 0.01 * ((k * 7) % 5)
        spike = 2.0 if day == 15 else 0.2 + wobble
        lines.append(f"{ts},app,spike,spike-0,main,{spike:.6f},{100_000_000 + (k % 3) * 1_000_000}")
    path = tmp_path / "made.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, t0


def test_a_known_growth_is_the_trend_and_a_known_spike_the_anomaly(upid, tmp_path) -> None:
    path, t0 = _history(tmp_path)
    assert upid("storage", "import", path, "--cluster", "made").code == 0
    doc = _json(upid, "top", "workloads", "--history", "21d")
    rows = {r["workload"]: r for r in doc["rows"]}
    grow, spike = rows["grow"]["cpu"], rows["spike"]["cpu"]
    assert grow["trend"]["per_day"] == pytest.approx(0.1, rel=0.01) and grow["trend"]["r2"] > 0.99
    assert grow["anomalies"] == []  # a steady trend stays inside its own band (modified z at most 1.35 here)
    from upid.units import iso

    assert spike["anomalies"] == [iso(t0 + 15 * DAY)]
    assert rows["spike"]["memory"]["anomalies"] == []
    hourly = _json(upid, "top", "workloads", "--history", "21d", "--by", "hour")
    flagged = {r["workload"]: r["cpu"]["anomalies"] for r in hourly["rows"]}
    assert flagged["spike"] and all(a.startswith(iso(t0 + 15 * DAY)[:10]) for a in flagged["spike"])


def test_nodes_and_pods_of_a_collected_cluster_add_up(upid, kube) -> None:
    for _ in range(3):
        assert upid("storage", "collect", "--kubeconfig", kube.kubeconfig).code == 0
    nodes = _json(upid, "top", "nodes", "--by", "hour")
    pods = _json(upid, "top", "pods", "--by", "hour", "-A")
    check(nodes, "top")
    owned = {p.name for p in kube.cluster.pods if p.owner_kind}
    assert {r["pod"] for r in pods["rows"]} <= {p.name for p in kube.cluster.pods}
    assert {r["pod"] for r in pods["rows"]} >= owned
    assert {r["node"] for r in nodes["rows"]} <= set(kube.cluster.node_names) and nodes["rows"]
    node_total = sum(b["mean"] for r in nodes["rows"] for b in r["memory"]["buckets"])
    pod_total = sum(b["mean"] for r in pods["rows"] for b in r["memory"]["buckets"])
    assert nodes["unplaced_samples"] == 0 and node_total == pytest.approx(pod_total, rel=1e-6)


def test_bad_input_and_imported_nodes(upid, demo) -> None:
    r = upid("top", "deployments")
    assert r.code == ExitCode.USAGE and r.err.startswith("error: unknown resource 'deployments'")
    assert upid("top", "pods", "--by", "week").code == ExitCode.USAGE
    assert upid("top", "pods", "--history", "soon").code == ExitCode.USAGE
    assert upid("top", "pods", "--cluster", "nope").code == ExitCode.NO_DATA
    r = upid("top", "nodes")
    assert r.code == 0 and "no node recorded" in r.err  # imported history has no nodes
    assert upid("top", "po", "-o", "json").json()["scope"] == "pods"  # kubectl's short names
