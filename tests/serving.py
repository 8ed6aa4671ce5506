"""`upid serve` as a real process (uvicorn on a free loopback port), for the tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from conftest import process_env
from servers import stop


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, token: str | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.url + path, method=method)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=120) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path: str, token: str | None = None) -> Any:
        code, _, body = self.get(path, token)
        assert code == 200, (code, body[:300])
        return orjson.loads(body)


@contextmanager
def serving(home: Path, *args: object, program: list[str] | None = None, **env: str) -> Iterator[Served]:
    """Start `upid serve --port 0 ARGS` (`program`: a built binary instead of this Python's upid), wait for its
    'serving on' line, stop it (SIGTERM) afterwards."""
    log = home.parent / f"serve-{time.monotonic_ns()}.log"
    home.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [*(program or [sys.executable, "-m", "upid"]), "serve", "--port", "0", *map(str, args)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=process_env(home, **env),
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            text = log.read_text(errors="replace")
            found = re.search(r"serving on (http://\S+)", text)
            if found:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"upid serve did not start (exit {proc.poll()}): {text}")
            time.sleep(0.05)
        yield Served(found.group(1), proc, log)
    finally:
        stop(proc)
        if os.environ.get("UPID_SERVE_LOG"):
            print(log.read_text(errors="replace"))
