"""Debian's Alertmanager (prometheus-alertmanager) on a free loopback port, for the alert tests; and a proxy in
front of it that answers 503 a given number of times first, recording every body it is sent."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from prom.server import free_port
from servers import stop

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
CONFIG = """route:
  receiver: nobody
  group_wait: 1h
receivers:
  - name: nobody
"""


@contextmanager
def running(work: Path) -> Iterator[str]:
    assert ALERTMANAGER, "prometheus-alertmanager is not installed"
    work.mkdir(parents=True, exist_ok=True)
    (work / "alertmanager.yml").write_text(CONFIG)
    port = free_port()
    log = (work / "alertmanager.log").open("w")
    proc = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={work / 'alertmanager.yml'}", f"--storage.path={work / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("alertmanager did not start: " + (work / "alertmanager.log").read_text()[-2000:])
            time.sleep(0.1)
        yield url
    finally:
        stop(proc)
        log.close()


def alerts(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url + "/api/v2/alerts", timeout=10) as r:
        return list(orjson.loads(r.read()))


class Proxy:
    """Forwards POSTs to `upstream` (None: answers 200 itself) after answering 503 `failures` times; keeps each
    body it receives."""

    def __init__(self, upstream: str | None, failures: int = 0) -> None:
        self.upstream, self.failures, self.bodies, self.statuses = upstream, failures, [], []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.bodies.append(orjson.loads(body))
                if outer.failures > 0:
                    outer.failures -= 1
                    outer.statuses.append(503)
                    self.send_response(503)
                    self.end_headers()
                    return
                if outer.upstream is None:  # a webhook receiver: take it, forward nothing
                    outer.statuses.append(200)
                    self.send_response(200)
                    self.end_headers()
                    return
                req = urllib.request.Request(outer.upstream + self.path, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})  # fmt: skip
                with urllib.request.urlopen(req, timeout=10) as r:
                    outer.statuses.append(r.status)
                    self.send_response(r.status)
                    self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
