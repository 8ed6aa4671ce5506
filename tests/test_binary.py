"""Smoke tests of the PyInstaller builds (build/build.sh): the frozen program starts, finds its bundled data
(the demo sample, the price lists, the report's assets), runs scikit-learn, and collects from a cluster."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from binaries import ONEDIR, ONEFILE, require
from conftest import process_env

from upid import __version__


@pytest.fixture(params=["onefile", "onedir"])
def binary(request) -> Path:
    return require(ONEFILE if request.param == "onefile" else ONEDIR)


def _run(binary: Path, home: Path, *args: object, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *map(str, args)], capture_output=True, text=True, env=process_env(home), timeout=timeout
    )


def test_version_names_the_commit_and_help_lists_the_commands(binary: Path, home: Path) -> None:
    r = _run(binary, home, "--version")
    assert r.returncode == 0 and r.stdout.startswith(f"upid {__version__} (commit ") and r.stderr == ""
    r = _run(binary, home, "--help")
    assert r.returncode == 0 and all(c in r.stdout for c in ("analyze", "optimize", "storage", "report"))
    r = _run(binary, home, "analyze", "--no-such-flag")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr


def test_demo_forecast_and_report_run_frozen(binary: Path, home: Path, tmp_path: Path) -> None:
    r = _run(binary, home, "demo", "-o", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert len(doc["recommendations"]) == 50 and doc["summary"]["monthly_savings"]["total"] > 0
    store = home / "demo" / "upid.duckdb"
    r = _run(binary, home, "forecast", "--store", store, "--horizon", "2h", "-o", "json")  # scikit-learn, frozen
    assert r.returncode == 0, r.stderr
    assert {f["model"] for f in json.loads(r.stdout)["forecasts"]} & {"gbm-quantile"}
    page = tmp_path / "r.html"
    r = _run(binary, home, "report", "--store", store, "--html", page, "--charts", "3")
    assert r.returncode == 0, r.stderr
    assert "<svg" in page.read_text() and "function filter" in page.read_text()  # charts and the inline script


def test_collect_from_a_cluster(binary: Path, home: Path, kube) -> None:
    r = _run(binary, home, "storage", "collect", "--kubeconfig", kube.kubeconfig, "-o", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["collections"][0]["pods"] == len(kube.cluster.pods)
    status = json.loads(_run(binary, home, "storage", "status", "-o", "json").stdout)
    assert status["samples"] > 0
    r = _run(binary, home, "storage", "query", "SELECT TIMESTAMPTZ '2020-01-01 00:00:00+00' AS t", "-o", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["rows"] == [["2020-01-01 00:00:00+00:00"]], r.stderr
    r = _run(binary, home, "storage", "collect", "--kubeconfig", home / "missing")
    assert r.returncode == 11 and r.stderr.startswith("error: ")  # a broken kubeconfig, one line, its own code


def test_serve_runs_frozen(binary: Path, home: Path) -> None:
    """uvicorn and Starlette, frozen: the API, /metrics and the export answer from the binary."""
    import orjson
    from serving import serving

    from upid.workflows.demo import sample_path

    assert _run(binary, home, "storage", "import", sample_path(), "--cluster", "demo").returncode == 0
    with serving(home, program=[str(binary)]) as s:
        assert s.get("/healthz")[0] == 200 and s.get("/readyz")[0] == 200
        assert len(s.json("/api/v1/analyze")["recommendations"]) == 50
        code, _, metrics = s.get("/metrics")
        assert code == 200 and b"upid_container_cpu_request_recommended_cores{" in metrics
        code, _, parquet = s.get("/api/v1/export?cluster=demo")
        assert code == 200 and parquet[:4] == b"PAR1" and parquet[-4:] == b"PAR1"
        assert orjson.loads(s.get("/api/v1/analyze?bogus=1")[2]) == {"error": "unknown parameter 'bogus'; allowed: "
                                                                     "cluster, namespace, selector, history, until, "
                                                                     "resolution, strategy"}  # fmt: skip
