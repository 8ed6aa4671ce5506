"""Making changes on a cluster, with an audit trail: apply a plan, roll changes back, wake workloads.

Every change is recorded in the store before it is made (status `pending`) and again after (`applied`,
`failed` or `skipped`, with the values the server returned), so a partial failure leaves an accurate
trail and a working rollback for what was applied.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from upid.cluster.api import MERGE_PATCH, Api, Conflict
from upid.cluster.workloads import Live, cluster_uid, parse_live, read, sleeping
from upid.errors import ClusterError, NoDataError, UpidError, UsageError
from upid.optimize import patches
from upid.optimize.plan import Change, Plan
from upid.optimize.safety import ORIGINAL_REPLICAS
from upid.store.base import ChangeRecord, Store


class WrongClusterError(UsageError):
    """The context is not the cluster the plan was made from (or that cluster was imported, not collected)."""


@dataclass
class Outcome:
    namespace: str
    kind: str
    name: str
    action: str
    status: str  # applied, failed, skipped, dry-run-ok
    message: str | None = None
    change_id: int | None = None
    error: UpidError | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "change_id": self.change_id,
            "namespace": self.namespace,
            "kind": self.kind,
            "workload": self.name,
            "action": self.action,
            "status": self.status,
            "message": self.message,
        }


@dataclass(frozen=True)
class Session:
    """Who makes the changes, where: the store, the API, and what the audit trail says about them."""

    store: Store
    api: Api
    cluster: str
    context: str | None
    kube_user: str | None
    os_user: str
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    progress: Callable[[str], None] | None = None

    def record(self, key: tuple[str, str, str], action: str, before: Any, after: Any, **extra: Any) -> int:
        return self.store.begin_change(
            ChangeRecord(
                self.run, self.cluster, self.context, self.kube_user, self.os_user, *key, action, before, after, **extra
            )
        )


def check_cluster(store: Store, api: Api, cluster: str) -> None:
    """Refuse to change a cluster other than the one analysed: compare kube-system UIDs."""
    known = {str(c["cluster"]): str(c["uid"]) for c in store.cluster_identities() if c.get("uid")}
    if cluster not in known:
        raise WrongClusterError(
            f"cluster {cluster!r} was imported, not collected: upid cannot tell which API server it is",
            hint="apply the GitOps output (-o patch) instead, or collect the cluster with upid storage collect",
        )
    live = cluster_uid(api)
    if live != known[cluster]:
        raise WrongClusterError(
            f"the context points at another cluster (kube-system uid {live}) than {cluster!r} ({known[cluster]})"
        )


def _matches(change: Change, live: Live) -> str | None:
    """Why the live workload is not what the analysis saw (someone changed it since), or None."""
    if change.action == "scale-to-zero":
        if live.replicas != change.replicas_before:
            return f"replicas are {live.replicas} now, {change.replicas_before} when analysed"
        return None
    for c in change.containers:
        now = live.containers.get(c.name)
        if now is None:
            return f"container {c.name} is gone"
        for key, analysed in c.before.items():
            if not _same(now.get(key), analysed, key):
                what = f"{c.name} {key.replace('_', ' ')}"
                return f"{what} is {_show(key, now.get(key))} now, {_show(key, analysed)} when analysed"
    return None


def _same(a: float | None, b: float | None, key: str) -> bool:
    if a is None or b is None:
        return a is None and b is None
    unit = 1e-3 if key.startswith("cpu") else 1024.0
    return abs(a - b) < unit


def _show(key: str, value: float | None) -> str:
    return "unset" if value is None else patches.quantity(key, value)


def _planned(change: Change, live: Live) -> dict[str, Any]:
    after = live.snapshot([c.name for c in change.containers])
    if change.action == "scale-to-zero":
        after["replicas"], after["annotations"] = 0, {ORIGINAL_REPLICAS: str(change.replicas_before)}
    for c in change.containers:
        after["containers"][c.name] = dict(c.after)
    return after


def _make(api: Api, change: Change, rv: str, dry_run: bool) -> Live:
    """The PATCH requests of one change; the workload as the server returned it."""
    path = patches.object_path(change.namespace, change.kind, change.name)
    obj = api.patch(path, patches.strategic_merge(change, rv), dry_run=dry_run)
    if change.action == "scale-to-zero":
        new_rv = str(obj["metadata"]["resourceVersion"]) if not dry_run else rv
        scale_path = patches.object_path(change.namespace, change.kind, change.name, "scale")
        scaled = api.patch(scale_path, patches.scale(0, new_rv), MERGE_PATCH, dry_run=dry_run)
        obj.setdefault("spec", {})["replicas"] = scaled["spec"]["replicas"]
    return parse_live({**obj, "kind": change.kind})


def _attempt(step: Callable[[], Live]) -> tuple[str, str | None, Live | None, UpidError | None]:
    try:
        return "applied", None, step(), None
    except Conflict as e:
        return "skipped", f"changed by someone else meanwhile (409 Conflict): {e.message}", None, None
    except ClusterError as e:
        return "failed", e.message, None, e


def apply_plan(s: Session, plan: Plan, confirm: Callable[[], None]) -> list[Outcome]:
    """Check the cluster's identity, ask (`confirm` raises to stop), check each change against the live
    workload and the server's dry run, then make the ones that pass."""
    check_cluster(s.store, s.api, plan.cluster)
    confirm()
    ready: list[tuple[Change, Live]] = []
    outcomes: list[Outcome] = []
    for change in plan.changes:
        live = read(s.api, *change.key)
        reason = "the workload no longer exists" if live is None else _matches(change, live)
        if reason or live is None:
            outcomes.append(_end(s, change, live, "skipped", f"changed since the analysis: {reason}", None))
            continue
        status, message, _, error = _attempt(partial(_make, s.api, change, live.resource_version, True))
        if status != "applied":
            outcomes.append(_end(s, change, live, status, f"server-side dry run: {message}", error))
            continue
        ready.append((change, live))
    for change, live in ready:
        change_id = s.record(
            change.key, change.action, live.snapshot([c.name for c in change.containers]), _planned(change, live)
        )
        if s.progress:
            s.progress(f"{change.action} {change.ref}")
        status, message, new, error = _attempt(partial(_make, s.api, change, live.resource_version, False))
        after = new.snapshot([c.name for c in change.containers]) if new else None
        s.store.end_change(change_id, status, message, after)
        outcomes.append(Outcome(*change.key, change.action, status, message, change_id, error))
    return outcomes


def _end(s: Session, change: Change, live: Live | None, status: str, message: str, error: UpidError | None) -> Outcome:
    before = live.snapshot([c.name for c in change.containers]) if live else {}
    change_id = s.record(change.key, change.action, before, {}, status=status, message=message)
    s.store.end_change(change_id, status, message)
    return Outcome(*change.key, change.action, status, message, change_id, error)


def _to_apply(records: list[ChangeRecord], change_id: int | None, last: bool) -> list[ChangeRecord]:
    applied = [r for r in records if r.status == "applied" and r.action != "rollback"]
    if change_id is not None:
        wanted = [r for r in records if r.id == change_id]
        if not wanted:
            raise NoDataError(f"no change {change_id} in the audit trail", hint="see upid optimize history")
        if wanted[0].status != "applied" or wanted[0].action == "rollback":
            raise UsageError(f"change {change_id} is {wanted[0].status} ({wanted[0].action}): nothing to roll back")
        return wanted
    if last:
        if not applied:
            raise NoDataError("no applied change to roll back", hint="see upid optimize history")
        return [r for r in applied if r.run == applied[0].run]
    raise UsageError("give a CHANGE_ID or --last")


def rollback(s: Session, change_id: int | None, last: bool) -> list[Outcome]:
    """Restore exactly the values a change found, if the workload still has the values it left."""
    check_cluster(s.store, s.api, s.cluster)
    outcomes = []
    for r in _to_apply(s.store.changes(limit=100_000, cluster=s.cluster), change_id, last):
        key = (r.namespace, r.kind, r.name)
        live = read(s.api, *key)
        names = list(r.before.get("containers") or {})
        now = live.snapshot(names) if live else None
        if now is None or not _same_snapshot(now, r.after):
            reason = "the workload no longer exists" if live is None else "it changed since upid applied it"
            outcomes.append(Outcome(*key, "rollback", "skipped", f"not rolled back: {reason}", r.id))
            continue
        assert live is not None
        change_id_new = s.record(key, "rollback", now, r.before, rollback_of=r.id)
        status, message, new, error = _attempt(partial(_restore, s.api, r, live))
        s.store.end_change(change_id_new, status, message, new.snapshot(names) if new else None)
        if status == "applied":
            s.store.end_change(int(r.id or 0), "rolled-back", f"rolled back by change {change_id_new}")
        outcomes.append(Outcome(*key, "rollback", status, message, change_id_new, error))
    return outcomes


def _same_snapshot(live: dict[str, Any], recorded: dict[str, Any]) -> bool:
    if live.get("replicas") != recorded.get("replicas"):
        return False
    for name, values in (recorded.get("containers") or {}).items():
        now = (live.get("containers") or {}).get(name) or {}
        if any(not _same(now.get(k), v, k) for k, v in (values or {}).items()):
            return False
    return True


def _restore(api: Api, r: ChangeRecord, live: Live) -> Live:
    """PATCH back to `r.before`: resources (null removes what was unset), replicas, and the annotation."""
    path = patches.object_path(r.namespace, r.kind, r.name)
    containers = []
    for name, values in (r.before.get("containers") or {}).items():
        resources: dict[str, dict[str, Any]] = {}
        for key, (section, resource) in patches.FIELDS.items():
            value = (values or {}).get(key)
            resources.setdefault(section, {})[resource] = None if value is None else patches.quantity(key, value)
        containers.append({"name": name, "resources": resources})
    body: dict[str, Any] = patches.containers_patch(r.kind, containers) if containers else {}
    body["metadata"] = {"resourceVersion": live.resource_version}
    annotation = (r.before.get("annotations") or {}).get(ORIGINAL_REPLICAS)
    if (r.after.get("annotations") or {}).get(ORIGINAL_REPLICAS) != annotation:
        body["metadata"]["annotations"] = {ORIGINAL_REPLICAS: annotation}
    obj = api.patch(path, body)
    replicas = r.before.get("replicas")
    if replicas is not None and replicas != live.replicas:
        scale_path = patches.object_path(r.namespace, r.kind, r.name, "scale")
        scaled = api.patch(scale_path, patches.scale(int(replicas)), MERGE_PATCH)
        obj.setdefault("spec", {})["replicas"] = scaled["spec"]["replicas"]
    return parse_live({**obj, "kind": r.kind})


def wake(s: Session, namespaces: list[str] | None, names: list[str] | None) -> list[Outcome]:
    """Scale workloads upid put to sleep back to the replicas in their upid.io/original-replicas annotation."""
    outcomes = []
    for namespace, kind, name, live in sleeping(s.api, namespaces):
        if names and name not in names:
            continue
        key = (namespace, kind, name)
        try:
            replicas = int(live.annotation or "")
        except ValueError:
            outcomes.append(
                Outcome(*key, "wake", "skipped", f"{ORIGINAL_REPLICAS} is not a number: {live.annotation!r}")
            )
            continue
        if live.replicas:
            outcomes.append(Outcome(*key, "wake", "skipped", f"already running {live.replicas} replica(s)"))
            continue
        target = live.snapshot([])
        target["replicas"], target["annotations"] = replicas, {ORIGINAL_REPLICAS: None}
        change_id = s.record(key, "wake", live.snapshot([]), target)
        record = ChangeRecord(
            s.run, s.cluster, s.context, s.kube_user, s.os_user, *key, "wake", target, live.snapshot([])
        )
        status, message, new, error = _attempt(partial(_restore, s.api, record, live))
        s.store.end_change(change_id, status, message, new.snapshot([]) if new else None)
        outcomes.append(Outcome(*key, "wake", status, message, change_id, error))
    return outcomes
