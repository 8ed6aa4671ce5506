"""`for:` across runs, as Prometheus does it between evaluations: an active instance is pending until it has
been active for the rule's `for`, then firing; one no longer active is resolved (when it fired) or forgotten
(when it was pending). States are keyed by a fingerprint of the alert name and labels, and kept in the store
between runs, so a cron every few minutes behaves like a Prometheus."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from upid.alerting import templates
from upid.alerting.kinds import Instance
from upid.alerting.rules import Rule

RESOLVED_KEPT = 15 * 60  # resolved alerts are sent again (and shown) this long, as Prometheus resends them


@dataclass(frozen=True)
class AlertState:
    fingerprint: str
    alert: str
    cluster: str
    labels: dict[str, str]
    annotations: dict[str, str]
    state: str  # pending, firing, resolved
    active_since: int
    value: float
    fired_at: int | None = None
    resolved_at: int | None = None
    severity: str = "warning"
    extra: dict[str, str] = field(default_factory=dict)


def fingerprint(alert: str, labels: dict[str, str]) -> str:
    text = "\x00".join([alert, *(f"{k}\x01{v}" for k, v in sorted(labels.items()))])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def step(previous: dict[str, AlertState], active: list[tuple[Rule, Instance]], now: int) -> list[AlertState]:
    """The states after this evaluation: every active instance, and what resolved (kept RESOLVED_KEPT)."""
    out: dict[str, AlertState] = {}
    for rule, inst in active:
        labels = {"alertname": rule.alert, **inst.labels, **rule.labels}
        fp = fingerprint(rule.alert, labels)
        before = previous.get(fp)
        carried = before is not None and before.state != "resolved" and before.active_since <= now
        since = before.active_since if carried and before else now  # a clock moved back starts afresh
        firing = now - since >= rule.for_seconds
        fired_at = (before.fired_at if before and before.state == "firing" else now) if firing else None
        annotations = {k: templates.render(v, labels, inst.value) for k, v in rule.annotations.items()}
        out[fp] = AlertState(fp, rule.alert, labels.get("cluster", ""), labels, annotations,
                             "firing" if firing else "pending", since, inst.value, fired_at, None,
                             rule.severity)  # fmt: skip
    for fp, before in previous.items():
        if fp in out:
            continue
        if before.state == "firing":
            out[fp] = replace(before, state="resolved", resolved_at=now)
        elif before.state == "resolved" and before.resolved_at is not None and now - before.resolved_at < RESOLVED_KEPT:
            out[fp] = before
    return sorted(out.values(), key=lambda s: (s.state != "firing", s.alert, s.fingerprint))
