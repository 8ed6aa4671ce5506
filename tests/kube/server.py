"""The HTTP side of the test API server: routes, pagination with expiring continue tokens, bearer-token
auth, RBAC denials and injected faults (429 with Retry-After, 5xx, hanging responses), all with real
`Status` bodies. Run it in a thread; point the real kubernetes client at it with `write_kubeconfig`."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import orjson

from kube import objects as o
from kube import writes
from kube.model import Cluster, Workload

TOKEN = "upid-test-token"
TRICKLE = "X-Test-Trickle"  # between answer() and the handler: send this answer a byte at a time
USER = "system:serviceaccount:upid:upid"


@dataclass
class Fault:
    path: str  # a regular expression matched against the request path
    status: int = 0  # 0: no status, just the delay
    delay: float = 0.0  # seconds before answering (longer than the client's timeout: a hang)
    retry_after: int | None = None
    times: int = 1
    query: str = ""  # a regular expression the query string must match too
    body: Any = None  # instead of the real answer: raw bytes (an HTML page) or any JSON value, with status or 200
    trickle: float = 0.0  # the real answer, one byte every `trickle` seconds from the status line on


@dataclass
class Behaviour:
    metrics_installed: bool = True
    denied: set[str] = field(default_factory=set)  # e.g. {"nodes/proxy", "metrics.k8s.io/pods", "pods"}
    faults: list[Fault] = field(default_factory=list)
    token_epoch: int = 0  # bump to expire every continue token handed out so far
    hpa_for: set[str] = field(default_factory=set)  # workload names with an HPA
    pdb_for: set[str] = field(default_factory=set)
    race: set[str] = field(default_factory=set)  # workloads someone else writes to right after each GET of them
    # applied to every usage document before it is sent (PodMetrics, kubelet Summary): a broken metrics source
    tamper: Callable[[dict[str, Any]], None] | None = None
    # TokenReview: token -> (username, groups); SubjectAccessReview: "user verb group/resource" or
    # "user verb /path" strings that are allowed (anything else is not)
    users: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    grants: set[str] = field(default_factory=set)


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


LISTS = {  # path (without namespace) -> (API group, resource)
    "/api/v1/pods": ("", "pods"),
    "/api/v1/nodes": ("", "nodes"),
    "/api/v1/namespaces": ("", "namespaces"),
    "/apis/apps/v1/deployments": ("apps", "deployments"),
    "/apis/apps/v1/statefulsets": ("apps", "statefulsets"),
    "/apis/apps/v1/daemonsets": ("apps", "daemonsets"),
    "/apis/apps/v1/replicasets": ("apps", "replicasets"),
    "/apis/batch/v1/jobs": ("batch", "jobs"),
    "/apis/batch/v1/cronjobs": ("batch", "cronjobs"),
    "/apis/autoscaling/v2/horizontalpodautoscalers": ("autoscaling", "horizontalpodautoscalers"),
    "/apis/policy/v1/poddisruptionbudgets": ("policy", "poddisruptionbudgets"),
    "/apis/metrics.k8s.io/v1beta1/pods": ("metrics.k8s.io", "pods"),
    "/apis/metrics.k8s.io/v1beta1/nodes": ("metrics.k8s.io", "nodes"),
}
LIST_KIND = {"pods": "PodList", "nodes": "NodeList", "namespaces": "NamespaceList"}
OBJECT = re.compile(
    r"/apis/(apps|batch)/v1/namespaces/([^/]+)/(deployments|statefulsets|daemonsets|cronjobs)/([^/]+)(/scale)?"
)
KINDS = {"deployments": "Deployment", "statefulsets": "StatefulSet", "daemonsets": "DaemonSet", "cronjobs": "CronJob"}
NAMESPACED = re.compile(r"^(/apis?/[^/]+(?:/[^/]+)?)/namespaces/([^/]+)/([^/]+)$")


class KubeServer:
    def __init__(self, cluster: Cluster, behaviour: Behaviour | None = None) -> None:
        self.cluster = cluster
        self.behaviour = behaviour or Behaviour()
        self.requests: list[str] = []
        self.handler_seconds = 0.0  # time spent answering: benchmarks subtract it from the client's
        self._cache_key: object = None
        self._cache: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> KubeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- answering ----------------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, str], auth: str | None) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.requests.append(path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""))
            qs = "&".join(f"{k}={v}" for k, v in query.items())
            fault = next(
                (
                    f
                    for f in self.behaviour.faults
                    if f.times > 0 and re.search(f.path, path) and re.search(f.query, qs)
                ),
                None,
            )
            if fault:
                fault.times -= 1
        if fault and fault.trickle:
            code, body, headers = self._answer_authorized(path, query, auth)
            return code, body, {**headers, TRICKLE: str(fault.trickle)}
        if fault:
            time.sleep(fault.delay)
            if fault.body is not None:
                return fault.status or 200, fault.body, {}
            if fault.status:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                reason = {429: "TooManyRequests", 410: "Expired", 500: "InternalError", 503: "ServiceUnavailable"}.get(
                    fault.status, "InternalError"
                )
                return fault.status, status(fault.status, reason, f"injected {fault.status}"), headers
        return self._answer_authorized(path, query, auth)

    def _answer_authorized(self, path: str, query: dict[str, str], auth: str | None) -> tuple[int, Any, dict[str, str]]:
        if auth != f"Bearer {TOKEN}":
            return 401, status(401, "Unauthorized", "Unauthorized"), {}
        with self.lock:
            return self._route(path, query)

    def review(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        """TokenReview and SubjectAccessReview, answered from `users` and `grants` (the answer is the object
        with its status filled in, as the real API server's)."""
        if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
            return 400, status(400, "BadRequest", "the body of the request could not be decoded")
        spec = body["spec"]
        if path == "/apis/authentication.k8s.io/v1/tokenreviews":
            known = self.behaviour.users.get(str(spec.get("token")))
            answer: dict[str, Any] = {"authenticated": False}
            if known:
                answer = {"authenticated": True, "user": {"username": known[0], "uid": f"uid-{known[0]}",
                                                           "groups": known[1]}}  # fmt: skip
            return 201, {**body, "status": answer}
        if path == "/apis/authorization.k8s.io/v1/subjectaccessreviews":
            user = spec.get("user")
            if "resourceAttributes" in spec:
                a = spec["resourceAttributes"]
                asked = f"{user} {a.get('verb')} {a.get('group')}/{a.get('resource')}"
                if a.get("namespace"):
                    asked += f" in {a['namespace']}"
            else:
                a = spec.get("nonResourceAttributes") or {}
                asked = f"{user} {a.get('verb')} {a.get('path')}"
            allowed = asked in self.behaviour.grants
            return 201, {**body, "status": {"allowed": allowed, **({} if allowed else {"reason": "no grant"})}}
        return 404, status(404, "NotFound", "the server could not find the requested resource")

    def _denied(self, verb: str, group: str, resource: str, name: str | None, ns: str | None) -> dict[str, Any] | None:
        """A 403 when `denied` holds "group/resource" (every verb) or "verb group/resource" (that verb only)."""
        key = f"{group}/{resource}" if group else resource
        if key not in self.behaviour.denied and f"{verb} {key}" not in self.behaviour.denied:
            return None
        scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        plural = resource.split("/")[0] + (f".{group}" if group and "." not in group else "")
        subject = f'{plural} "{name}"' if name else resource
        return status(
            403,
            "Forbidden",
            f'{subject} is forbidden: User "{USER}" cannot {verb} resource "{resource}" in API group "{group}" {scope}',
            {"name": name, "kind": resource.split("/")[0]} if name else {"kind": resource},
        )

    def _route(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        c, b = self.cluster, self.behaviour
        if path == "/version":
            return (
                200,
                {
                    "major": "1",
                    "minor": "33",
                    "gitVersion": "v1.33.5-gke.1000",
                    "gitCommit": "0" * 40,
                    "gitTreeState": "clean",
                    "buildDate": "2026-09-01T00:00:00Z",
                    "goVersion": "go1.24.6",
                    "compiler": "gc",
                    "platform": "linux/amd64",
                },
                {},
            )
        if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)", path):
            denied = self._denied("get", "", "namespaces", m.group(1), None)
            if denied:
                return 403, denied, {}
            if m.group(1) not in c.namespaces:
                return 404, status(404, "NotFound", f'namespaces "{m.group(1)}" not found'), {}
            return 200, o.namespace(c, m.group(1)), {}
        if m := re.fullmatch(r"/api/v1/nodes/([^/]+)/proxy/stats/summary", path):
            denied = self._denied("get", "", "nodes/proxy", m.group(1), None)
            return (403, denied, {}) if denied else (200, self._tampered(o.summary(c, m.group(1))), {})
        if m := OBJECT.fullmatch(path):
            return self._get_object(m)
        namespace = None
        if m := NAMESPACED.match(path):
            path, namespace = f"{m.group(1)}/{m.group(3)}", m.group(2)
        if path not in LISTS:
            return 404, status(404, "NotFound", "the server could not find the requested resource"), {}
        group, resource = LISTS[path]
        if group == "metrics.k8s.io" and not b.metrics_installed:
            return 404, status(404, "NotFound", "the server could not find the requested resource"), {}
        denied = self._denied("list", group, resource, None, namespace)
        if denied:
            return 403, denied, {}
        key = (path, self.cluster.step, frozenset(self.behaviour.hpa_for), frozenset(self.behaviour.pdb_for))
        if self._cache_key != key:  # render once per clock step, not once per page
            self._cache_key, self._cache = key, self._items(path)
        items = [i for i in self._cache if namespace is None or i["metadata"].get("namespace") == namespace]
        if selector := query.get("labelSelector"):
            items = [i for i in items if _matches(i["metadata"].get("labels") or {}, selector)]
        return self._page(path, items, query)

    def _object(
        self, m: re.Match[str], verb: str
    ) -> tuple[Workload | None, tuple[int, dict[str, Any], dict[str, str]] | None]:
        group, ns, resource, name, sub = m.group(1), m.group(2), m.group(3), m.group(4), m.group(5) or ""
        denied = self._denied(verb, group, resource + sub, name, ns)
        if denied:
            return None, (403, denied, {})
        w = self.cluster.workload(ns, KINDS[resource], name)
        if w is None or (sub and w.kind not in ("Deployment", "StatefulSet")):
            return None, (404, status(404, "NotFound", f'{resource}.{group} "{name}" not found'), {})
        return w, None

    def _get_object(self, m: re.Match[str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        w, error = self._object(m, "get")
        if error or w is None:
            return error or (500, {}, {})
        body = o.scale(self.cluster, w) if m.group(5) else o.workload(self.cluster, w)
        if w.name in self.behaviour.race:  # someone else writes between this read and our patch
            self.cluster.written(w)
        return 200, body, {}

    def patch(
        self, path: str, query: dict[str, str], auth: str | None, content_type: str, body: Any
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if auth != f"Bearer {TOKEN}":
            return 401, status(401, "Unauthorized", "Unauthorized"), {}
        with self.lock:
            self.requests.append(
                f"PATCH {path}" + (f"?{'&'.join(f'{k}={v}' for k, v in query.items())}" if query else "")
            )
            m = OBJECT.fullmatch(path)
            if not m:
                return (
                    405,
                    status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"),
                    {},
                )
            w, error = self._object(m, "patch")
            if error or w is None:
                return error or (500, {}, {})
            if query.get("dryRun") not in (None, "All"):
                return 400, status(400, "BadRequest", f"invalid dry run option: {query['dryRun']}"), {}
            try:
                new = writes.patch(
                    self.cluster, w, content_type, body, query.get("dryRun") == "All", m.group(5) and "scale" or ""
                )
            except writes.PatchError as e:
                return e.code, status(e.code, e.reason, e.message), {}
            return 200, new, {}

    def _items(self, path: str) -> list[dict[str, Any]]:
        c = self.cluster
        kind_of = {
            "deployments": "Deployment",
            "statefulsets": "StatefulSet",
            "daemonsets": "DaemonSet",
            "cronjobs": "CronJob",
        }
        resource = path.rsplit("/", 1)[1]
        if path == "/api/v1/pods":
            return [o.pod(c, p) for p in c.pods]
        if path == "/api/v1/nodes":
            return [o.node(c, n) for n in c.node_names]
        if path == "/api/v1/namespaces":
            return [o.namespace(c, n) for n in c.namespaces]
        if resource in kind_of:
            return [o.workload(c, w) for w in c.workloads if w.kind == kind_of[resource]]
        if resource in ("replicasets", "jobs"):
            return o.intermediates(c)["ReplicaSet" if resource == "replicasets" else "Job"]
        if resource == "horizontalpodautoscalers":
            return [o.hpa(c, w) for w in c.workloads if w.name in self.behaviour.hpa_for]
        if resource == "poddisruptionbudgets":
            return [o.pdb(c, w) for w in c.workloads if w.name in self.behaviour.pdb_for]
        if path == "/apis/metrics.k8s.io/v1beta1/pods":
            return [self._tampered(o.pod_metrics(c, p)) for p in c.pods]
        return [{"metadata": {"name": n}, "timestamp": "", "window": "30s", "usage": {}} for n in c.node_names]

    def _tampered(self, doc: dict[str, Any]) -> dict[str, Any]:
        if self.behaviour.tamper:
            self.behaviour.tamper(doc)
        return doc

    def _page(
        self, path: str, items: list[dict[str, Any]], query: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        group, resource = LISTS[path]
        start = 0
        if token := query.get("continue"):
            epoch, offset = (int(x) for x in token.split(":"))
            if epoch != self.behaviour.token_epoch:
                return (
                    410,
                    status(
                        410,
                        "Expired",
                        "The provided continue parameter is too old to display a "
                        "consistent list result. You can start a new list without the continue "
                        "parameter.",
                    ),
                    {},
                )
            start = offset
        limit = int(query["limit"]) if query.get("limit") and group != "metrics.k8s.io" else len(items)
        page = items[start : start + limit]
        meta: dict[str, Any] = {"resourceVersion": str(1000 + self.cluster.step)}
        if start + limit < len(items):
            meta["continue"] = f"{self.behaviour.token_epoch}:{start + limit}"
            meta["remainingItemCount"] = len(items) - start - limit
        kind = LIST_KIND.get(resource, "List") if group != "metrics.k8s.io" else "PodMetricsList"
        api_version = (
            "v1"
            if not group
            else (
                "metrics.k8s.io/v1beta1" if group == "metrics.k8s.io" else path.split("/")[2] + "/" + path.split("/")[3]
            )
        )
        return 200, {"kind": kind, "apiVersion": api_version, "metadata": meta, "items": page}, {}


def _matches(labels: dict[str, str], selector: str) -> bool:
    for term in selector.split(","):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.strip().rstrip("=")) != v.strip():
                return False
        elif term.strip() and term.strip() not in labels:
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    server_state: KubeServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stalls

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        started = time.perf_counter()
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path == "/_test/stats":
            code, body, headers = (
                200,
                {"handler_seconds": self.server_state.handler_seconds, "requests": len(self.server_state.requests)},
                {},
            )
        else:
            code, body, headers = self.server_state.answer(url.path, query, self.headers.get("Authorization"))
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        with self.server_state.lock:
            self.server_state.handler_seconds += time.perf_counter() - started
        self._send(code, data, headers)

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        url = urlparse(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        state = self.server_state
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            code, doc = 401, status(401, "Unauthorized", "Unauthorized")
        else:
            with state.lock:
                state.requests.append("POST " + url.path)
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                body = None
            code, doc = state.review(url.path, body)
        self._send(code, orjson.dumps(doc), {})

    def do_PATCH(self) -> None:  # noqa: N802 - the http.server API
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            code, doc, headers = 400, status(400, "BadRequest", "the body of the request could not be decoded"), {}
        else:
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            code, doc, headers = self.server_state.patch(
                url.path, query, self.headers.get("Authorization"), content_type, body
            )
        self._send(code, orjson.dumps(doc), headers)

    def _send(self, code: int, data: bytes, headers: dict[str, str]) -> None:
        if TRICKLE in headers:
            self._trickle(code, data, float(headers.pop(TRICKLE)), headers)
            return
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    def _trickle(self, code: int, data: bytes, seconds: float, headers: dict[str, str]) -> None:
        """A server (or a proxy) that sends one byte at a time: every socket read succeeds, none ends it."""
        head = f"HTTP/1.1 {code} OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        try:
            for byte in head.encode() + data:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(seconds)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass

    def log_message(self, *args: object) -> None:
        pass


def write_kubeconfig(path: Path, servers: dict[str, str], current: str | None = None, token: str = TOKEN) -> Path:
    """A kubeconfig with one context per server (name -> URL)."""
    import yaml

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": url}} for n, url in servers.items()],
        "users": [{"name": "upid", "user": {"token": token}}],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "upid"}} for n in servers],
        "current-context": current or next(iter(servers)),
    }
    path.write_text(yaml.safe_dump(doc))
    return path
