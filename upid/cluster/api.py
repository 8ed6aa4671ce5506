"""Raw, fast, bounded access to the Kubernetes API through the official client's HTTP layer.

Responses are parsed as JSON directly (`_preload_content=False` in the old API): the client's model
classes are ~100x slower and reject incomplete objects. Every request has a timeout; 429, 5xx and
timeouts are retried with backoff, honouring Retry-After; failures read like kubectl's.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from upid.errors import ClusterError, ForbiddenError, UnauthorizedError

try:
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

RETRY_STATUSES = {429, 500, 502, 503, 504}
PAGE_SIZE = 500  # as kubectl
TIMEOUT_ATTEMPTS = 2  # a request that timed out is tried once more, not more: a silent server costs 2x the timeout


class DeadlineExceeded(ClusterError):
    """The whole run (collect --timeout) took longer than it may: nothing of it is stored."""


class NotFound(Exception):
    """404: the caller decides whether that is an error (an API group not installed is not)."""


class Gone(Exception):
    """410: a list's continue token expired."""


class Conflict(Exception):
    """409: the object changed since it was read (a stale resourceVersion); the caller skips it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


STRATEGIC_MERGE = "application/strategic-merge-patch+json"
MERGE_PATCH = "application/merge-patch+json"


class Api:
    def __init__(
        self,
        client: Any,
        timeout: float = 30.0,
        attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        deadline: float | None = None,
    ) -> None:
        self.client = client
        self.timeout = timeout  # seconds per request, in total: a server that trickles bytes gets no more
        self.attempts = attempts
        self.sleep = sleep
        self.deadline = deadline  # time.monotonic() by which the whole run must be done; None: no limit
        self.host = urlparse(client.configuration.host).netloc or client.configuration.host
        self.requests = 0

    def get(self, path: str, params: dict[str, Any] | None = None, attempts: int | None = None) -> Any:
        return self._call("GET", path, params, attempts=attempts)

    def get_object(self, path: str, attempts: int | None = None) -> dict[str, Any]:
        """GET one object; an answer that is JSON but not an object is a ClusterError, as a non-JSON one is."""
        doc = self.get(path, attempts=attempts)
        if not isinstance(doc, dict):
            raise self._unexpected(path, f"a JSON {type(doc).__name__} instead of an object")
        return doc

    def _unexpected(self, path: str, what: str) -> ClusterError:
        return ClusterError(
            f"the server {self.host} answered {path} with {what}: not the Kubernetes API",
            hint="is the kubeconfig's server a proxy or load balancer page?",
        )

    def patch(self, path: str, body: Any, content_type: str = STRATEGIC_MERGE, dry_run: bool = False) -> Any:
        """PATCH an object; `dry_run`: the server validates and answers but stores nothing (?dryRun=All)."""
        return self._call("PATCH", path, {"dryRun": "All"} if dry_run else None, body, content_type)

    def create(self, path: str, body: Any) -> Any:
        """POST an object (a TokenReview or SubjectAccessReview: the answer is the reviewed object)."""
        return self._call("POST", path, None, body, "application/json")

    def _call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: Any = None,
        content_type: str | None = None,
        attempts: int | None = None,
    ) -> Any:
        delay = 0.5
        attempts = attempts or self.attempts
        for attempt in range(1, attempts + 1):
            try:
                status, headers, raw = self._request(method, path, params, body, content_type)
            except ClusterError as e:
                timed_out = "timed out" in e.message and not isinstance(e, DeadlineExceeded)
                if not timed_out or attempt >= min(attempts, TIMEOUT_ATTEMPTS):  # a refusal is final, as in kubectl
                    raise
                self._pause(delay * (0.5 + random.random()))
                delay *= 2
                continue
            if status < 300:
                try:
                    return _loads(raw)
                except ValueError:
                    raise self._unexpected(path, f"{len(raw)} bytes that are not JSON") from None
            if status in RETRY_STATUSES and attempt < attempts:
                self._pause(_retry_after(headers, delay))
                delay *= 2
                continue
            raise self._error(status, raw, path, method)
        raise AssertionError("unreachable")

    def _remaining(self) -> float:
        """Seconds this request may take: the request timeout, or less when the run's deadline is nearer."""
        if self.deadline is None:
            return self.timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(
                "the collect did not finish within its --timeout; nothing was stored",
                hint="raise --timeout, or collect fewer namespaces (-n) at a time",
            )
        return min(self.timeout, left)

    def _pause(self, seconds: float) -> None:
        if self.deadline is not None and time.monotonic() + seconds >= self.deadline:
            self._remaining()  # raises: the pause would outlast the run
        self.sleep(seconds)

    def _request(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any, content_type: str | None
    ) -> tuple[int, Any, bytes]:
        """One HTTP exchange, bounded in total: urllib3's timeouts bound each socket read, not the exchange, so
        the exchange runs in a daemon thread that is abandoned (its socket closes with it) when time is up."""
        budget = self._remaining()
        outcome: list[Any] = []

        def exchange() -> None:
            try:
                outcome.append(self._exchange(method, path, params, body, content_type, budget))
            except BaseException as e:  # handed to the caller's thread
                outcome.append(e)

        worker = threading.Thread(target=exchange, name=f"upid-api {path}", daemon=True)
        worker.start()
        worker.join(budget + 0.05)
        if not outcome:
            if self.deadline is not None and time.monotonic() >= self.deadline:
                self._remaining()
            raise ClusterError(f"Unable to connect to the server: {self.host}: timed out after {budget:g}s")
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]  # type: ignore[no-any-return]

    def _exchange(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any, content_type: str | None, budget: float
    ) -> tuple[int, Any, bytes]:
        import urllib3

        header_params = {"Accept": "application/json"}
        if content_type:
            header_params["Content-Type"] = content_type
        method, url, headers, data, _ = self.client.param_serialize(
            method,
            path,
            query_params=list((params or {}).items()),
            header_params=header_params,
            body=body,
            auth_settings=["BearerToken"],
        )
        self.requests += 1
        try:
            response = self.client.call_api(
                method,
                url,
                header_params=headers,
                body=data,
                _request_timeout=(min(10.0, budget), budget),
            )
            return response.status, response.headers, response.read()
        except urllib3.exceptions.HTTPError as e:
            raise self._connection_error(e) from e
        except Exception as e:  # the client wraps TLS failures in ApiException(status=0)
            if getattr(e, "status", None) == 0:
                reason = str(getattr(e, "reason", e)).splitlines()[-1]
                raise ClusterError(f"Unable to connect to the server: {reason}") from e
            raise

    def _connection_error(self, error: Exception) -> ClusterError:
        text = str(error)
        low = text.lower()
        if "refused" in low:
            return ClusterError(
                f"The connection to the server {self.host} was refused - did you specify the right host or port?"
            )
        if "timed out" in low or "timeout" in low:
            return ClusterError(f"Unable to connect to the server: {self.host}: timed out after {self.timeout:g}s")
        if "name or service not known" in low or "nodename nor servname" in low or "failed to resolve" in low:
            return ClusterError(
                f"Unable to connect to the server: dial tcp: lookup {self.host.split(':')[0]}: no such host"
            )
        first = text.splitlines()[0] if text else type(error).__name__
        return ClusterError(f"Unable to connect to the server: {first}")

    def _error(self, status: int, body: bytes, path: str, method: str = "GET") -> Exception:
        message = _status_message(body)
        if status == 401:
            return UnauthorizedError("You must be logged in to the server (Unauthorized)")
        if status == 403:
            return ForbiddenError(
                f"Error from server (Forbidden): {message or path}",
                hint="'upid cluster rbac"
                + (" --optimize" if method != "GET" else "")
                + "' prints the permissions upid needs, to kubectl apply",
            )
        if status == 409:
            return Conflict(message or path)
        if status == 404:
            return NotFound(path)
        if status == 410:
            return Gone(path)
        return ClusterError(f"Error from server ({_REASONS.get(status, status)}): {message or path}")

    def list(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        relists: int = 3,
        transform: Callable[[dict[str, Any]], Any] | None = None,
    ) -> list[Any]:
        """Every item of a list, page by page; an expired continue token (410) restarts the list.
        `transform` turns each item into what the caller keeps, so a page's raw JSON is freed at once."""
        for _ in range(relists):
            items: list[Any] = []
            token = None
            try:
                while True:
                    query = {**(params or {}), "limit": PAGE_SIZE}
                    if token:
                        query["continue"] = token
                    page = self.get(path, query)
                    raw = page.get("items") if isinstance(page, dict) else ()
                    if not isinstance(raw, list | None):
                        raise self._unexpected(path, "a JSON document that is not a list")
                    items.extend(map(transform, raw or []) if transform else raw or [])
                    meta = page.get("metadata")
                    token = meta.get("continue") if isinstance(meta, dict) else None
                    if not token:
                        return items
            except Gone:
                continue
        raise ClusterError(f"list {path}: the continue token expired {relists} times in a row")


_REASONS = {
    400: "BadRequest",
    404: "NotFound",
    409: "Conflict",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def _status_message(body: bytes) -> str:
    try:
        doc = _loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip()
    return str(doc.get("message", "")) if isinstance(doc, dict) else ""


def _retry_after(headers: Any, default: float) -> float:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return min(max(float(value), 0.0), 30.0) if value is not None else default
    except ValueError:
        return default
