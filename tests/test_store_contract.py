"""The store contract: what every backend promises upid, one suite run against a DuckDB file and against a real
PostgreSQL (tests/pg.py). Each test writes its own small batches and checks the answer against those inputs, so
a backend that drops, duplicates, reorders or mislabels a sample fails here, whichever it is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from upid.analysis.window import Scope
from upid.errors import NoDataError, UsageError
from upid.inventory import Collection, Identity, NodeRecord, WorkloadRecord
from upid.samples import SampleBatch
from upid.store.base import AuditRecord, ChangeRecord, Store

AUDIT = AuditRecord("test", ["contract"], "tester")
DAY = 86400
START = 1_780_000_000 - 1_780_000_000 % DAY  # a UTC midnight in 2026
STEP = 300
SERIES = [
    ("web", "Deployment", "front", "front-1", "app"),
    ("web", "Deployment", "front", "front-2", "app"),
    ("web", "Deployment", "front", "front-1", "sidecar"),
    ("jobs", "CronJob", "nightly", "nightly-9", "run"),
]


@pytest.fixture(params=["duckdb", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "duckdb":
        from upid.store.duckdb.store import DuckDBStore

        return DuckDBStore(tmp_path / "contract.duckdb")
    from upid.store.postgres.store import PostgresStore

    return PostgresStore(request.getfixturevalue("pg"))


def batch(start: int = START, samples: int = 48, cluster: str = "alpha", series: list[tuple] = SERIES,
          step: int = STEP, seed: int = 1) -> SampleBatch:  # fmt: skip
    """`samples` samples of every series from `start`, `step` apart: CPU in millicores, memory in KiB, and the
    network measured on the first series only."""
    rng = np.random.default_rng(seed)
    n = len(series)
    idx = np.repeat(np.arange(n), samples)
    ts = np.tile(start + step * np.arange(samples), n)
    net = np.where(idx == 0, rng.integers(0, 10_000, len(idx)).astype(float), np.nan)
    keys = ("namespace", "workload_kind", "workload", "pod", "container")
    return SampleBatch(
        cluster=cluster,
        source="import",
        series={
            **{k: np.asarray([s[i] for s in series], dtype=object) for i, k in enumerate(keys)},
            "node": np.asarray([f"node-{i % 2}" for i in range(n)], dtype=object),
        },  # fmt: skip
        series_idx=idx,
        ts=ts.astype(np.int64),
        cpu_m=rng.integers(1, 2000, len(idx)),
        mem_kib=rng.integers(10_000, 4_000_000, len(idx)),
        net_rx=net,
        net_tx=np.floor(net / 2),  # stored as whole bytes per second
        resources={
            "series_idx": np.arange(n),
            "ts": np.full(n, start),
            "cpu_request_m": np.full(n, 500),
            "cpu_limit_m": np.full(n, -1),
            "memory_request": np.full(n, 2**30),
            "memory_limit": np.full(n, 2**31),
        },  # fmt: skip
    )


def test_writes_count_what_is_new_and_are_idempotent(store: Store) -> None:
    b = batch()
    first = store.write(b, AUDIT)
    assert (first.received, first.written, first.series_created) == (len(b), len(b), len(SERIES))
    again = store.write(b, AUDIT)
    assert (again.received, again.written, again.series_created) == (len(b), 0, 0)
    overlapping = store.write(batch(start=START + 24 * STEP), AUDIT)  # half stored already
    assert overlapping.written == len(SERIES) * 24
    status = store.status()
    assert [(c.name, c.series, c.samples) for c in status.clusters] == [("alpha", len(SERIES), len(SERIES) * 72)]
    assert status.clusters[0].first == START and status.clusters[0].last == START + 71 * STEP


def test_the_window_holds_every_sample_in_its_range_sorted_and_scoped(store: Store) -> None:
    b = batch(samples=600)  # a little more than two days: day rows and partitions of any kind are crossed
    store.write(b, AUDIT)
    lo, hi = START + 100 * STEP, START + 500 * STEP
    w = store.window("alpha", lo, hi, Scope()).usage
    assert len(w.ts) == len(SERIES) * 400 and w.ts.min() == lo + STEP and w.ts.max() == hi  # (start, end]
    order = np.lexsort((w.pod_idx, w.ts, w.container_idx))
    np.testing.assert_array_equal(order, np.arange(len(order)))  # by container, time, pod
    assert list(w.containers["container"]) == ["run", "app", "sidecar"]  # containers sorted by their key
    chosen = (b.ts > lo) & (b.ts <= hi)
    assert w.cpu.sum() == pytest.approx(b.cpu_m[chosen].sum() / 1000)
    assert w.memory.sum() == pytest.approx(b.mem_kib[chosen].sum() * 1024.0)
    measured = chosen & np.isfinite(b.net_rx)
    assert np.nansum(w.network) == pytest.approx((b.net_rx[measured] + b.net_tx[measured]).sum(), rel=1e-6)
    assert np.isnan(w.network).sum() == 3 * 400  # not measured is not zero
    np.testing.assert_array_equal(w.containers["cpu_request"], [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(w.containers["memory_limit"], [2.0**31] * 3)
    assert np.isnan(w.containers["cpu_limit"]).all()
    web = store.window("alpha", lo, hi, Scope(namespaces=("web",))).usage
    assert set(web.containers["namespace"]) == {"web"} and len(web.ts) == 3 * 400
    assert store.sample_times("alpha", lo, hi) == set(range(lo, hi + 1, STEP))  # [start, end]


def test_extent_and_an_unknown_cluster(store: Store) -> None:
    store.write(batch(samples=400), AUDIT)
    extent = store.extent("alpha")
    assert (extent.first, extent.last) == (START, START + 399 * STEP)
    with pytest.raises(NoDataError):
        store.extent("nope")
    with pytest.raises(NoDataError):
        store.window("nope", START, START + DAY, Scope())


def test_batches_give_back_every_sample_and_oom_kill(store: Store) -> None:
    b = batch(samples=400)
    b.oom_kills = {"series_idx": np.asarray([3, 3]), "ts": np.asarray([START + 600, START + 600])}
    store.write(b, AUDIT)
    store.write(batch(cluster="beta", series=SERIES[:1]), AUDIT)
    back = list(store.batches("alpha"))
    got = sorted((tuple(x.series[k][i] for k in ("pod", "container")), int(t), int(c), int(m))
                 for x in back for i, t, c, m in zip(x.series_idx, x.ts, x.cpu_m, x.mem_kib, strict=True))  # fmt: skip
    want = sorted((tuple(b.series[k][i] for k in ("pod", "container")), int(t), int(c), int(m))
                  for i, t, c, m in zip(b.series_idx, b.ts, b.cpu_m, b.mem_kib, strict=True))  # fmt: skip
    assert got == want
    assert sum(len(x.resources["ts"]) for x in back) == len(SERIES)
    kills = [(x.series["pod"][i], int(t)) for x in back for i, t in zip(x.oom_kills["series_idx"], x.oom_kills["ts"],
                                                                       strict=True)]  # fmt: skip
    assert kills == [("nightly-9", START + 600)]  # each kill once
    events = store.window("alpha", START, START + DAY, Scope()).events
    assert events.oom_kills == {("jobs", "CronJob", "nightly", "run"): (START + 600,)}


def _collection(at: int, restarts: int, oom: bool) -> Collection:
    n = len(SERIES)
    statuses = [{"series_idx": i, "restarts": restarts if i == 0 else 0, "phase": "Running", "qos": "Burstable",
                 "last_termination_reason": "OOMKilled" if oom and i == 0 else None,
                 "last_termination_at": "2026-05-29T10:00:00Z" if oom and i == 0 else None}
                for i in range(n)]  # fmt: skip
    return Collection(
        identity=Identity("8d0c-uid", "prod-ctx", "https://k8s.example:6443", "v1.33.1", "eks", "aws"),
        at=at,
        batch=batch(start=at, samples=1),
        nodes=[
            NodeRecord(
                "node-0",
                4,
                16 * 2**30,
                3.9,
                15 * 2**30,
                "m6i.xlarge",
                "eu-west-1",
                "eu-west-1a",
                "on-demand",
                "aws:///eu-west-1a/i-0",
                {"team": "a"},
            )
        ],  # fmt: skip
        workloads=[
            WorkloadRecord("web", "Deployment", "front", 2, {"upid.io/exclude": "false"}, {"tier": "web"}),
            WorkloadRecord("jobs", "CronJob", "nightly", None, {}, {"tier": "batch"}),
        ],  # fmt: skip
        hpas=[
            {
                "namespace": "web",
                "name": "front-hpa",
                "target_kind": "Deployment",
                "target_name": "front",
                "min_replicas": 2,
                "max_replicas": 6,
                "current_replicas": 2,
                "resources": ["cpu"],
            }
        ],  # fmt: skip
        pdbs=[
            {
                "namespace": "web",
                "name": "front-pdb",
                "min_available": "1",
                "max_unavailable": None,
                "selector": {"tier": "web"},
                "disruptions_allowed": 1,
            }
        ],  # fmt: skip
        statuses=statuses,
        counters=[(i, at, 1e9 * (i + 1), float("nan"), 100.0) for i in range(n)],
        pods=3,
    )


def test_a_collection_is_read_back_as_inventory_events_and_counters(store: Store) -> None:
    store.write_collection(_collection(START, 1, False), "prod", AUDIT)
    result = store.write_collection(_collection(START + STEP, 3, True), "renamed-context", AUDIT)
    assert result.cluster == "prod" and result.written == len(SERIES)  # found by its UID, not by the name
    [identity] = store.cluster_identities()
    assert identity == {"cluster": "prod", "uid": "8d0c-uid", "context": "prod-ctx",
                        "server": "https://k8s.example:6443", "version": "v1.33.1", "distribution": "eks",
                        "provider": "aws"}  # fmt: skip
    counters = store.previous_counters("8d0c-uid")
    app = counters[("web", "front-1", "app")]
    assert app[:2] == (START + STEP, 1e9) and np.isnan(app[2]) and app[3] == 100.0
    w = store.window("prod", START - 1, START + DAY, Scope())
    [node] = w.nodes
    assert (node.name, node.instance_type, node.capacity_type, node.cpu_allocatable) == ("node-0", "m6i.xlarge",
                                                                                        "on-demand", 3.9)  # fmt: skip
    assert (node.first_seen, node.last_seen) == (START, START + STEP)
    front = w.workloads[("web", "Deployment", "front")]
    assert front.replicas == 2 and dict(front.labels) == {"tier": "web"} and front.containers == ("app", "sidecar")
    assert front.hpa is not None and front.hpa.resources == ("cpu",) and [p.name for p in front.pdbs] == ["front-pdb"]
    assert w.workloads[("jobs", "CronJob", "nightly")].pdbs == ()
    assert w.events.oom_kills == {("web", "Deployment", "front", "app"): (1_780_048_800,)}
    assert w.events.restarts[("web", "Deployment", "front", "app")] == 3  # max - min over the container's pods
    assert w.events.containers_per_pod[("web", "Deployment", "front")] == 2
    web = store.window("prod", START - 1, START + DAY, Scope(selector="tier=web")).usage
    assert set(web.containers["workload"]) == {"front"}
    with pytest.raises(UsageError):  # a UID already stored under another name
        other = _collection(START, 0, False)
        other.identity = Identity("other-uid", "x", "https://x", "v1", "kind", None)
        store.write_collection(other, "prod", AUDIT)


def test_changes_are_recorded_before_and_after_and_listed_newest_first(store: Store) -> None:
    change = ChangeRecord(run="r1", cluster="prod", context="ctx", kube_user="me", os_user="tester", namespace="web",
                          kind="Deployment", name="front", action="rightsize", before={"replicas": 2},
                          after={"replicas": 2, "containers": {"app": {"cpu_request": 0.2}}})  # fmt: skip
    first = store.begin_change(change)
    second = store.begin_change(ChangeRecord(**{**change.__dict__, "name": "back", "cluster": "other"}))
    store.end_change(first, "applied", None, {"replicas": 2, "containers": {"app": {"cpu_request": 0.25}}})
    store.end_change(second, "failed", "forbidden")
    listed = store.changes()
    assert [(c.id, c.name, c.status, c.message) for c in listed] == [(second, "back", "failed", "forbidden"),
                                                                     (first, "front", "applied", None)]  # fmt: skip
    assert listed[1].after["containers"]["app"]["cpu_request"] == 0.25 and listed[1].finished_at is not None
    assert [c.id for c in store.changes(cluster="prod")] == [first]
    logged = [e for e in store.audit_log(10) if e.command.startswith("optimize ")]
    assert [(e.result, e.cluster) for e in logged] == [("failed", "other"), ("applied", "prod")]


def test_cleanup_keeps_the_retention_and_says_what_it_removed(store: Store) -> None:
    """90 days, hourly: a cleanup to 10 days keeps every sample of the last 10 days and removes all of those more
    than a month older still (a backend may drop whole months); what it says it removed is what is gone."""
    store.write(batch(samples=90 * 24, step=3600, series=SERIES[:1]), AUDIT)
    store.write(batch(samples=90 * 24, step=3600, series=SERIES[:1], cluster="beta"), AUDIT)
    last = START + (90 * 24 - 1) * 3600
    dry = store.cleanup(10, AUDIT, now=last + DAY, dry_run=True)
    assert store.status().samples == 2 * 90 * 24  # a dry run changes nothing
    removed = store.cleanup(10, AUDIT, now=last + DAY)
    assert removed == dry and set(removed) == {"alpha", "beta"}
    for c in store.status().clusters:
        assert c.samples == 90 * 24 - removed[c.name].samples
        assert c.first is not None and last - 41 * DAY <= c.first <= last - 10 * DAY + 3600
    assert store.cleanup(10, AUDIT, now=last + DAY)["alpha"].samples == 0  # nothing more to remove


def test_query_reads_the_usage_view_and_refuses_writes(store: Store) -> None:
    store.write(batch(), AUDIT)
    result = store.query("SELECT cluster, count(*) AS n, max(memory_bytes) AS top FROM usage GROUP BY cluster")
    assert result.columns == ["cluster", "n", "top"]
    b = batch()
    assert result.rows == [("alpha", len(b), int(b.mem_kib.max()) * 1024)]
    with pytest.raises(UsageError):
        store.query("DELETE FROM series")
    assert store.status().samples == len(b)


def test_export_and_verify(store: Store, tmp_path: Path) -> None:
    import duckdb

    b = batch(samples=400)
    store.write(b, AUDIT)
    done = store.export(tmp_path / "out", overwrite=False)
    assert done["samples"] == len(b) and done["files"] >= 2  # one per cluster and day at least
    n, cpu = (
        duckdb.connect()
        .execute(f"SELECT count(*), sum(cpu_cores) FROM read_parquet('{tmp_path / 'out'}/**/*.parquet')")
        .fetchone()
    )
    assert n == len(b) and cpu == pytest.approx(b.cpu_m.sum() / 1000)
    checked = store.verify()
    assert checked["problems"] == [] and checked["samples"] == len(b)


def test_hourly_windows_answer_alike_before_and_after_compact(store: Store) -> None:
    b = batch(samples=600, step=60)  # ten hours of one-minute samples
    store.write(b, AUDIT)
    scope = Scope(resolution="hour")
    before = store.window("alpha", START - 1, START + DAY, scope)
    done = store.compact(AUDIT)  # a backend may keep a head it rolls up at read time (DuckDB's)
    assert done["samples"] in (0, len(b)) and done["hourly_rows"] in (0, len(SERIES) * 10)
    after = store.window("alpha", START - 1, START + DAY, scope)
    for w in (before, after):
        assert w.hours is not None and int(w.hours.count.sum()) == len(b) and len(w.usage.ts) == len(SERIES) * 10
        assert w.hours.cpu_peak.max() == b.cpu_m.max() / 1000  # exact peaks, not bucket edges
    np.testing.assert_array_equal(before.usage.cpu, after.usage.cpu)
    assert before.hours is not None and after.hours is not None
    for key, counts in before.hours.cpu.items():
        np.testing.assert_array_equal(counts, after.hours.cpu[key])
    assert store.compact(AUDIT)["hourly_rows"] == 0  # nothing waits any more


def test_alert_states_are_kept_by_fingerprint_and_inactive_ones_are_not_read(store: Store) -> None:
    def state(fp: str, value: float, state: str = "firing") -> dict:
        fired = 1_600 if state == "firing" else None
        return {"fingerprint": fp, "alert": "A", "cluster": "c1", "labels": {"alertname": "A", "ns": "x"},
                "annotations": {"summary": "s"}, "state": state, "active_since": 1_000, "value": value,
                "fired_at": fired, "resolved_at": None, "severity": "warning"}  # fmt: skip

    assert store.alert_states() == []
    store.save_alert_states([state("a" * 16, 1.0), state("b" * 16, 2.0, "pending")])
    store.save_alert_states([state("a" * 16, 3.5), state("b" * 16, 2.0, "inactive")])
    assert store.alert_states() == [state("a" * 16, 3.5)]
