"""`upid storage import-prometheus` against a real Prometheus (Debian's package, installed by .ci/run) whose TSDB
promtool backfilled from the bundled real trace, mapped to cAdvisor and kube-state-metrics series
(tests/prom/openmetrics.py). What upid stores is compared with what Prometheus answers to the same queries."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
import urllib.parse
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import pytest
from prom import server
from prom.openmetrics import write
from schemas import check

from upid.errors import ExitCode

STEP = 300
CPU = (
    'sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{container!="", container!="POD"}[5m]))'
)
MEMORY = 'max by (namespace, pod, container) (container_memory_working_set_bytes{container!="", container!="POD"})'


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not (server.PROMETHEUS and server.PROMTOOL):
        if os.environ.get("UPID_REQUIRE_PROMETHEUS"):
            pytest.fail("UPID_REQUIRE_PROMETHEUS is set but prometheus/promtool are not installed")
        pytest.skip("Debian's prometheus package is not installed (.ci/run installs it)")
    work = tmp_path_factory.mktemp("prometheus")
    info = write(work / "trace.om")
    server.backfill(work / "trace.om", work / "tsdb")
    return {**info, "tsdb": work / "tsdb", "work": work}


@pytest.fixture(scope="module")
def prom(data: dict[str, Any]):
    with server.running(data["tsdb"], data["work"]) as url:
        yield url


def _import(upid, url: str, data: dict[str, Any], *args: object) -> Any:
    return upid("storage", "import-prometheus", "--url", url, "--until", data["end"], "--cluster", "prod", *args)


def _ask(url: str, query: str, start: int, end: int) -> dict[tuple[str, str, str, int], float]:
    """Prometheus' own answer over HTTP, without upid's client."""
    body = urllib.parse.urlencode({"query": query, "start": start, "end": end, "step": STEP}).encode()
    with urllib.request.urlopen(f"{url}/api/v1/query_range", body, timeout=60) as r:
        result = json.loads(r.read())["data"]["result"]
    return {
        (s["metric"]["namespace"], s["metric"]["pod"], s["metric"]["container"], int(t)): float(v)
        for s in result
        for t, v in s["values"]
    }


def _half_up(x: float) -> int:
    return int(x + 0.5)


def _stored(upid, sql: str) -> list[list[Any]]:
    r = upid("storage", "query", sql, "-o", "json")
    assert r.code == 0, r.err
    return r.json()["rows"]


def test_imported_samples_equal_prometheus_answers(upid, prom, data) -> None:
    r = _import(upid, prom, data, "--history", "2d", "--max-series", "4", "--chunk", "12h", "-o", "json")
    assert r.code == 0, r.err
    doc = r.json()
    check(doc, "storage-import-prometheus")
    assert doc["containers"] == 10 and doc["query_groups"] == 3  # 3 namespaces, at most 4 containers per query
    assert doc["chunks"] in (4, 5) and doc["chunks_skipped"] == 0 and doc["queries"] == doc["chunks"] * 3 * 7
    end = data["end"] // STEP * STEP
    start = end - 2 * 86400 + STEP
    cpu, memory = _ask(prom, CPU, start, end), _ask(prom, MEMORY, start, end)
    want = {k: (_half_up(cpu[k] * 1000), _half_up(memory[k] / 1024)) for k in cpu.keys() & memory.keys()}
    rows = _stored(
        upid,
        "SELECT namespace, pod, container, epoch(timestamp)::BIGINT, round(cpu_cores * 1000), memory_bytes // 1024 "
        "FROM usage",
    )
    got = {(ns, pod, c, int(t)): (int(cpu_m), int(kib)) for ns, pod, c, t, cpu_m, kib in rows}
    assert len(want) > 5000 and got == want  # every sample Prometheus has, exactly, and nothing else
    assert doc["samples"] == doc["written"] == len(want)


def test_owners_nodes_requests_limits_and_oom_kills(upid, prom, data) -> None:
    assert _import(upid, prom, data, "--history", "2d").code == 0
    rows = _stored(upid, "SELECT DISTINCT namespace, workload_kind, workload, pod, node FROM series")
    got = {pod: (ns, kind, workload, node) for ns, kind, workload, pod, node in rows}
    assert got == {vm.pod: (vm.namespace, vm.kind, vm.workload, vm.node) for vm in data["vms"]}
    r = upid("analyze", "--cluster", "prod", "-o", "json")
    assert r.code == 0, r.err
    doc = r.json()
    victim = data["victim"]
    record = next(x for x in doc["recommendations"] if x["workload"] == victim.workload)
    assert record["current"]["memory_limit"] < record["usage"]["memory_max"]  # the limit below its peak
    kills = _stored(
        upid,
        "SELECT epoch(ts)::BIGINT FROM container_status JOIN series USING (series_id) "
        f"WHERE last_termination_reason = 'OOMKilled' AND pod = '{victim.pod}' ORDER BY 1",
    )
    stored = [int(k[0]) for k in kills]
    true = [k for k in data["kills"] if k > data["end"] - 2 * 86400]
    assert len(stored) == len(true) > 3
    assert all(0 <= s - k < 2 * STEP for s, k in zip(stored, true, strict=True))  # seen within the query window


def test_rerunning_fills_gaps_only(upid, prom, data) -> None:
    first = _import(upid, prom, data, "--history", "1d", "--chunk", "12h", "-o", "json").json()
    assert first["written"] > 0
    second = _import(upid, prom, data, "--history", "47h", "--chunk", "12h", "-o", "json").json()
    asked = second["chunks"] - second["chunks_skipped"]
    assert second["chunks_skipped"] >= 1 and second["queries"] == asked * 7  # the newest day's chunks are there
    assert second["written"] > 0 and second["samples"] > second["written"]  # what was there is not stored again
    again = _import(upid, prom, data, "--history", "47h", "--chunk", "12h", "-o", "json").json()
    assert again["chunks_skipped"] == again["chunks"] and again["queries"] == 0 and again["written"] == 0
    total = _stored(upid, "SELECT count(*) FROM usage")[0][0]
    assert total == first["written"] + second["written"]
    full = _import(upid, prom, data, "--history", "47h", "--chunk", "12h", "--cluster", "other", "-o", "json").json()
    assert full["written"] == total  # the same history as one import into an empty cluster


def test_namespaces_and_matchers_narrow_the_import(upid, prom, data) -> None:
    doc = _import(upid, prom, data, "--history", "1d", "-n", "shop", "-o", "json").json()
    shop = [vm for vm in data["vms"] if vm.namespace == "shop"]
    assert doc["containers"] == len(shop)
    assert {r[0] for r in _stored(upid, "SELECT DISTINCT namespace FROM usage")} == {"shop"}
    r = _import(upid, prom, data, "--history", "1d", "--match", 'job="nothing-here"')
    assert r.code == ExitCode.NO_DATA and prom in r.err and r.err.count("\n") == 1


def test_unreachable_and_bad_urls(upid, data) -> None:
    url = f"http://127.0.0.1:{server.free_port()}"
    r = _import(upid, url, data, "--history", "1d")
    assert r.code == ExitCode.PROMETHEUS == 18
    assert r.err.startswith(f"error: Prometheus at {url} did not answer: connection refused")
    assert _import(upid, "prometheus:9090", data).code == ExitCode.USAGE


def _no_secret_stored(home: Path, secret: bytes) -> None:
    """Not one byte of any store file holds the secret (the audit log records the command line redacted)."""
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files and not [p for p in files if secret in p.read_bytes()]


def test_basic_auth(upid, data, home: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import crypt  # bcrypt, as Prometheus' web config wants it (deprecated, still in 3.11 and 3.12)

        hashed = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH))
    with server.running(data["tsdb"], data["work"], f"basic_auth_users:\n  upid: '{hashed}'\n") as url:
        r = _import(upid, url, data, "--history", "1d")
        assert r.code == ExitCode.UNAUTHORIZED and "401" in r.err and url in r.err and "--username" in r.err
        r = _import(upid, url, data, "--history", "1d", "--username", "upid", "--password", "wrong")
        assert r.code == ExitCode.UNAUTHORIZED
        r = _import(upid, url, data, "--history", "1d", "--username", "upid", "--password", "s3cret", "-o", "json")
        assert r.code == 0, r.err
        assert r.json()["written"] > 0
    log = upid("storage", "audit-log", "-o", "json").out
    assert '"--password",\n          "***"' in log
    _no_secret_stored(home, b"s3cret")


def test_tls_with_a_ca_file_or_without_verification(upid, data, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    web = f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
    with server.running(data["tsdb"], data["work"], web) as url:
        r = _import(upid, url, data, "--history", "1d")
        assert r.code == ExitCode.PROMETHEUS and r.err.startswith(f"error: TLS error talking to {url}")
        assert "--certificate-authority" in r.err
        assert _import(upid, url, data, "--history", "1d", "--certificate-authority", cert).code == 0
        assert _import(upid, url, data, "--history", "1d", "--insecure-skip-tls-verify").code == 0


class _Proxy(http.server.ThreadingHTTPServer):
    """In front of Prometheus, as an auth proxy or a struggling load balancer is: checks a bearer token,
    and answers 503 to the first `fail` requests."""

    def __init__(self, target: str, token: str | None = None, fail: int = 0) -> None:
        self.target, self.token, self.fail, self.seen = target, token, fail, 0
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Proxy

    def log_message(self, *a: Any) -> None:
        pass

    def _forward(self) -> None:
        p = self.server
        p.seen += 1
        if p.token and self.headers.get("Authorization") != f"Bearer {p.token}":
            self._answer(401, b'{"status":"error","error":"bad token"}')
            return
        if p.seen <= p.fail:
            self._answer(503, b"overloaded")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
        request = urllib.request.Request(p.target + self.path, data=body, method=self.command)
        if body:
            request.add_header("Content-Type", self.headers.get("Content-Type", ""))
        with urllib.request.urlopen(request, timeout=60) as r:
            self._answer(r.status, r.read())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _forward


def test_bearer_token_from_a_file_and_retries(upid, prom, data, tmp_path: Path, home: Path) -> None:
    proxy = _Proxy(prom, token="t0ken", fail=0)
    try:
        (tmp_path / "token").write_text("t0ken\n")
        assert _import(upid, proxy.url, data, "--history", "1d", "--token-file", tmp_path / "token").code == 0
        assert _import(upid, proxy.url, data, "--history", "2d", "--token=t0ken").code == 0
        _no_secret_stored(home, b"t0ken")
        r = _import(upid, proxy.url, data, "--history", "1d", "--token", "wrong")
        assert r.code == ExitCode.UNAUTHORIZED and "bad token" in r.err
    finally:
        proxy.shutdown()
    flaky = _Proxy(prom, fail=2)  # two 503s, then answers: retried with backoff
    try:
        r = _import(upid, flaky.url, data, "--history", "1d", "-o", "json")
        assert r.code == 0, r.err
        assert r.json()["requests"] >= r.json()["queries"] + 2
    finally:
        flaky.shutdown()
    down = _Proxy(prom, fail=10**6)  # never recovers: a one-line error naming the URL and the status
    try:
        r = _import(upid, down.url, data, "--history", "1d")
        assert r.code == ExitCode.PROMETHEUS and f"{down.url}/api/v1/status/buildinfo answered 503" in r.err
    finally:
        down.shutdown()


def test_chunks_stay_under_the_points_limit_and_on_stable_boundaries() -> None:
    from upid.workflows.prometheus import MAX_POINTS, chunks_of, groups_of

    step = 300
    start, end = 1_000_000_200, 1_000_000_200 + 30 * 86400
    chunks = chunks_of(start, end, step, 86400)
    assert chunks[0][0] == start and chunks[-1][1] == end
    assert all(b + step == c for (_, b), (c, _) in zip(chunks, chunks[1:], strict=False))  # no gap, no overlap
    assert all((b - a) // step + 1 <= 86400 // step for a, b in chunks)
    assert all(a % 86400 == 0 for a, _ in chunks[1:])  # boundaries on whole days since the epoch
    assert chunks_of(start + step, end, step, 86400)[1:] == chunks[1:]  # another run cuts the same way
    huge = chunks_of(0, 365 * 86400, 60, 365 * 86400)
    assert max((b - a) // 60 + 1 for a, b in huge) <= MAX_POINTS < 11_000  # Prometheus' limit per series
    assert groups_of({"a": 300, "b": 250, "c": 200, "d": 900}, 500) == [["d"], ["a", "c"], ["b"]]


def test_the_same_import_into_postgresql(upid, prom, data, pg: str) -> None:
    """import-prometheus into a PostgreSQL store stores what it stores into DuckDB: samples, owners, OOM kills."""
    for store in ((), ("--store", pg)):
        r = _import(upid, prom, data, "--history", "2d", *store)
        assert r.code == 0, r.err
    sql = ("SELECT namespace, workload_kind, workload, pod, container, count(*), sum(memory_bytes), "
           "round(sum(cpu_cores) * 1000) FROM usage GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5")  # fmt: skip
    duck, post = (upid("storage", "query", sql, "-o", "json", *store).json()["rows"] for store in ((), ("--store", pg)))
    assert len(duck) == 10 and post == duck
    kills = "SELECT count(*) FROM container_status WHERE last_termination_reason = 'OOMKilled'"
    assert _stored(upid, kills) == upid("storage", "query", kills, "-o", "json", "--store", pg).json()["rows"]
    analyses = [upid("analyze", "--cluster", "prod", "-o", "json", *store).json() for store in ((), ("--store", pg))]
    assert analyses[0] == analyses[1]
