"""Who is calling, and may they: a bearer token checked with the API server's TokenReview, then the caller's
right with a SubjectAccessReview, as kube-rbac-proxy does (`upid serve --auth kubernetes`). The answers are
the API server's; nothing here decides by itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from upid.cluster.api import Api

TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


@dataclass(frozen=True)
class Caller:
    user: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Attributes:
    """What a request does, in RBAC's terms: a virtual resource (group, resource, verb, namespace) or a
    non-resource path such as /metrics (what Prometheus' ClusterRole grants)."""

    verb: str = "get"
    group: str = ""
    resource: str = ""
    namespace: str = ""
    path: str = ""  # set: a non-resource URL

    def spec(self) -> dict[str, Any]:
        if self.path:
            return {"nonResourceAttributes": {"path": self.path, "verb": self.verb}}
        attrs = {"verb": self.verb, "group": self.group, "resource": self.resource}
        return {"resourceAttributes": {**attrs, **({"namespace": self.namespace} if self.namespace else {})}}


def authenticate(api: Api, token: str, audiences: list[str] | None = None) -> Caller | None:
    """The caller the token belongs to, or None when the API server does not know it."""
    spec: dict[str, Any] = {"token": token, **({"audiences": audiences} if audiences else {})}
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
    status = (api.create(TOKEN_REVIEWS, body) or {}).get("status") or {}
    if not status.get("authenticated"):
        return None
    user = status.get("user") or {}
    if not user.get("username"):
        return None
    return Caller(
        user=str(user["username"]),
        uid=str(user.get("uid") or ""),
        groups=tuple(str(g) for g in user.get("groups") or ()),
        extra={str(k): [str(x) for x in v] for k, v in (user.get("extra") or {}).items()},
    )


def authorized(api: Api, caller: Caller, attributes: Attributes) -> bool:
    spec: dict[str, Any] = {"user": caller.user, "groups": list(caller.groups), **attributes.spec()}
    if caller.uid:
        spec["uid"] = caller.uid
    if caller.extra:
        spec["extra"] = caller.extra
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
    status = (api.create(ACCESS_REVIEWS, body) or {}).get("status") or {}
    return bool(status.get("allowed")) and not status.get("denied")
