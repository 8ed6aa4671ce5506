"""A real PostgreSQL for the tests and benches: Debian's server (package postgresql), a fresh cluster in a temporary
directory, started on a free loopback port with password (SCRAM) authentication, as the unprivileged `postgres`
user when this process is root (the server refuses to run as root), and stopped and removed afterwards.

Not found: the tests that need it skip, unless UPID_REQUIRE_POSTGRES=1 (CI), where they fail.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from servers import stop

ADMIN = "upid_admin"


def server_bin() -> Path | None:
    """The newest installed server's bin folder (/usr/lib/postgresql/N/bin), or the one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    port: int
    password: str  # the admin's
    data: Path

    def dsn(self, user: str = ADMIN, database: str = "postgres") -> str:
        """A libpq URL without a password (pass it through PGPASSWORD or a .pgpass file, as users do)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def admin_env(self) -> dict[str, str]:
        return {"PGPASSWORD": self.password}


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


@contextlib.contextmanager
def running(bin_dir: Path) -> Iterator[Server]:
    root = Path(tempfile.mkdtemp(prefix="upid-pg-"))
    data, pwfile = root / "data", root / "pw"
    password = secrets.token_urlsafe(18)
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (root, pwfile):
            os.chown(path, user.pw_uid, user.pw_gid)
    pwfile.chmod(0o600)
    subprocess.run(
        _as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", ADMIN, "--pwfile", str(pwfile),
                         "--auth=scram-sha-256", "-E", "UTF8", "--no-instructions"]),
        check=True, capture_output=True,
    )  # fmt: skip
    pwfile.unlink()
    port = _free_port()
    log = root / "server.log"
    if os.geteuid() == 0:
        log.touch()
        os.chown(log, pwd.getpwnam("postgres").pw_uid, -1)
    proc = subprocess.Popen(
        _as_server_user([str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root),
                         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                         "-c", "full_page_writes=off", "-c", "max_connections=100"]),
        stdout=subprocess.DEVNULL, stderr=open(log, "ab"),  # noqa: SIM115
    )  # fmt: skip
    try:
        server = Server(port, password, data)
        _wait_ready(server, proc, log)
        yield server
    finally:
        stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(server: Server, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"postgres exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            psycopg.connect(server.dsn(), password=server.password, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            time.sleep(0.1)
    raise RuntimeError(f"postgres did not accept connections within {timeout:g} s: {log.read_text()[-2000:]}")
