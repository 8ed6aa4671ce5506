"""The PostgreSQL store (#21, first part), against a real PostgreSQL (Debian's, started by tests/pg.py): the same
analysis as from DuckDB over the same imported history, idempotent writes, libpq's password conventions, no
password in any message, and a plain word for what it cannot do yet."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pg import Server

from upid.errors import ExitCode
from upid.workflows.demo import sample_path


def _json(upid, *args: object) -> dict:
    r = upid(*args, "-o", "json")
    assert r.code == 0, r.err
    return r.json()


def test_the_same_analysis_from_postgresql_and_from_duckdb(upid, pg: str, tmp_path: Path) -> None:
    duck = tmp_path / "duck.duckdb"
    for store in (pg, duck):
        r = upid("storage", "import", sample_path(), "--cluster", "bb", "--store", store)
        assert r.code == 0 and "201,175 samples" in r.err, r.err
    from_pg, from_duck = (_json(upid, "analyze", "--store", store) for store in (pg, duck))
    assert from_pg["summary"]["containers"] == 50
    assert from_pg == from_duck  # every recommendation, risk, amount and idle finding
    assert _json(upid, "idle", "--store", pg) == _json(upid, "idle", "--store", duck)
    assert _json(upid, "analyze", "-n", "bitbrains", "--history", "3d", "--store", pg) == _json(
        upid, "analyze", "-n", "bitbrains", "--history", "3d", "--store", duck
    )


def test_forecast_and_report_from_postgresql_are_duckdbs(upid, pg: str, tmp_path: Path) -> None:
    duck = tmp_path / "duck.duckdb"
    for store in (pg, duck):
        assert upid("storage", "import", sample_path(), "--cluster", "bb", "--store", store).code == 0
    args = ("forecast", "-n", "bitbrains", "--history", "7d", "--horizon", "1d")
    from_pg, from_duck = _both(upid, pg, duck, *args)
    assert from_pg == from_duck and from_pg["forecasts"]
    pages = []
    for store in (pg, duck):
        r = upid("report", "--html", "-", "--history", "7d", "--charts", "5", "--store", store)
        assert r.code == 0, r.err
        pages.append(r.out)
    import re

    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by upid")  # when the page was made
    assert stamp.sub("", pages[0]) == stamp.sub("", pages[1]) and "<html" in pages[0]


def test_writes_are_idempotent_and_counted(upid, pg: str) -> None:
    assert upid("storage", "import", sample_path(), "--store", pg).code == 0
    again = upid("storage", "import", sample_path(), "--store", pg)
    assert again.code == 0 and "0 samples" in again.err and "201,175 already stored" in again.err
    status = _json(upid, "storage", "status", "--store", pg)
    assert status["clusters"][0]["samples"] == 201_175
    from upid.store.postgres.migrations import latest

    assert os.environ["PGPASSWORD"] not in str(status) and status["schema_version"] == latest()
    log = _json(upid, "storage", "audit-log", "--store", pg)
    assert [e["command"] for e in log["entries"]][:2] == ["storage import", "storage import"]


def test_a_wrong_password_is_a_store_error_that_prints_no_password(upid, pg: str, monkeypatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "not-the-password")
    r = upid("storage", "status", "--store", pg)
    assert r.code == ExitCode.STORE_IO and r.err.startswith("error: cannot connect to the PostgreSQL store")
    assert "not-the-password" not in r.err and "Traceback" not in r.err
    inline = pg.replace("@", ":s3cret-in-url@", 1)  # a password in the URL is masked too
    r = upid("storage", "status", "--store", inline)
    assert r.code == ExitCode.STORE_IO and "s3cret-in-url" not in r.err and ":***@" in r.err


def _both(upid, pg: str, duck: Path, *args: object) -> tuple[dict, dict]:
    return _json(upid, *args, "--store", pg), _json(upid, *args, "--store", duck)


def test_collect_records_the_same_inventory_and_analysis_as_duckdb(upid, pg: str, kube, tmp_path: Path) -> None:
    """Collections into both stores from one cluster: the same identity, nodes, workloads, OOM kills, labels, and
    every analysis alike (the kubelet counters of the collection before give the same exact averages)."""
    from kube.model import STEP

    duck = tmp_path / "duck.duckdb"
    for _ in range(3):
        for store in (pg, duck):
            r = upid("storage", "collect", "--kubeconfig", kube.kubeconfig, "--store", store)
            assert r.code == 0, r.err
        kube.cluster.advance(STEP)
    sql = ("SELECT s.pod, c.restarts, c.last_termination_reason FROM container_status c JOIN series s "
           "USING (series_id) WHERE c.last_termination_reason IS NOT NULL")  # fmt: skip
    from_pg, from_duck = _both(upid, pg, duck, "storage", "query", sql)
    assert from_pg["rows"] == from_duck["rows"] == [[kube.cluster.pods[0].name, 2, "OOMKilled"]]
    nodes = "SELECT name, instance_type, region, capacity_type, cpu_allocatable FROM nodes ORDER BY name"
    from_pg, from_duck = _both(upid, pg, duck, "storage", "query", nodes)
    assert from_pg["rows"] == from_duck["rows"] and len(from_pg["rows"]) == 4
    identity = "SELECT uid, context, distribution, provider, version FROM cluster_identity"
    assert _both(upid, pg, duck, "storage", "query", identity)[0]["rows"][0][1:] == ["test", "gke", "gcp",
                                                                                  "v1.33.5-gke.1000"]  # fmt: skip
    for args in (("analyze",), ("analyze", "-l", "tier=web,app!=app-1"), ("idle",), ("cost",)):
        from_pg, from_duck = _both(upid, pg, duck, *args)
        assert from_pg == from_duck, args
    recs = _json(upid, "analyze", "-l", "tier=web", "--store", pg)["recommendations"]
    assert {r["workload"] for r in recs} == {w.name for w in kube.cluster.workloads if w.labels["tier"] == "web"}
    counters = _json(upid, "storage", "query", "SELECT count(*) FROM kubelet_counters", "--store", pg)["rows"]
    assert counters[0][0] > 0


def test_optimize_applies_records_and_rolls_back_on_postgresql(upid, pg: str, tmp_path: Path, monkeypatch) -> None:
    """The plan from PostgreSQL is the plan from DuckDB; apply, history and rollback keep their trail there."""
    from kube.history import write_history
    from kube.server import write_kubeconfig
    from test_optimize import LENIENT, _cluster, _resources, _server

    for k, v in LENIENT.items():
        monkeypatch.setenv(k, v)
    duck = tmp_path / "duck.duckdb"
    c = _cluster()
    history = write_history(c, tmp_path / "history.parquet", days=6)
    with _server(c) as server:
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig", {"test": server.url})))
        for store in (pg, duck):
            assert upid("storage", "collect", "--store", store).code == 0
            assert upid("storage", "import", history, "--cluster", "test", "--store", store).code == 0
        from_pg, from_duck = _both(upid, pg, duck, "optimize", "-n", "team-0")
        assert from_pg == from_duck and from_pg["changes"]
        before = json.loads(json.dumps(_resources(c, "app-6")))
        r = upid("optimize", "-n", "team-0", "--apply", "--yes", "-o", "json", "--store", pg)
        assert r.code == 0, r.err
        applied = r.json()["results"]
        assert {x["status"] for x in applied} == {"applied"}
        assert _resources(c, "app-6") != before
        history_doc = _json(upid, "optimize", "history", "--store", pg)["changes"]
        entry = next(h for h in history_doc if h["workload"] == "app-6")
        assert entry["status"] == "applied" and entry["context"] == "test" and entry["kube_user"] == "upid"
        r = upid("optimize", "rollback", "--last", "--yes", "-o", "json", "--store", pg)
        assert r.code == 0 and {x["status"] for x in r.json()["results"]} == {"applied"}, r.err
        assert _resources(c, "app-6") == before
        statuses = {h["workload"]: h["status"] for h in _json(upid, "optimize", "history", "--store", pg)["changes"]
                    if h["action"] != "rollback"}  # fmt: skip
        assert statuses["app-6"] == "rolled-back"
    log = [e["command"] for e in _json(upid, "storage", "audit-log", "--store", pg)["entries"]]
    assert set(log) >= {f"optimize {x['action']}" for x in applied} | {"optimize rollback"}
    assert _json(upid, "optimize", "history", "--store", duck)["changes"] == []  # DuckDB saw none of it


def _partitions(url: str, parent: str = "samples_day") -> list[str]:
    import psycopg

    with psycopg.connect(url) as con:
        rows = con.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                           "WHERE i.inhparent = %s::regclass ORDER BY 1", [f"upid.{parent}"]).fetchall()  # fmt: skip
    return [r[0] for r in rows]


def test_cleanup_drops_whole_monthly_partitions_and_deletes_no_row(upid, pg: str) -> None:
    """The sample holds 1,200 samples in July 2013 and 199,975 in August: a retention that reaches back past
    August 1 for every cluster drops the July partition; one cluster alone cannot drop a partition it shares."""
    for name in ("a", "b"):
        assert upid("storage", "import", sample_path(), "--cluster", name, "--store", pg).code == 0
    assert _partitions(pg) == ["samples_day_2013_07", "samples_day_2013_08"]
    tiers = ("--days-to-keep", "5", "--hourly-days-to-keep", "400", "--store", pg)
    shared = upid("storage", "cleanup", "--cluster", "a", "--yes", *tiers)
    assert shared.code == 0 and "nothing to remove" in shared.err, shared.err
    dry = upid("storage", "cleanup", "--dry-run", *tiers)
    assert dry.code == 0 and "cluster a: would remove 1,200 samples" in dry.err, dry.err
    assert len(_partitions(pg)) == 2
    r = upid("storage", "cleanup", "--yes", *tiers)
    assert r.code == 0 and "cluster b: removed 1,200 samples" in r.err, r.err
    assert _partitions(pg) == ["samples_day_2013_08"]
    assert _partitions(pg, "rollups_day") == ["rollups_day_2013_07", "rollups_day_2013_08"]  # kept 400 days
    hourly = upid("storage", "cleanup", "--yes", "--days-to-keep", "5", "--hourly-days-to-keep", "10", "--store", pg)
    assert hourly.code == 0 and "cluster a: removed 0 samples older than 5 days, 100 hourly rows older than 10" in \
        hourly.err, hourly.err  # fmt: skip
    assert _partitions(pg, "rollups_day") == ["rollups_day_2013_08"]
    status = _json(upid, "storage", "status", "--store", pg)
    assert [c["samples"] for c in status["clusters"]] == [199_975, 199_975]
    entries = [e for e in _json(upid, "storage", "audit-log", "--store", pg)["entries"] if e["command"] ==
               "storage cleanup"]  # fmt: skip
    assert [e["details"]["partitions_dropped"] for e in entries[:2]] == [["rollups_day_2013_07"],
                                                                         ["samples_day_2013_07"]]  # fmt: skip
    again = upid("storage", "import", sample_path(), "--cluster", "a", "--store", pg)  # July comes back: a partition
    assert again.code == 0 and "1,200 samples" in again.err and len(_partitions(pg)) == 2


def test_a_store_from_before_partitions_is_migrated_with_its_samples(upid, pg: str) -> None:
    import psycopg

    from upid.store.postgres import migrations

    with psycopg.connect(pg) as con:  # a store as the last release (schema 3) left it, one day row in it
        con.execute("CREATE SCHEMA upid")
        con.execute("CREATE TABLE upid.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                    "applied_at timestamptz NOT NULL DEFAULT now())")  # fmt: skip
        for number in range(1, 4):
            con.execute(migrations.MIGRATIONS[number][1])
            con.execute("INSERT INTO upid.schema_migrations (version, name) VALUES (%s, 'v')", [number])
        con.execute("INSERT INTO upid.clusters (name) VALUES ('old')")
        con.execute("INSERT INTO upid.series (cluster_id, namespace, workload_kind, workload, pod, container) "
                    "VALUES (1, 'ns', 'Deployment', 'web', 'web-1', 'app')")  # fmt: skip
        con.execute("INSERT INTO upid.samples_day VALUES (19000, 1, 1, '{1641600000,300}', '{100,5}', '{2048,0}', "
                    "NULL, NULL)")  # fmt: skip
    status = _json(upid, "storage", "status", "--store", pg)
    assert status["schema_version"] == migrations.latest()
    assert status["clusters"] == [{**status["clusters"][0], "cluster": "old", "samples": 2}]
    assert _partitions(pg) == ["samples_day_2022_01"]
    rows = _json(upid, "storage", "query", "SELECT cpu_cores, memory_bytes FROM usage ORDER BY 1", "--store", pg)
    assert rows["rows"] == [[0.1, 2048 * 1024], [0.105, 2048 * 1024]]


def test_hourly_rollups_give_the_duckdb_answer_before_and_after_compact(upid, pg: str, tmp_path: Path) -> None:
    """At hourly resolution PostgreSQL and DuckDB answer alike (every recommendation, risk and amount) whether
    the rollups are stored (compact) or rolled up at read time, and after new samples merge into a day."""
    import duckdb

    duck = tmp_path / "duck.duckdb"
    first, rest = tmp_path / "first.parquet", tmp_path / "rest.parquet"
    cut = f"(SELECT min(timestamp) FROM '{sample_path()}') + INTERVAL 7 DAY + INTERVAL 5 HOUR"
    for part, op in ((first, "<"), (rest, ">=")):
        duckdb.connect().execute(f"COPY (SELECT * FROM '{sample_path()}' WHERE timestamp {op} {cut}) TO '{part}'")
    for store in (pg, duck):
        assert upid("storage", "import", first, "--cluster", "bb", "--store", store).code == 0
    hourly = ("analyze", "--resolution", "hour")
    on_read = _both(upid, pg, duck, *hourly)
    assert on_read[0] == on_read[1] and on_read[0]["summary"]["containers"] == 50
    r = upid("storage", "compact", "--store", pg)
    assert r.code == 0, r.err
    assert _json(upid, *hourly, "--store", pg) == on_read[0]  # stored rollups: the same answer
    for store in (pg, duck):  # the rest of the month: the day at the cut is merged into, its hours rolled up again
        assert upid("storage", "import", rest, "--cluster", "bb", "--store", store).code == 0
    from_pg, from_duck = _both(upid, pg, duck, *hourly)
    assert from_pg == from_duck and from_pg["summary"]["samples"] > on_read[0]["summary"]["samples"]
    assert upid("storage", "compact", "--store", pg).code == 0
    assert _json(upid, *hourly, "--store", pg) == from_duck
    idle = _both(upid, pg, duck, "idle")
    assert idle[0] == idle[1]
    rows = _json(upid, "storage", "query", "SELECT count(*), sum(k) FROM rollups_day, unnest(n) AS k", "--store", pg)[
        "rows"
    ]
    assert rows[0][1] == 201_175  # every sample counted once in the rollups


def test_raw_cleanup_keeps_the_hourly_history_and_long_windows_read_it(upid, pg: str) -> None:
    assert upid("storage", "import", sample_path(), "--cluster", "bb", "--store", pg).code == 0
    before = _json(upid, "analyze", "--resolution", "hour", "--store", pg)
    r = upid("storage", "cleanup", "--days-to-keep", "3", "--yes", "--store", pg)  # July's raw partition goes
    assert r.code == 0 and "cluster bb: removed 1,200 samples older than 3 days" in r.err, r.err
    after = _json(upid, "analyze", "--history", "14d", "--store", pg)  # auto: before the raw tier -> hourly
    assert [r["recommended"] for r in after["recommendations"]] == [r["recommended"] for r in before["recommendations"]]
    assert after["summary"]["samples"] == before["summary"]["samples"]
    hourly = _json(upid, "storage", "query", "SELECT sum(k) FROM rollups_day, unnest(n) AS k", "--store", pg)["rows"]
    assert hourly == [[201_175]]  # rolled up before the raw partition was dropped


def test_export_writes_the_same_parquet_as_duckdb(upid, pg: str, tmp_path: Path) -> None:
    import duckdb

    duck = tmp_path / "duck.duckdb"
    for store, target in ((pg, "post"), (duck, "duck")):
        assert upid("storage", "import", sample_path(), "--cluster", "bb", "--store", store).code == 0
        r = upid("storage", "export", tmp_path / target, "--store", store)
        assert r.code == 0, r.err
    layouts = [sorted({f.parent.relative_to(tmp_path / d) for f in (tmp_path / d).rglob("*.parquet")})
               for d in ("post", "duck")]  # fmt: skip
    assert layouts[0] == layouts[1] and len(layouts[0]) == 15  # cluster=bb/day=2013-07-31 ... 2013-08-14
    columns = ("cluster, namespace, workload_kind, workload, pod, container, node, timestamp, cpu_cores, "
               "memory_bytes, network_rx_bytes_per_s, network_tx_bytes_per_s")  # fmt: skip
    read = [duckdb.connect().execute(f"SELECT {columns} FROM read_parquet('{tmp_path / d}/**/*.parquet') "
                                     "ORDER BY ALL").fetchall() for d in ("post", "duck")]  # fmt: skip
    assert len(read[0]) == 201_175 and read[0] == read[1]
    again = upid("storage", "export", tmp_path / "post", "--store", pg)
    assert again.code == ExitCode.USAGE and "not empty" in again.err


def test_verify_reads_every_day_row_and_names_a_damaged_one(upid, pg: str) -> None:
    import psycopg

    assert upid("storage", "import", sample_path(), "--store", pg).code == 0
    r = upid("storage", "verify", "--store", pg)
    assert r.code == 0 and "201,175 samples read: no damage found" in r.err, r.err
    with psycopg.connect(pg) as con:  # the admin breaks one row's arrays
        con.execute("UPDATE upid.samples_day SET cpu_m = cpu_m[1:3] WHERE (series_id, day) IN "
                    "(SELECT series_id, day FROM upid.samples_day ORDER BY series_id, day LIMIT 1)")  # fmt: skip
    r = upid("storage", "verify", "--store", pg)
    assert r.code == ExitCode.STORE_CORRUPT and "has arrays of different lengths" in r.err, r.err
    assert os.environ["PGPASSWORD"] not in r.err


def test_a_store_url_in_the_environment_and_a_path_flag(upid, pg: str, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("UPID_STORE", pg)
    assert upid("storage", "import", sample_path(), "--cluster", "env").code == 0
    assert _json(upid, "storage", "status")["clusters"][0]["cluster"] == "env"
    local = tmp_path / "local.duckdb"  # --store PATH wins over the URL from the environment
    assert upid("storage", "import", sample_path(), "--cluster", "file", "--store", local).code == 0
    assert [c["cluster"] for c in _json(upid, "storage", "status", "--store", local)["clusters"]] == ["file"]


def _login(server: Server, url: str, name: str) -> tuple[str, str]:
    """A login role the DBA creates (upid never handles its password): its URL and password."""
    import secrets

    import psycopg

    password = secrets.token_urlsafe(12)
    with psycopg.connect(server.dsn(), password=server.password, autocommit=True) as con:
        con.execute(f"DROP ROLE IF EXISTS {name}")
        con.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
        con.execute(f"GRANT CONNECT ON DATABASE {url.rsplit('/', 1)[1]} TO {name}")
    return url.replace(server.dsn().split("@")[0], f"postgresql://{name}", 1), password


def test_roles_writer_bound_to_its_cluster_and_a_reader_that_only_reads(upid, pg: str, pg_server: Server,
                                                                          monkeypatch) -> None:  # fmt: skip
    import psycopg

    assert upid("storage", "import", sample_path(), "--cluster", "b", "--store", pg).code == 0  # as the admin
    collector, collector_pw = _login(pg_server, pg, "collector_a")
    analyst, analyst_pw = _login(pg_server, pg, "analyst")
    r = upid("storage", "init", "--store", pg, "--writer", "collector_a=a", "--reader", "analyst")
    assert r.code == 0 and "1 writer and 1 reader" in r.err, r.err
    monkeypatch.setenv("PGPASSWORD", collector_pw)
    assert upid("storage", "import", sample_path(), "--cluster", "a", "--store", collector).code == 0
    denied = upid("storage", "import", sample_path(), "--cluster", "b", "--store", collector)
    assert denied.code == ExitCode.STORE_IO and "row-level security" in denied.err and collector_pw not in denied.err
    with psycopg.connect(collector, password=collector_pw) as con:  # it sees its own cluster's rows only
        assert con.execute("SELECT DISTINCT cluster_id FROM upid.series").fetchall() == [(2,)]
        assert con.execute("SELECT name FROM upid.clusters").fetchall() == [("a",)]
    seen = _json(upid, "storage", "query", "SELECT cluster, count(*) FROM usage GROUP BY 1", "--store", collector)
    assert seen["rows"] == [["a", 201_175]]  # the usage view runs with the login's rights: its rows only
    monkeypatch.setenv("PGPASSWORD", analyst_pw)
    everything = _json(upid, "storage", "query", "SELECT count(*) FROM usage", "--store", analyst)
    assert everything["rows"] == [[2 * 201_175]]
    mine = _json(upid, "analyze", "--cluster", "a", "--store", analyst)
    assert mine["summary"]["containers"] == 50
    assert _json(upid, "analyze", "--cluster", "b", "--store", analyst)["summary"] == mine["summary"]
    assert upid("storage", "import", sample_path(), "--cluster", "c", "--store", analyst).code == ExitCode.STORE_IO
    for sql in ("INSERT INTO upid.clusters (name) VALUES ('x')", "UPDATE upid.series SET node = 'x'",
                "DELETE FROM upid.samples_day", "CREATE TABLE upid.t (x int)", "DROP TABLE upid.resources",
                "SELECT * FROM upid.writer_clusters"):  # fmt: skip
        with psycopg.connect(analyst, password=analyst_pw) as con, pytest.raises(psycopg.errors.InsufficientPrivilege):
            con.execute(sql)


def test_a_writer_login_collects_its_own_cluster_only(upid, pg: str, pg_server: Server, kube,
                                                                    monkeypatch) -> None:  # fmt: skip
    """What the fleet overlay's CronJob (install/kubernetes/overlays/fleet) does, with the writer's credential."""
    assert upid("storage", "status", "--store", pg).code == 0  # the owner creates the schema
    collector, password = _login(pg_server, pg, "collector_prod")
    assert upid("storage", "init", "--store", pg, "--writer", "collector_prod=prod").code == 0
    monkeypatch.setenv("PGPASSWORD", password)
    for _ in range(2):
        r = upid("storage", "collect", "--kubeconfig", kube.kubeconfig, "--cluster", "prod", "--store", collector)
        assert r.code == 0, r.err
    r = upid("storage", "compact", "--store", collector)
    assert r.code == ExitCode.STORE_IO and "only the store's owner may do" in r.err, r.err
    other = upid("storage", "import", sample_path(), "--cluster", "staging", "--store", collector)
    assert other.code == ExitCode.STORE_IO and "row-level security" in other.err and password not in other.err
    denied = upid("storage", "cleanup", "--yes", "--days-to-keep", "1", "--store", collector)
    assert denied.code == ExitCode.STORE_IO and "only the store's owner may do" in denied.err, denied.err
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    assert upid("storage", "compact", "--store", pg).code == 0  # the owner's nightly job
    doc = _json(upid, "analyze", "--cluster", "prod", "--store", pg)
    assert doc["summary"]["containers"] > 0
    assert _json(upid, "storage", "status", "--store", pg)["clusters"][0]["cluster"] == "prod"


def test_init_prints_its_sql_without_connecting(upid) -> None:
    r = upid("storage", "init", "--print-sql", "--writer", "c1=prod", "--store", "postgresql://nobody@127.0.0.1:1/x")
    assert r.code == 0 and "CREATE POLICY writer_inserts ON upid.samples_day" in r.out
    assert 'GRANT upid_writer TO "c1"' in r.out and "ENABLE ROW LEVEL SECURITY" in r.out
    bad = upid("storage", "init", "--print-sql", "--writer", "c1")
    assert bad.code == ExitCode.USAGE


def test_storage_query_reads_only_and_is_bounded_in_time(upid, pg: str) -> None:
    assert upid("storage", "import", sample_path(), "--cluster", "bb", "--store", pg).code == 0
    ok = _json(
        upid, "storage", "query", "SELECT cluster, count(*), max(memory_bytes) FROM usage GROUP BY 1", "--store", pg
    )
    assert ok["rows"][0][:2] == ["bb", 201_175]
    for sql in ("INSERT INTO upid.clusters (name) VALUES ('x')", "DROP TABLE upid.series", "DELETE FROM upid.series"):
        r = upid("storage", "query", sql, "--store", pg)
        assert r.code == ExitCode.USAGE and "read-only" in r.err, r.err
    assert _json(upid, "storage", "status", "--store", pg)["clusters"][0]["samples"] == 201_175  # nothing changed
    slow = upid("storage", "query", "SELECT pg_sleep(30)", "--timeout", "1s", "--store", pg)
    assert slow.code == ExitCode.USAGE and "interrupted after 1 s" in slow.err
    bad = upid("storage", "query", "SELECT nope FROM usage", "--store", pg)
    assert bad.code == ExitCode.USAGE and "query failed" in bad.err


def test_twenty_collectors_and_five_analyses_at_once(upid, pg: str, home: Path, tmp_path: Path) -> None:
    """20 `storage collect` processes, one per test cluster (each its own API server), and 5 analyses, all at
    once against one PostgreSQL: no error, and every cluster's samples counted."""
    import contextlib
    import subprocess
    import sys

    import duckdb
    from kube.model import Cluster
    from kube.server import KubeServer, write_kubeconfig

    part = tmp_path / "two-days.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT * FROM '{sample_path()}' WHERE timestamp < (SELECT min(timestamp) FROM '{sample_path()}') "
        f"+ INTERVAL 2 DAY) TO '{part}' (FORMAT parquet)"
    )
    imported = duckdb.connect().execute(f"SELECT count(*) FROM '{part}'").fetchone()[0]
    assert upid("storage", "import", part, "--cluster", "c00", "--store", pg).code == 0
    env = {**os.environ, "UPID_HOME": str(home)}

    def start(*args: object) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "upid", *map(str, args), "--store", pg], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip

    clusters = [Cluster(pods=12, nodes=2, name=f"c{i:02d}") for i in range(1, 21)]
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(KubeServer(c)) for c in clusters]
        configs = [write_kubeconfig(tmp_path / f"kc{i}", {c.name: s.url})
                   for i, (c, s) in enumerate(zip(clusters, servers, strict=True))]  # fmt: skip
        procs = [start("storage", "collect", "--kubeconfig", kc, "--cluster", c.name)
                 for kc, c in zip(configs, clusters, strict=True)]  # fmt: skip
        procs += [start("analyze", "--cluster", "c00", "-o", "json") for _ in range(5)]
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
    status = {c["cluster"]: c["samples"] for c in _json(upid, "storage", "status", "--store", pg)["clusters"]}
    expected = {c.name: sum(len(p.workload.containers) for p in c.pods) for c in clusters}
    assert status == {"c00": imported, **expected} and min(expected.values()) > 0


def test_storage_copy_both_ways_is_idempotent_and_keeps_the_analysis(upid, pg: str, tmp_path: Path) -> None:
    duck, back = tmp_path / "laptop.duckdb", tmp_path / "back.duckdb"
    assert upid("storage", "import", sample_path(), "--cluster", "bb", "--store", duck).code == 0
    r = upid("storage", "copy", "--from", duck, "--to", pg)
    assert r.code == 0 and "cluster bb: 201,175 samples copied, 201,175 new" in r.err, r.err
    again = upid("storage", "copy", "--from", duck, "--to", pg)
    assert again.code == 0 and "201,175 samples copied, 0 new" in again.err
    assert upid("storage", "copy", "--from", pg, "--to", back, "--cluster", "bb").code == 0
    docs = [_json(upid, "analyze", "--store", store) for store in (duck, pg, back)]
    assert docs[0] == docs[1] == docs[2]
    assert upid("storage", "copy", "--from", pg, "--to", back, "--cluster", "nope").code == ExitCode.NO_DATA
    assert upid("storage", "copy", "--from", duck, "--to", duck).code == ExitCode.USAGE
