"""A small Prometheus HTTP API client on urllib3: bearer token or basic auth, a CA file or no verification,
retries with exponential backoff on 429/5xx and connection errors, a timeout on every request."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from upid.errors import PrometheusError

RETRY_STATUSES = (429, 502, 503, 504)


@dataclass(frozen=True)
class Connection:
    url: str
    token: str | None = None
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    insecure: bool = False
    timeout: float = 60.0  # seconds, per request (Prometheus is also told, as its query timeout)
    retries: int = 3
    backoff: float = 0.5  # seconds before the first retry; doubled each time


class Prometheus:
    """Thread-safe: one connection pool shared by the importer's worker threads."""

    def __init__(self, conn: Connection, pool_size: int = 4) -> None:
        import urllib3

        self.conn = conn
        self.base = conn.url.rstrip("/")
        self.requests = 0  # HTTP requests made, retries included
        headers = {"Accept": "application/json", "User-Agent": "upid"}
        if conn.token:
            headers["Authorization"] = f"Bearer {conn.token}"
        elif conn.username is not None:
            headers.update(urllib3.make_headers(basic_auth=f"{conn.username}:{conn.password or ''}"))
        tls: dict[str, Any] = {}
        if self.base.startswith("https://"):
            if conn.insecure:
                tls = {"cert_reqs": "CERT_NONE", "assert_hostname": False}
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            else:
                tls = {"cert_reqs": "CERT_REQUIRED", **({"ca_certs": conn.ca_file} if conn.ca_file else {})}
        self._headers = headers
        self._http = urllib3.PoolManager(maxsize=pool_size, headers=headers, retries=False, **tls)

    def _call(self, method: str, path: str, fields: dict[str, Any]) -> Any:
        import orjson
        import urllib3

        url = f"{self.base}{path}"
        timeout = urllib3.Timeout(connect=min(10.0, self.conn.timeout), read=self.conn.timeout)
        delay = self.conn.backoff
        for attempt in range(self.conn.retries + 1):
            self.requests += 1
            last = attempt == self.conn.retries
            try:
                r = self._http.request(method, url, timeout=timeout, **_encoded(method, fields, self._headers))
            except urllib3.exceptions.SSLError as e:
                raise PrometheusError(
                    f"TLS error talking to {self.base}: {_reason(e)}",
                    hint="give the CA with --certificate-authority, or --insecure-skip-tls-verify",
                ) from e
            except (urllib3.exceptions.HTTPError, OSError) as e:
                if last:
                    raise PrometheusError(f"Prometheus at {self.base} did not answer: {_reason(e)}") from e
            else:
                if r.status == 200:
                    try:
                        body = orjson.loads(r.data)
                    except orjson.JSONDecodeError as e:
                        raise PrometheusError(f"{url} answered with something that is not JSON") from e
                    if body.get("status") != "success":
                        raise PrometheusError(f"{url}: {body.get('errorType')}: {body.get('error')}")
                    return body.get("data")
                if r.status not in RETRY_STATUSES or last:
                    raise PrometheusError(
                        f"{url} answered {r.status} {r.reason or ''}".rstrip() + _error_text(r.data),
                        hint=_hint(r.status),
                        status=r.status,
                    )
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def query_range(self, query: str, start: int, end: int, step: int) -> list[dict[str, Any]]:
        data = self._call(
            "POST",
            "/api/v1/query_range",
            {"query": query, "start": start, "end": end, "step": step, "timeout": f"{self.conn.timeout:g}s"},
        )
        return list(data.get("result") or []) if isinstance(data, dict) else []

    def series(self, match: str, start: int, end: int) -> list[dict[str, str]]:
        data = self._call("POST", "/api/v1/series", {"match[]": match, "start": start, "end": end})
        return list(data or [])

    def check(self) -> str:
        """Prometheus' version, asked once before the import (and a first test of the URL and credentials)."""
        data = self._call("GET", "/api/v1/status/buildinfo", {})
        return str((data or {}).get("version", "unknown"))


def _encoded(method: str, fields: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """A POST sends the form in the body (long PromQL never meets a URL length limit); a GET in the query.
    Headers given to a request replace the pool's, so the auth headers go again."""
    if method == "GET":
        return {"fields": fields}
    from urllib.parse import urlencode

    return {"body": urlencode(fields), "headers": {**headers, "Content-Type": "application/x-www-form-urlencoded"}}


def _reason(e: BaseException) -> str:
    reason = getattr(e, "reason", None) or e
    text = str(reason)
    if "timed out" in text.lower() or "timeout" in type(reason).__name__.lower():
        return "timed out"
    if "refused" in text.lower():
        return "connection refused"
    return text.split(": ", 1)[-1][:200]


def _error_text(data: bytes) -> str:
    import orjson

    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return ""
    return f": {body.get('error')}" if isinstance(body, dict) and body.get("error") else ""


def _hint(status: int) -> str | None:
    if status == 401:
        return "give credentials: --token, --token-file or --username/--password"
    if status == 403:
        return "these credentials may not read this Prometheus"
    if status == 404:
        return "is the URL the Prometheus server's root (and its --web.route-prefix, if any)?"
    return None
