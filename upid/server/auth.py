"""Who may read: nobody is asked (loopback), a static bearer token (`--auth token`), or the API server's
TokenReview and SubjectAccessReview (`--auth kubernetes`). A failure answers 401 or 403 and says nothing more;
the token is never logged, and decisions are cached by the token's SHA-256 for a minute, as kube-rbac-proxy's."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from upid.errors import ClusterError, ConfigError, UsageError

GROUP = "upid.dev"  # the virtual API group a Role grants: resources "reports" (the API and page), "exports"
OPEN_PATHS = ("/healthz", "/readyz")  # kubelet probes carry no token
CACHE_SECONDS = 60.0
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True)
class Decision:
    status: int  # 200, 401 or 403; 503 when the API server could not be asked


ALLOWED, UNAUTHENTICATED, FORBIDDEN, UNAVAILABLE = Decision(200), Decision(401), Decision(403), Decision(503)


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def read_token(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except OSError as e:
        raise ConfigError(f"cannot read the token file {path}: {e.strerror or e}") from None
    if not token or any(c.isspace() for c in token):
        raise ConfigError(f"the token file {path} must hold one token (no spaces), and not be empty")
    return token


class Guard:
    name = "none"

    def check(self, path: str, authorization: str | None) -> Decision:  # pragma: no cover - the interface
        raise NotImplementedError


class NoAuth(Guard):
    def check(self, path: str, authorization: str | None) -> Decision:
        return ALLOWED


class TokenAuth(Guard):
    name = "token"

    def __init__(self, token: str) -> None:
        self._digest = hashlib.sha256(token.encode()).digest()

    def check(self, path: str, authorization: str | None) -> Decision:
        if path in OPEN_PATHS:
            return ALLOWED
        given = bearer(authorization)
        if given is None:
            return UNAUTHENTICATED
        ok = hmac.compare_digest(hashlib.sha256(given.encode()).digest(), self._digest)
        return ALLOWED if ok else UNAUTHENTICATED


def attributes_of(path: str, namespace: str) -> object:
    from upid.cluster.access import Attributes

    if path == "/metrics":
        return Attributes(verb="get", path="/metrics")
    resource = "exports" if path == "/api/v1/export" else "reports"
    return Attributes(verb="get", group=GROUP, resource=resource, namespace=namespace)


class KubernetesAuth(Guard):
    """TokenReview, then SubjectAccessReview on the request's virtual resource, through upid's own API client."""

    name = "kubernetes"

    def __init__(self, api_factory: Callable[[], object], namespace: str, clock: Callable[[], float] = time.monotonic):
        self._api_factory = api_factory
        self._api: object | None = None
        self.namespace = namespace
        self._clock = clock
        self._cache: dict[tuple[bytes, str], tuple[float, Decision]] = {}
        self._lock = threading.Lock()

    def _client(self) -> object:
        with self._lock:
            if self._api is None:
                self._api = self._api_factory()
            return self._api

    def check(self, path: str, authorization: str | None) -> Decision:
        from upid.cluster.access import authenticate, authorized

        if path in OPEN_PATHS:
            return ALLOWED
        token = bearer(authorization)
        if token is None:
            return UNAUTHENTICATED
        attrs = attributes_of(path, self.namespace)
        key = (hashlib.sha256(token.encode()).digest(), repr(attrs))
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
            if cached and cached[0] > now:
                return cached[1]
        try:
            api = self._client()
            caller = authenticate(api, token)  # type: ignore[arg-type]
            decision = (
                UNAUTHENTICATED if caller is None
                else ALLOWED if authorized(api, caller, attrs) else FORBIDDEN  # type: ignore[arg-type]
            )  # fmt: skip
        except ClusterError:
            return UNAVAILABLE  # not cached: the next request asks again
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now + CACHE_SECONDS, decision)
        return decision


def namespace_default() -> str:
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "upid"
    except OSError:
        return "upid"


def guard(mode: str, token_file: Path | None, api_factory: Callable[[], object], namespace: str | None) -> Guard:
    if mode == "none":
        if token_file is not None:
            raise UsageError("--token-file goes with --auth token")
        return NoAuth()
    if mode == "token":
        if token_file is None:
            raise UsageError("--auth token needs --token-file FILE")
        return TokenAuth(read_token(token_file))
    if mode == "kubernetes":
        if token_file is not None:
            raise UsageError("--token-file goes with --auth token")
        return KubernetesAuth(api_factory, namespace or namespace_default())
    raise UsageError(f"unknown --auth {mode!r}; allowed: none, token, kubernetes")
