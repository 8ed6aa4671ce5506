"""Start Debian's `prometheus` on a loopback port over a backfilled TSDB; optional basic auth and TLS through
its --web.config.file (the way a real deployment protects it)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from servers import stop

PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def backfill(openmetrics: Path, tsdb: Path) -> None:
    assert PROMTOOL, "promtool is not installed"
    r = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(openmetrics), str(tsdb)],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]


@contextmanager
def running(tsdb: Path, work: Path, web_config: str | None = None) -> Iterator[str]:
    """Prometheus serving `tsdb` (copied, so each server may compact its own); yields its URL."""
    assert PROMETHEUS, "prometheus is not installed"
    data = work / f"tsdb-{time.monotonic_ns()}"
    shutil.copytree(tsdb, data)
    config = work / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
    port = free_port()
    args = [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={data}", "--log.level=warn",
            f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y"]  # fmt: skip
    scheme = "http"
    if web_config:
        (work / "web.yml").write_text(web_config)
        args.append(f"--web.config.file={work / 'web.yml'}")
        scheme = "https" if "tls_server_config" in web_config else "http"
    log = (work / f"prometheus-{port}.log").open("w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    url = f"{scheme}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"prometheus exited: {(work / f'prometheus-{port}.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
                if scheme == "http" and not web_config:
                    urllib.request.urlopen(f"{url}/-/ready", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        stop(proc, timeout=20)
        log.close()
