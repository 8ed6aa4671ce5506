"""`upid alerts`: rules files checked line by line; each kind against results computed here from the data; for:
across runs with a moving clock (--until), the state in the store; delivery to a real Alertmanager (Debian's
prometheus-alertmanager, on a free loopback port), with a resolved alert's endsAt and retries past a 503."""

from __future__ import annotations

import os

import pytest
from schemas import check

from upid.errors import ExitCode
from upid.units import iso, parse_timestamp

DAY = 86400


@pytest.fixture
def demo(upid):
    from upid.workflows.demo import sample_path

    assert upid("storage", "import", sample_path(), "--cluster", "demo").code == 0


@pytest.fixture
def am(tmp_path):
    import alertmanager

    if not alertmanager.ALERTMANAGER:
        if os.environ.get("UPID_REQUIRE_ALERTMANAGER"):
            pytest.fail("UPID_REQUIRE_ALERTMANAGER is set but prometheus-alertmanager is not installed")
        pytest.skip("no prometheus-alertmanager here (.ci/run installs it)")
    with alertmanager.running(tmp_path / "am") as url:
        yield url


def _rules(tmp_path, body: str, name: str = "rules.yaml"):
    path = tmp_path / name
    path.write_text("groups:\n  - name: t\n    rules:\n" + body)
    return path


def _alerts(upid, *args):
    r = upid("alerts", *args, "-o", "json")
    assert r.code in (0, ExitCode.ALERTS_FIRING), r.err
    doc = r.json()
    check(doc, "alerts")
    return doc


def test_rules_files_are_checked_line_by_line(upid, tmp_path) -> None:
    assert upid("alerts", "test", tmp_path / "missing.yaml").code == ExitCode.INPUT
    bad = _rules(
        tmp_path,
        """      - alert: A
        kind: oom_risk
        params: {margin: 5}
      - alert: B
        kind: nonsense
      - alert: C
        expr: up == 0
        kind: idle
        for: soon
        annotations: {summary: "{{ $labels.x | title }}"}
""",
    )
    r = upid("alerts", "test", bad)
    assert r.code == ExitCode.USAGE
    lines = r.err.strip().splitlines()
    assert any(":4: unknown parameter 'margin'" in x for x in lines)
    assert any(":7: unknown kind 'nonsense'" in x for x in lines)
    assert any(":9: expr is Prometheus'" in x for x in lines) and any(":9: for must be a duration" in x for x in lines)
    assert any("unknown template {{ $labels.x | title }}" in x for x in lines)
    assert all(x.startswith("error: ") for x in lines)
    from importlib import resources

    default = resources.files("upid.data") / "alerts" / "default.yaml"
    r = upid("alerts", "test", str(default))
    assert r.code == 0 and "7 rules, 0 budgets, valid" in r.out
    assert upid("alerts", "test", _rules(tmp_path, "  - [", "broken.yaml")).code == ExitCode.USAGE


def test_idle_and_waste_are_what_the_analysis_says(upid, demo, tmp_path) -> None:
    rules = _rules(
        tmp_path,
        """      - alert: Idle
        kind: idle
        params: {min_hours: 48}
      - alert: Waste
        kind: waste
        params: {per: workload, min_monthly: 40}
""",
    )
    doc = _alerts(upid, "--rules", rules)
    analysis = upid("analyze", "-o", "json").json()
    idle = {
        i["workload"]: i["monthly_savings"] for i in analysis["idle"] if i["kind"] == "idle" and i["idle_hours"] >= 48
    }
    fired = {a["labels"]["workload"]: a["value"] for a in doc["alerts"] if a["alert"] == "Idle"}
    assert fired == idle and fired
    per_workload: dict[str, float] = {}
    for r in analysis["recommendations"]:
        per_workload[r["workload"]] = per_workload.get(r["workload"], 0) + r["counted_monthly_savings"]
    expected = {w: round(v, 2) for w, v in per_workload.items() if v >= 40}
    assert {a["labels"]["workload"]: a["value"] for a in doc["alerts"] if a["alert"] == "Waste"} == expected
    assert all(a["state"] == "firing" for a in doc["alerts"])  # no for: they fire at once


def _made(tmp_path, t0: int = 1_700_000_000 // DAY * DAY) -> tuple[object, int]:
    """Three workloads over 2 days from t0, 5-minute samples: `tight` uses 97 % of its memory limit at its peaks,
    `busy` is above its CPU request in 60 % of its samples, `calm` neither (and requests 5 times what it uses)."""
    lines = ["timestamp,namespace,workload,pod,container,cpu_cores,memory_bytes,cpu_request_cores,cpu_limit_cores,"
             "memory_request_bytes,memory_limit_bytes"]  # fmt: skip
    for k in range(2 * 288):
        ts = t0 + k * 300
        lines.append(f"{ts},app,tight,tight-0,main,0.1,{970_000_000 if k % 10 == 0 else 500_000_000},0.5,1,"
                     f"1000000000,1000000000")  # fmt: skip
        lines.append(f"{ts},app,busy,busy-0,main,{0.8 if k % 5 < 3 else 0.2},300000000,0.5,4,400000000,1000000000")
        lines.append(f"{ts},app,calm,calm-0,main,0.1,100000000,0.5,1,400000000,1000000000")
    path = tmp_path / "made.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, t0 + 2 * 288 * 300 - 300


def test_oom_risk_cpu_starved_and_collect_stale_on_made_data(upid, tmp_path) -> None:
    path, last = _made(tmp_path)
    assert upid("storage", "import", path, "--cluster", "made").code == 0
    rules = _rules(
        tmp_path,
        """      - alert: Oom
        kind: oom_risk
        params: {margin_percent: 5}
      - alert: Cpu
        kind: cpu_starved
        params: {above_request_percent: 50}
      - alert: Stale
        kind: collect_stale
        params: {intervals: 3, interval: 5m}
""",
    )
    doc = _alerts(upid, "--rules", rules, "--until", iso(last + 60))
    by = {(a["alert"], a["labels"].get("workload")): a for a in doc["alerts"]}
    # p99 of tight's memory: 10 % of samples at 970 MB, so p99 = 970 MB = 0.97 of the limit
    assert (
        by[("Oom", "tight")]["value"] == pytest.approx(0.97)
        and by[("Oom", "tight")]["labels"]["reason"] == "near_limit"
    )
    assert by[("Cpu", "busy")]["value"] == pytest.approx(0.6, abs=0.01)
    assert {k for k in by} == {("Oom", "tight"), ("Cpu", "busy")}  # calm: nothing; the collect is fresh
    later = _alerts(upid, "--rules", rules, "--until", iso(last + 3600))
    stale = [a for a in later["alerts"] if a["alert"] == "Stale"]
    assert len(stale) == 1 and stale[0]["value"] == 3600 and stale[0]["labels"]["cluster"] == "made"


def test_for_is_kept_across_runs_with_a_moving_clock(upid, demo, tmp_path) -> None:
    def rules(minimum: int):
        return _rules(
            tmp_path,
            f"""      - alert: Waste
        kind: waste
        params: {{per: cluster, min_monthly: {minimum}}}
        for: 10m
        labels: {{severity: critical}}
        annotations: {{summary: "{{{{ $labels.cluster }}}} wastes {{{{ $value }}}}"}}
""",
            f"rules-{minimum}.yaml",
        )

    end = parse_timestamp(upid("storage", "status", "-o", "json").json()["clusters"][0]["last"])
    states = []
    for minutes in (0, 5, 10, 15):  # separate runs: the state lives in the store, not in the process
        doc = _alerts(upid, "--rules", rules(100), "--until", iso(end + minutes * 60))
        (a,) = doc["alerts"]
        states.append((a["state"], a["active_since"], a["fired_at"]))
    since = iso(end)
    assert states == [("pending", since, None), ("pending", since, None), ("firing", since, iso(end + 600)),
                      ("firing", since, iso(end + 600))]  # fmt: skip
    assert doc["alerts"][0]["annotations"]["summary"].startswith("demo wastes ")
    gone = _alerts(upid, "--rules", rules(10**9), "--until", iso(end + 20 * 60))  # no longer true
    assert [(a["state"], a["resolved_at"]) for a in gone["alerts"]] == [("resolved", iso(end + 20 * 60))]
    r = upid("alerts", "--rules", rules(100), "--until", iso(end + 25 * 60), "--fail-on", "critical")
    assert r.code == 0 and "Waste" in r.out and "pending" in r.out  # true again: pending anew, so no gate
    r = upid("alerts", "--rules", rules(100), "--until", iso(end + 35 * 60), "--fail-on", "critical")
    assert r.code == ExitCode.ALERTS_FIRING and r.err.startswith("error: 1 alert(s) of severity critical")


def test_delivered_to_alertmanager_resolved_with_ends_at_and_past_a_503(upid, tmp_path, am) -> None:
    """Alertmanager drops alerts whose endsAt has passed: this history ends now, so the alerts are current."""
    import time

    from alertmanager import Proxy, alerts

    path, _ = _made(tmp_path, int(time.time()) // 300 * 300 - 2 * DAY)
    assert upid("storage", "import", path, "--cluster", "made").code == 0

    def rules(minimum: float):
        return _rules(
            tmp_path,
            f"""      - alert: UpidWaste
        kind: waste
        params: {{per: namespace, min_monthly: {minimum}}}
        labels: {{severity: warning, team: platform}}
        annotations: {{summary: "{{{{ $labels.namespace }}}} could save {{{{ $value }}}}"}}
""",
            f"r{minimum}.yaml",
        )

    proxy = Proxy(am, failures=2)
    try:
        r = upid("alerts", "--rules", rules(1), "--alertmanager", proxy.url)
        assert r.code == 0, r.err
        assert proxy.statuses == [503, 503, 200]  # retried past the 503s
        (got,) = [a for a in alerts(am) if a["labels"]["alertname"] == "UpidWaste"]
        assert got["labels"] == {"alertname": "UpidWaste", "cluster": "made", "namespace": "app",
                                 "currency": "USD", "severity": "warning", "team": "platform"}  # fmt: skip
        assert got["annotations"]["summary"].startswith("app could save ")
        assert got["status"]["state"] == "active" and got["generatorURL"].startswith("http://127.0.0.1:8080/")
        r = upid("alerts", "--rules", rules(10**9), "--alertmanager", proxy.url, "-o", "json")
        assert r.code == 0, r.err
        (resolved,) = r.json()["alerts"]
        (sent,) = proxy.bodies[-1]
        assert sent["endsAt"] == resolved["resolved_at"] and sent["labels"]["alertname"] == "UpidWaste"
        assert not [a for a in alerts(am) if a["labels"]["alertname"] == "UpidWaste"]  # resolved: not active
    finally:
        proxy.close()
    refused = upid("alerts", "--rules", rules(1), "--alertmanager", "http://u:hunter2@127.0.0.1:9")
    assert refused.code == ExitCode.ALERT_DELIVERY and "hunter2" not in refused.err
    assert refused.err.startswith("error: cannot reach http://127.0.0.1:9/api/v2/alerts")


def test_anomaly_flags_the_newest_hour_far_from_its_own_hour(upid, tmp_path) -> None:
    t0 = 1_700_000_000 // DAY * DAY
    lines = ["timestamp,namespace,workload,pod,container,cpu_cores,memory_bytes"]
    steps = 7 * 288
    for k in range(steps):
        spike = k >= steps - 12  # the last hour: ten times the usual
        cpu = 2.0 if spike else 0.2 + 0.01 * ((k * 7) % 5)
        lines.append(f"{t0 + k * 300},app,jumpy,jumpy-0,main,{cpu},{100_000_000 + (k % 3) * 1_000_000}")
        lines.append(f"{t0 + k * 300},app,steady,steady-0,main,{0.2 + 0.01 * ((k * 3) % 5)},100000000")
    (tmp_path / "a.csv").write_text("\n".join(lines) + "\n")
    assert upid("storage", "import", tmp_path / "a.csv", "--cluster", "a").code == 0
    rules = _rules(tmp_path, "      - alert: Odd\n        kind: anomaly\n        params: {scope: workloads}\n")
    doc = _alerts(upid, "--rules", rules, "--history", "7d")
    assert [(a["labels"]["workload"], a["labels"]["resource"]) for a in doc["alerts"]] == [("jumpy", "cpu")]
    assert doc["alerts"][0]["value"] == pytest.approx(2.0)


def test_capacity_fires_below_its_days() -> None:
    from upid.alerting.kinds import Facts, capacity
    from upid.analysis.capacity import Trend

    def trend(scope: str, requests_full: float | None, usage_full: float | None) -> Trend:
        return Trend(scope, "", "cpu", 14, 1.0, 0.1, 2.0, 0.2, 10.0, usage_full, requests_full)

    facts = Facts("c", 0, capacity=[trend("cluster", 10.0, 40.0), trend("namespace", 1.0, 1.0)])
    got = [(i.labels["measure"], i.value) for i in capacity(facts, {"days": 14})]
    assert got == [("requests", 10.0)]  # usage in 40 days is past 14; a namespace trend is not the cluster's


def test_webhook_and_the_default_rules_on_a_collected_cluster_and_serve_shows_them(upid, kube, home, tmp_path) -> None:
    import time

    from alertmanager import Proxy
    from serving import serving

    for _ in range(2):
        assert upid("storage", "collect", "--kubeconfig", kube.kubeconfig).code == 0
    catcher = Proxy(None)
    try:
        rule = "      - alert: Stale\n        kind: collect_stale\n        labels: {severity: critical}\n"
        stale = _rules(tmp_path, rule + "        params: {intervals: 1, interval: 10s}\n", "stale.yaml")
        later = iso(int(time.time()) + 3600)
        r = upid("alerts", "--rules", stale, "--webhook", catcher.url, "--until", later)
        assert r.code == 0, r.err
        (body,) = catcher.bodies
        assert body["text"].startswith(":red_circle: [FIRING] Stale (critical)")
    finally:
        catcher.close()
    doc = _alerts(upid)  # the default rules, as they ship
    assert doc["rules"] == 7 and not doc["errors"]
    with serving(home) as s:
        metrics = s.get("/metrics")[2].decode()
    shown = [line for line in metrics.splitlines() if line.startswith("upid_alerts{")]
    assert len(shown) == sum(a["state"] in ("pending", "firing") for a in doc["alerts"])


EVERY_KIND = """      - {alert: Oom, kind: oom_risk, params: {margin_percent: 100}}
      - {alert: Cpu, kind: cpu_starved, params: {above_request_percent: 0, limit_percent: 0}}
      - {alert: Idle, kind: idle, params: {min_hours: 0, include_schedules: true}}
      - {alert: Waste, kind: waste, params: {per: namespace, min_monthly: 0}}
      - {alert: Stale, kind: collect_stale, params: {intervals: 1, interval: 1m}}
      - {alert: Cap, kind: capacity, params: {days: 100000}}
      - {alert: Odd, kind: anomaly, params: {scope: workloads}}
      - {alert: Budget, kind: budget, params: {monthly: 1, per: namespace}}
"""


def _spiked_history(kube, path) -> tuple[str, str]:
    """7 days of the test cluster's history, one single-pod workload's CPU at 3 times its request in the last
    hour (so it is both above its request and an anomaly); a few workloads idle. Returns the spiked workload."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from kube.history import write_history

    from upid.units import parse_quantity

    for w in kube.cluster.workloads[3:6]:
        w.idle = True
    write_history(kube.cluster, path, days=7)
    pod = next(p for p in kube.cluster.pods if p.owner_kind and not p.workload.idle
               and p.workload.replicas == 1 and p.namespace != "kube-system")  # fmt: skip
    t = pq.read_table(path)
    hit = pc.and_(pc.equal(t["pod"], pod.name), pc.greater_equal(t["timestamp"], kube.cluster.now - 3600))
    request = parse_quantity(pod.workload.resources[pod.workload.containers[0]]["requests"]["cpu"])
    cpu = pc.if_else(hit, 3 * request, t["cpu_cores"])
    pq.write_table(t.set_column(t.schema.get_field_index("cpu_cores"), "cpu_cores", pa.array(cpu)), path)
    return pod.namespace, pod.workload.name


def _query(upid, sql: str) -> list[dict]:
    doc = upid("storage", "query", "-o", "json", sql).json()
    return [dict(zip(doc["columns"], row, strict=True)) for row in doc["rows"]]


def test_every_kind_on_a_collected_cluster(upid, kube, tmp_path) -> None:
    """All eight kinds at once on a collected cluster with 7 days of history, each alert's value against what
    the store, analyze, forecast, top and cost say."""
    from budgeting import expected

    collected = upid("storage", "collect", "--kubeconfig", kube.kubeconfig, "-o", "json").json()
    cluster = collected["collections"][0]["cluster"]
    spiked = _spiked_history(kube, tmp_path / "history.parquet")
    assert upid("storage", "import", tmp_path / "history.parquet", "--cluster", cluster).code == 0
    last = parse_timestamp(upid("storage", "status", "-o", "json").json()["clusters"][0]["last"])
    until = iso(last + 120)
    doc = _alerts(upid, "--rules", _rules(tmp_path, EVERY_KIND), "--until", until)
    got: dict[str, dict[tuple, float]] = {}
    for a in doc["alerts"]:
        labels = {k: v for k, v in a["labels"].items() if k not in ("alertname", "cluster", "currency")}
        got.setdefault(a["alert"], {})[tuple(sorted(labels.items()))] = a["value"]
    assert all(a["state"] == "firing" for a in doc["alerts"]) and not doc["errors"]

    def key(**labels: object) -> tuple:
        return tuple(sorted((k, str(v)) for k, v in labels.items()))

    analysis = upid("analyze", "-A", "--until", until, "-o", "json").json()
    recs = {(r["namespace"], r["workload_kind"], r["workload"], r["container"]): r for r in analysis["recommendations"]}
    names = ("namespace", "workload_kind", "workload", "container")
    requests = ", ".join(f"('{ns}', '{w}', '{c}', {r['current']['cpu_request'] or 'NULL'})"
                         for (ns, _, w, c), r in recs.items())  # fmt: skip
    stats = _query(upid, f"""
        WITH r(namespace, workload, container, request) AS (VALUES {requests})
        SELECT u.namespace, u.workload_kind, u.workload, u.container,
               quantile_cont(u.memory_bytes, 0.99) AS m99, quantile_cont(u.cpu_cores, 0.95) AS c95,
               avg(CASE WHEN u.cpu_cores > r.request THEN 1.0 ELSE 0.0 END) AS above
        FROM usage u JOIN r USING (namespace, workload, container) GROUP BY ALL""")  # fmt: skip
    kills = _query(upid, """
        SELECT s.namespace, s.workload_kind, s.workload, s.container, count(DISTINCT c.last_termination_at) AS n
        FROM container_status c JOIN series s USING (series_id)
        WHERE c.last_termination_reason = 'OOMKilled' GROUP BY ALL""")  # fmt: skip
    killed = {tuple(k[n] for n in names): k["n"] for k in kills}
    oom, cpu = {}, {}
    for s in stats:
        k = tuple(s[n] for n in names)
        current, labels = recs[k]["current"], dict(zip(names, k, strict=True))
        if k in killed:
            oom[key(**labels, reason="oom_killed")] = killed[k]
        elif current["memory_limit"]:
            oom[key(**labels, reason="near_limit")] = round(s["m99"] / current["memory_limit"], 4)
        if current["cpu_request"] and s["above"] > 0:
            cpu[key(**labels, reason="above_request")] = round(s["above"], 4)
        elif current["cpu_limit"]:
            cpu[key(**labels, reason="throttling")] = round(s["c95"] / current["cpu_limit"], 4)
    assert got["Oom"] == pytest.approx(oom) and killed and len(oom) > len(killed)
    assert got["Cpu"] == pytest.approx(cpu)
    above = {dict(k)["workload"]: v for k, v in got["Cpu"].items() if ("reason", "above_request") in k}
    assert 0 < above[spiked[1]] < 0.02

    idle = {key(namespace=i["namespace"], workload_kind=i["workload_kind"], workload=i["workload"], finding=i["kind"]):
            float(i["monthly_savings"] or 0) for i in analysis["idle"]}  # fmt: skip
    assert got["Idle"] == idle and len(idle) >= 3
    waste: dict[tuple, float] = {}
    for r in analysis["recommendations"]:
        ns = key(namespace=r["namespace"])
        waste[ns] = waste.get(ns, 0) + r["counted_monthly_savings"]
    assert got["Waste"] == pytest.approx({k: round(v, 2) for k, v in waste.items() if v > 0})
    assert got["Stale"] == {(): 120}

    forecast = upid("forecast", "-A", "--until", until, "--horizon", "1h", "-o", "json").json()
    capacity = {key(resource=t["resource"], measure=m): t[f"days_until_{m}_full"]
                for t in forecast["capacity"] if t["scope"] == "cluster" for m in ("requests", "usage")
                if t[f"days_until_{m}_full"] is not None and t[f"days_until_{m}_full"] < 100000}  # fmt: skip
    assert got.get("Cap", {}) == capacity and capacity

    top = upid("top", "workloads", "--by", "hour", "--history", "14d", "--until", until, "-o", "json").json()
    odd = {key(namespace=r["namespace"], workload_kind=r["workload_kind"], workload=r["workload"], resource=res):
           r[res]["buckets"][-1]["mean"] for r in top["rows"] for res in ("cpu", "memory")
           if r[res]["anomalies"] and r[res]["anomalies"][-1] == r[res]["buckets"][-1]["start"]}  # fmt: skip
    assert got["Odd"] == pytest.approx(odd, rel=1e-3)
    assert any(("workload", spiked[1]) in k and ("resource", "cpu") in k for k in got["Odd"])

    namespaces = {r["namespace"] for r in analysis["recommendations"]}
    budgets = {key(budget="namespaces", namespace=ns): expected(upid, until, ns)["forecast"] for ns in namespaces}
    assert got["Budget"] == pytest.approx({k: round(v, 2) for k, v in budgets.items() if v >= 1}, abs=0.02)
