"""`upid serve` as a real process (uvicorn on loopback): every API document is the command's `-o json` for the
same query and valid against its schema; /metrics passes promtool and carries the analysis' numbers; errors,
auth (a static token, and TokenReview/SubjectAccessReview against the test API server), export and pull, and
--collect-every against the test API server."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import orjson
import pytest
from schemas import check
from serving import serving
from test_report import browser  # noqa: F401  (the module-scoped headless Chromium)

from upid.errors import ExitCode

PARAMS = {  # endpoint -> (query string, the same question on the command line, its schema)
    "analyze": (
        "namespace=bitbrains&strategy=krr-simple", ["analyze", "-n", "bitbrains", "--strategy", "krr-simple"], "analyze"
    ),
    "idle": ("min_idle=12h", ["idle", "--min-idle", "12h"], "idle"),
    "cost": ("by=workload&window=7d", ["cost", "--by", "workload", "--window", "7d"], "cost"),
    "forecast": ("horizon=6h&history=7d", ["forecast", "--horizon", "6h", "--history", "7d"], "forecast"),
    "optimize": ("severity=ok&min_savings=5", ["optimize", "--severity", "ok", "--min-savings", "5"], "optimize-plan"),
    "storage/status": ("", ["storage", "status"], "storage-status"),
}  # fmt: skip


@pytest.fixture
def demo_store(upid, home):
    from upid.workflows.demo import sample_path

    assert upid("storage", "import", sample_path(), "--cluster", "demo").code == 0
    return home


def _metrics(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name, _, labels = head.partition("{")
        pairs = frozenset(tuple(p.split("=", 1)) for p in labels.rstrip("}").split(",") if p) if labels else frozenset()
        out[(name, frozenset((k, v.strip('"')) for k, v in pairs))] = float(value)
    return out


def test_every_api_document_is_the_commands_json_and_valid(upid, demo_store) -> None:
    with serving(demo_store) as s:
        for endpoint, (query, argv, schema) in PARAMS.items():
            doc = s.json(f"/api/v1/{endpoint}?{query}")
            cli = upid(*argv, "-o", "json")
            assert cli.code == 0, cli.err
            assert doc == cli.json(), endpoint
            check(doc, schema)
        spec = s.json("/openapi.json")
        assert set(spec["paths"]) >= {f"/api/v1/{e}" for e in PARAMS} | {"/metrics", "/", "/api/v1/export"}
        ref = spec["paths"]["/api/v1/analyze"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ref == {"$ref": "#/components/schemas/analyze"}


def test_bad_requests_get_a_status_and_one_line(demo_store) -> None:
    with serving(demo_store) as s:
        cases = {
            "/api/v1/analyze?bogus=1": 400,
            "/api/v1/analyze?history=forever": 400,
            "/api/v1/analyze?strategy=magic": 400,
            "/api/v1/analyze?cluster=a&cluster=b": 400,
            "/api/v1/forecast?horizon=30d": 400,
            "/api/v1/idle?min_confidence=2": 400,
            "/api/v1/analyze?cluster=nope": 404,
            "/api/v1/analyze?namespace=nowhere": 404,
            "/api/v1/export": 400,
            "/api/v1/export?cluster=nope": 404,
            "/api/v1/nothing": 404,
        }
        for path, want in cases.items():
            code, headers, body = s.get(path)
            assert code == want, (path, code, body)
            if path != "/api/v1/nothing":
                error = orjson.loads(body)["error"]
                assert "\n" not in error and len(error) < 300 and "Traceback" not in error
        assert s.get("/api/v1/analyze", method="POST")[0] == 405  # nothing writes
        assert s.get("/api/v1/analyze", method="DELETE")[0] == 405
        assert s.get("/healthz")[0] == 200 and s.get("/readyz")[0] == 200
    assert "Traceback" not in s.log.read_text()


def test_not_ready_without_a_store_and_a_port_in_use_is_an_error(home, upid) -> None:
    with serving(home) as s:
        assert s.get("/healthz")[0] == 200
        assert s.get("/readyz")[0] == 503
        assert s.get("/api/v1/analyze")[0] == 404  # no store yet: nothing to analyse
        port = s.url.rsplit(":", 1)[1]
        r = upid("serve", "--port", port)
        assert r.code == ExitCode.USAGE and r.err.startswith("error: cannot listen on 127.0.0.1:" + port)
    assert upid("serve", "--auth", "token").code == ExitCode.USAGE  # no --token-file
    assert upid("serve", "--auth", "magic").code == ExitCode.USAGE


def test_metrics_pass_promtool_and_carry_the_analysis(upid, demo_store) -> None:
    (demo_store / "config.toml").write_text('[[budgets]]\nname = "all"\nmonthly = 4000\n\n[[budgets]]\n'
                                            'namespace = "bitbrains"\nmonthly = 9000\n')  # fmt: skip
    with serving(demo_store) as s:
        code, headers, body = s.get("/metrics")
        assert code == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    promtool = shutil.which("promtool")
    if promtool:
        lint = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
        assert lint.returncode == 0, lint.stdout + lint.stderr
    elif os.environ.get("UPID_REQUIRE_PROMETHEUS"):
        pytest.fail("UPID_REQUIRE_PROMETHEUS is set but promtool is not installed")
    values = _metrics(text)
    doc = upid("analyze", "-o", "json").json()
    for r in doc["recommendations"]:
        key = frozenset((k, r[k]) for k in ("cluster", "namespace", "workload_kind", "workload", "container"))
        assert values[("upid_container_cpu_request_cores", key)] == r["current"]["cpu_request"]
        assert values[("upid_container_memory_request_recommended_bytes", key)] == r["recommended"]["memory_request"]
        severity = key | {("severity", r["severity"])}
        assert values[("upid_container_severity", severity)] == 1
    saved = sum(v for (name, _), v in values.items() if name == "upid_cluster_monthly_savings")
    assert saved == pytest.approx(doc["summary"]["monthly_savings"]["total"], abs=0.02)
    idle = [k for k in values if k[0] == "upid_workload_idle_confidence"]
    assert len(idle) == len(doc["idle"]) > 0
    status = upid("storage", "status", "-o", "json").json()
    assert values[("upid_store_samples", frozenset({("cluster", "demo")}))] == status["samples"]
    budgets = upid("cost", "-o", "json").json()["budgets"]
    assert len(budgets) == 2
    for b in budgets:
        scope = {("namespace", b["namespace"])} if b["namespace"] else set()
        key = frozenset({("cluster", "demo"), ("budget", b["name"]), ("currency", "USD"), *scope})
        assert values[("upid_budget_amount", key)] == b["budget"]
        for field in ("spent", "forecast", "pending_monthly_savings"):
            assert values[(f"upid_budget_{field}", key)] == b[field], field


def test_the_page_loads_in_chromium_with_no_errors_and_nothing_external(upid, demo_store, browser) -> None:  # noqa: F811
    doc = upid("analyze", "-o", "json").json()
    with serving(demo_store) as s:
        code, headers, _ = s.get("/")
        assert code == 200 and "default-src 'none'" in headers["content-security-policy"]
        browser.get_log("browser")
        browser.get(s.url + "/")
        assert str(doc["recommendations"][0]["workload"]) in browser.page_source
        errors = [m for m in browser.get_log("browser") if m["level"] in ("SEVERE", "WARNING")]
        assert not errors, errors
        fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert all(u.startswith((s.url, "data:")) for u in fetched), fetched


def test_token_auth_refuses_without_detail(tmp_path, demo_store) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token-value\n")
    with serving(demo_store, "--auth", "token", "--token-file", token_file) as s:
        for path in ("/api/v1/analyze", "/metrics", "/", "/api/v1/export?cluster=demo", "/openapi.json"):
            for token in (None, "wrong", "s3cret-token-valu"):
                code, headers, body = s.get(path, token)
                assert code == 401 and orjson.loads(body) == {"error": "unauthorized"}, (path, token)
                assert headers["www-authenticate"] == "Bearer"
        assert s.get("/api/v1/storage/status", "s3cret-token-value")[0] == 200
        assert s.get("/healthz")[0] == 200  # probes carry no token
    assert "s3cret" not in s.log.read_text()


def test_kubernetes_auth_asks_the_api_server(kube, demo_store) -> None:
    from kube.server import TOKEN

    b = kube.behaviour
    b.users = {"alice-token": ("alice", ["team-a"]), "bob-token": ("bob", []), "prom-token": ("prometheus", [])}
    b.grants = {"alice get upid.dev/reports in upid", "prometheus get /metrics"}
    with serving(demo_store, "--auth", "kubernetes", "--kubeconfig", kube.kubeconfig, "--auth-namespace", "upid") as s:
        assert s.get("/api/v1/storage/status", "alice-token")[0] == 200
        assert s.get("/api/v1/storage/status", "alice-token")[0] == 200  # the cached decision
        assert s.get("/api/v1/export?cluster=demo", "alice-token")[0] == 403  # exports are a resource of their own
        assert s.get("/metrics", "alice-token")[0] == 403
        assert s.get("/metrics", "prom-token")[0] == 200
        code, _, body = s.get("/api/v1/analyze", "bob-token")
        assert code == 403 and orjson.loads(body) == {"error": "forbidden"}
        assert s.get("/api/v1/analyze", "stolen-token")[0] == 401
        assert s.get("/api/v1/analyze")[0] == 401
        assert s.get("/healthz")[0] == 200
    reviews = [r for r in kube.server.requests if r.startswith("POST ")]
    tokens = [r for r in reviews if r.endswith("tokenreviews")]
    assert len(tokens) == 6  # alice (report, export, metrics: one each, the second report cached), prom, bob, stolen
    assert TOKEN not in s.log.read_text() and "alice-token" not in s.log.read_text()


def test_export_and_pull_round_trip_every_sample(upid, demo_store, tmp_path) -> None:
    from upid.settings import load_settings

    total = upid("storage", "status", "-o", "json").json()["samples"]
    laptop = tmp_path / "laptop.duckdb"
    with serving(demo_store) as s:
        first = upid("storage", "pull", s.url, "--cluster", "demo", "--store", laptop, "-o", "json")
        assert first.code == 0, first.err
        assert first.json()["clusters"][0]["written"] == total and first.json()["bad_rows"] == 0
        again = upid("storage", "pull", s.url, "--cluster", "demo", "--store", laptop, "-o", "json")
        assert again.json()["clusters"][0]["written"] == 0  # idempotent
        assert again.json()["clusters"][0]["already_stored"] == total
        since = "2013-08-10T00:00:00Z"
        part = upid("storage", "pull", s.url, "--cluster", "demo", "--since", since, "--store", tmp_path / "p.duckdb",
                    "-o", "json").json()  # fmt: skip
        assert 0 < part["clusters"][0]["samples"] < total
        bad = upid("storage", "pull", s.url, "--cluster", "nope", "--store", laptop)
        assert bad.code == ExitCode.REMOTE and "answered 404" in bad.err
    assert load_settings().home  # the laptop's store has the same analysis as the server's
    here = upid("analyze", "-o", "json").json()
    there = upid("analyze", "--store", laptop, "-o", "json").json()
    assert [r["recommended"] for r in here["recommendations"]] == [r["recommended"] for r in there["recommendations"]]
    gone = upid("storage", "pull", "http://127.0.0.1:9", "--cluster", "demo", "--store", laptop)
    assert gone.code == ExitCode.REMOTE and gone.err.startswith("error: cannot reach http://127.0.0.1:9/")


def test_collect_every_collects_on_a_timer_and_shows_it_in_metrics(kube, home) -> None:
    with serving(home, "--collect-every", "10s", "--kubeconfig", kube.kubeconfig, "--cluster", "test") as s:
        deadline = time.monotonic() + 60
        while True:
            code, _, body = s.get("/metrics")
            text = body.decode() if code == 200 else ""
            if "upid_collect_runs_total 1" in text or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        values = _metrics(text)
        assert values[("upid_collect_runs_total", frozenset())] >= 1
        assert values[("upid_collect_errors_total", frozenset())] == 0
        assert values[("upid_collect_samples_written_total", frozenset())] > 0
        assert values[("upid_collect_last_success_timestamp_seconds", frozenset())] > time.time() - 120
        status = s.json("/api/v1/storage/status")
        assert [c["cluster"] for c in status["clusters"]] == ["test"] and status["samples"] > 0


def test_collect_every_backs_off_on_failure(kube, home) -> None:
    kube.behaviour.denied = {"pods"}
    with serving(home, "--collect-every", "10s", "--kubeconfig", kube.kubeconfig) as s:
        deadline = time.monotonic() + 60
        values: dict = {}
        while time.monotonic() < deadline:
            values = _metrics(s.get("/metrics")[2].decode())
            if values.get(("upid_collect_errors_total", frozenset()), 0) >= 1:
                break
            time.sleep(0.2)
        assert values[("upid_collect_consecutive_failures", frozenset())] == 1
        assert ("upid_collect_last_success_timestamp_seconds", frozenset()) not in values
        wait = values[("upid_collect_next_run_timestamp_seconds", frozenset())] - time.time()
        assert 15 < wait <= 22  # twice the interval (with 10 % jitter) after one failure


def test_reads_while_the_collector_writes_never_fail(kube, home) -> None:
    """DuckDB lets one process hold a file read-only or read-write, not both: reads wait for the collector's
    write (and it for them) instead of failing, across two collects."""
    from concurrent.futures import ThreadPoolExecutor

    with serving(home, "--collect-every", "10s", "--kubeconfig", kube.kubeconfig, "--cluster", "test") as s:
        deadline = time.monotonic() + 60
        while s.get("/api/v1/storage/status")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        codes: list[int] = []
        until = time.monotonic() + 14  # past the second collect
        with ThreadPoolExecutor(4) as pool:
            while time.monotonic() < until:
                paths = ["/api/v1/storage/status", "/api/v1/analyze", "/api/v1/idle", "/metrics"]
                codes += [c for c, _, _ in pool.map(s.get, paths)]
        runs = _metrics(s.get("/metrics")[2].decode())[("upid_collect_runs_total", frozenset())]
    assert runs >= 2 and set(codes) == {200}, (runs, sorted(set(codes)))


def test_trust_loopback_lets_port_forward_in_and_nobody_else(tmp_path, demo_store) -> None:
    """kubectl port-forward arrives on the pod's 127.0.0.1: with --trust-loopback it needs no token; a caller
    from any other address (here 127.0.0.2, also the loopback device but not port-forward) still does."""
    import http.client

    token_file = tmp_path / "token"
    token_file.write_text("another-s3cret\n")
    args = ("--address", "0.0.0.0", "--auth", "token", "--token-file", token_file, "--trust-loopback")
    with serving(demo_store, *args) as s:
        port = int(s.url.rsplit(":", 1)[1])
        assert "loopback trusted" in s.log.read_text()

        def status(source: str, token: str | None = None) -> int:
            con = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
            con.request("GET", "/api/v1/storage/status", headers={"Authorization": f"Bearer {token}"} if token else {})
            code = con.getresponse().status
            con.close()
            return code

        assert status("127.0.0.1") == 200
        assert status("127.0.0.2") == 401
        assert status("127.0.0.2", "another-s3cret") == 200


def _asgi_get(app, path: str, query: str = "", on_start=None) -> tuple[int, bytes]:
    """One GET through the ASGI app itself, in this process: the status and the whole body; `on_start` is
    called when the status is sent, before the body."""
    import asyncio

    async def call() -> list[dict]:
        sent: list[dict] = []
        done = asyncio.Event()
        asked = False

        async def receive() -> dict:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # the client stays until the whole answer is in
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)
            if message["type"] == "http.response.start" and on_start:
                on_start()
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
                 "headers": [], "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080),
                 "root_path": ""}  # fmt: skip
        await app(scope, receive, send)
        return sent

    sent = asyncio.run(call())
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_a_busy_export_is_a_503_before_any_200_and_its_slot_comes_back(demo_store) -> None:
    """Every worker busy: the export answers 503 with Retry-After, not a 200 that ends empty; an unknown
    cluster is a 404; a finished or failed export gives its worker back."""
    from upid.server.app import Limits, ServerState, build
    from upid.server.auth import NoAuth
    from upid.settings import load_settings

    state = ServerState(load_settings(), NoAuth(), Limits(workers=1, queue_seconds=0.2))
    app = build(state)
    assert state.slots.acquire(timeout=1)  # the one worker busy elsewhere
    try:
        status, body = _asgi_get(app, "/api/v1/export", "cluster=demo")
        assert status == 503 and b"busy" in body
    finally:
        state.slots.release()
    assert _asgi_get(app, "/api/v1/export", "cluster=nope")[0] == 404
    held_at_200 = []

    def taken() -> None:  # another request arriving as the 200 goes out finds no free worker
        free = state.slots.acquire(blocking=False)
        held_at_200.append(not free)
        if free:
            state.slots.release()

    status, body = _asgi_get(app, "/api/v1/export", "cluster=demo", taken)
    assert status == 200 and body[:4] == b"PAR1" and body[-4:] == b"PAR1"
    assert held_at_200 == [True]
    assert state.slots.acquire(timeout=0.1)  # given back after the 404 and after the stream
    state.slots.release()
