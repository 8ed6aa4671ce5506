"""Secrets are never stored or printed: the audit log's command lines and error messages are redacted."""

from __future__ import annotations

import pytest

from upid import redact

SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--token", SECRET], ["--token", "***"]),
        ([f"--token={SECRET}"], ["--token=***"]),
        (["--password", SECRET, "--username", "bob"], ["--password", "***", "--username", "bob"]),
        (["--bearer-token", SECRET], ["--bearer-token", "***"]),
        (["--client-secret=" + SECRET], ["--client-secret=***"]),
        (["--token-file", "/run/token"], ["--token-file", "/run/token"]),  # a path, not a secret
        ([f"https://bob:{SECRET}@prom:9090/x"], ["https://bob:***@prom:9090/x"]),
        ([f"--store=postgresql://upid:{SECRET}@db:5432/upid"], ["--store=postgresql://upid:***@db:5432/upid"]),
        (
            [f"postgresql://db/upid?sslmode=require&password={SECRET}"],
            ["postgresql://db/upid?sslmode=require&password=***"],
        ),
        ([f"http://prom/api?access_token={SECRET}&x=1"], ["http://prom/api?access_token=***&x=1"]),
        (["analyze", "-n", "shop", "--history", "7d"], ["analyze", "-n", "shop", "--history", "7d"]),
    ],
)
def test_argv(args: list[str], expected: list[str]) -> None:
    assert redact.argv(args) == expected


def test_error_lines_mask_url_passwords(upid) -> None:
    """A failing command whose URL carries a password names the URL, masked."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connections are refused
    r = upid("storage", "import-prometheus", "--url", f"http://bob:{SECRET}@127.0.0.1:{port}", "--history", "1h")
    assert r.code != 0 and r.err.startswith("error: ") and SECRET not in r.err, r.err
    assert "bob:***@127.0.0.1" in r.err
