"""What the tests' real servers (Prometheus, PostgreSQL) share."""

from __future__ import annotations

import subprocess


def stop(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Ask a server to stop (SIGTERM), and kill it if it has not within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
