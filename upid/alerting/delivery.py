"""Sending alerts: Alertmanager's API v2 (POST /api/v2/alerts: labels, annotations, startsAt, endsAt,
generatorURL; resolved alerts with their endsAt), or a Slack-compatible webhook ({"text": ...}). Each POST has a
timeout and is retried with backoff on a refused connection, 429 or 5xx; credentials come from the URL's
user:password (basic) or a bearer token, and never appear in a message."""

from __future__ import annotations

import base64
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from upid.alerting.engine import AlertState
from upid.errors import AlertDeliveryError
from upid.units import iso

FIRING_LIFETIME = 20 * 60  # endsAt of a firing alert: Alertmanager resolves it if no run renews it by then
RETRY = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class Target:
    url: str  # without credentials
    authorization: str | None  # the header's value
    shown: str  # for messages: scheme://host:port/path


def target(url: str, bearer: str | None = None) -> Target:
    p = urllib.parse.urlsplit(url)
    if p.scheme not in ("http", "https") or not p.hostname:
        from upid.errors import UsageError

        raise UsageError("an alert receiver must be an http(s) URL")
    host = f"[{p.hostname}]" if ":" in p.hostname else p.hostname
    netloc = host + (f":{p.port}" if p.port else "")
    clean = urllib.parse.urlunsplit((p.scheme, netloc, p.path, p.query, ""))
    auth = None
    if p.username is not None:
        pair = f"{urllib.parse.unquote(p.username)}:{urllib.parse.unquote(p.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode()
    if bearer:
        auth = f"Bearer {bearer}"
    return Target(clean, auth, f"{p.scheme}://{netloc}{p.path}")


def alertmanager_body(states: list[AlertState], now: int, generator: str) -> list[dict[str, object]]:
    body: list[dict[str, object]] = []
    for s in states:
        if s.state == "pending":
            continue
        ends = s.resolved_at if s.state == "resolved" else now + FIRING_LIFETIME
        body.append({
            "labels": s.labels,
            "annotations": s.annotations,
            "startsAt": iso(s.active_since),
            "endsAt": iso(ends),
            "generatorURL": f"{generator.rstrip('/')}/api/v1/analyze?"
                            + urllib.parse.urlencode({"cluster": s.cluster}),
        })  # fmt: skip
    return body


def webhook_body(states: list[AlertState]) -> dict[str, object]:
    lines = []
    for s in states:
        if s.state == "pending":
            continue
        mark = {"firing": ":red_circle:", "resolved": ":white_check_mark:"}[s.state]
        summary = s.annotations.get("summary") or s.alert
        lines.append(f"{mark} [{s.state.upper()}] {s.alert} ({s.severity}) {summary}")
    return {"text": "\n".join(lines) or "no alerts"}


def post(
    t: Target, body: object, timeout: float = 10.0, attempts: int = 4, sleep: Callable[[float], None] = time.sleep
) -> int:
    """POST JSON; the status of the answer that ended it. Raises AlertDeliveryError after the retries."""
    data = orjson.dumps(body)
    delay = 0.5
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(t.url, data=data, method="POST",
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        if t.authorization:
            request.add_header("Authorization", t.authorization)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - http(s) only
                return int(answer.status)
        except urllib.error.HTTPError as e:
            if e.code not in RETRY or attempt == attempts:
                raise AlertDeliveryError(
                    f"{t.shown} answered {e.code} after {attempt} attempt(s)", status=e.code
                ) from None
        except (urllib.error.URLError, OSError) as e:
            if attempt == attempts:
                reason = getattr(e, "reason", None) or e
                raise AlertDeliveryError(f"cannot reach {t.shown}: {reason} ({attempt} attempts)") from None
        sleep(delay * (0.5 + random.random()))
        delay *= 2
    raise AssertionError("unreachable")
