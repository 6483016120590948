"""A small Kubernetes API server: the demo's cluster and the collector's tests and benchmark.

It speaks the *wire protocol* the official client (and so the Kubernetes collector) speaks:
``PodList``/``EventList``/``NodeList`` lists with a ``metadata.resourceVersion``; watches
(``?watch=true&resourceVersion=N&allowWatchBookmarks=true&timeoutSeconds=S``) as chunked,
newline-delimited ``{"type": ..., "object": ...}`` that send only changes after ``N``, end
with a ``BOOKMARK`` and close after ``S`` seconds; an ``ERROR`` event carrying a 410
``Status`` when ``N`` was compacted away; 401 ``Status`` without the required bearer token;
403 ``Status`` for a resource the credentials may not read (`forbidden`, as RBAC answers);
``metrics.k8s.io/v1beta1`` pod metrics (or 404); and ``/version``, ``/api``, ``/apis``. It
stores what it is given (`apply`, `delete`): the demo's `oracle_monitor.demo.cluster` gives
it the pods of its agent processes, the tests recorded objects.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

_ROUTE = re.compile(
    r"^/(?:api/v1|apis/metrics\.k8s\.io/v1beta1)(?:/namespaces/(?P<ns>[^/]+))?"
    r"/(?P<res>pods|events|nodes)$"
)
_LIST_KINDS = {"pods": "PodList", "events": "EventList", "nodes": "NodeList"}
_KINDS = {"pods": "Pod", "events": "Event", "nodes": "Node"}
VERSION = {
    "major": "1", "minor": "33", "emulationMajor": "1", "emulationMinor": "33",
    "minCompatibilityMajor": "1", "minCompatibilityMinor": "32", "gitVersion": "v1.33.2",
    "gitCommit": "a57b6f7709f6c2722b92f07b8b4c48210a51fc40", "gitTreeState": "clean",
    "buildDate": "2025-06-17T18:32:50Z", "goVersion": "go1.24.4", "compiler": "gc",
    "platform": "linux/amd64",
}  # fmt: skip


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    """A ``meta/v1 Status`` as the API server sends it with errors."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}  # fmt: skip


class ApiServer:
    """The API server (start with ``with ApiServer() as api:``); see the module docstring."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._rv = 1000
        self._objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
            resource: {} for resource in _KINDS
        }
        self._history: dict[str, tuple[list[int], list[tuple[str, bytes]]]] = {
            resource: ([], []) for resource in _KINDS
        }
        #: Resources the credentials may not list or watch (RBAC): 403 Forbidden.
        self.forbidden: set[str] = set()
        self._compacted = 0
        self._token: str | None = None
        #: PodMetrics items, or a function giving them; None: metrics API absent (404).
        self.metrics: list[dict[str, Any]] | Callable[[], list[dict[str, Any]]] | None = None
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._conns: set[socket.socket] = set()
        self.port = 0

    # Lifecycle and faults.

    def __enter__(self) -> ApiServer:
        self.set_reachable(True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.set_reachable(False)

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def set_reachable(self, reachable: bool) -> None:
        """Listen (on the same port as before), or refuse connections and cut open ones."""
        if reachable and self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
            self._server.daemon_threads = True
            self.port = self._server.server_address[1]
            threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        elif not reachable and self._server is not None:
            server, self._server = self._server, None
            server.shutdown()
            server.server_close()
            self._cut()

    def require_token(self, token: str | None) -> None:
        """Answer 401 unless ``Authorization: Bearer <token>`` (None: accept any); cuts watches."""
        with self._cond:
            self._token = token
        self._cut()

    def _cut(self) -> None:
        with self._cond:
            for conn in list(self._conns):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._cond.notify_all()

    def write_kubeconfig(self, path: Path, token: str = "fake-token", name: str = "fake") -> Path:
        """Write a kubeconfig (JSON is YAML) pointing at this server with ``token``."""
        doc = {
            "apiVersion": "v1", "kind": "Config", "current-context": name, "preferences": {},
            "clusters": [{"name": name, "cluster": {"server": self.url}}],
            "users": [{"name": name, "user": {"token": token}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        }  # fmt: skip
        path.write_text(json.dumps(doc))
        return path

    # Changing the cluster.

    def apply(self, resource: str, obj: dict[str, Any]) -> int:
        """Create or update an object (ADDED or MODIFIED); returns its new resourceVersion."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])  # nodes have no namespace
        with self._cond:
            kind = "MODIFIED" if key in self._objects[resource] else "ADDED"
            return self._record(resource, kind, key, obj)

    def delete(self, resource: str, namespace: str, name: str) -> int:
        """Delete an object (DELETED, with its last state)."""
        with self._cond:
            obj = self._objects[resource][(namespace, name)]
            return self._record(resource, "DELETED", (namespace, name), obj)

    def delete_node(self, name: str) -> int:
        """Delete a node (cluster-scoped: no namespace)."""
        return self.delete("nodes", "", name)

    def _record(self, resource: str, kind: str, key: tuple[str, str], obj: dict[str, Any]) -> int:
        self._rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self._rv)
        if kind == "DELETED":
            del self._objects[resource][key]
        else:
            self._objects[resource][key] = obj
        line = json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"
        versions, entries = self._history[resource]
        versions.append(self._rv)
        entries.append((key[0], line))
        self._cond.notify_all()
        return self._rv

    def compact(self) -> None:
        """Forget history: watches from an older resourceVersion get 410 Gone."""
        with self._cond:
            self._compacted = self._rv

    @property
    def resource_version(self) -> int:
        """The latest resourceVersion."""
        return self._rv

    # Serving.

    def _authorized(self, header: str | None) -> bool:
        return self._token is None or header == f"Bearer {self._token}"

    def _list(self, resource: str, namespace: str | None, query: dict[str, str]) -> dict[str, Any]:
        """A list page: ``limit`` items from offset ``continue`` (ordered by namespace/name)."""
        with self._cond:
            keys = sorted(k for k in self._objects[resource] if namespace in (None, k[0]))
            start = int(query.get("continue") or 0)
            end = start + int(query.get("limit") or len(keys) or 1)
            meta: dict[str, Any] = {"resourceVersion": str(self._rv)}
            if end < len(keys):
                meta["continue"] = str(end)
            items = [self._objects[resource][k] for k in keys[start:end]]
            return {"kind": _LIST_KINDS[resource], "apiVersion": "v1", "metadata": meta,
                    "items": copy.deepcopy(items)}  # fmt: skip

    def _watch(self, handler: BaseHTTPRequestHandler, resource: str, ns: str | None,
               query: dict[str, str]) -> None:  # fmt: skip
        since = int(query.get("resourceVersion") or self._rv)
        deadline = time.monotonic() + float(query.get("timeoutSeconds") or 1800)
        send = _chunk_writer(handler)
        with self._cond:
            if since < self._compacted:
                message = f"too old resource version: {since} ({self._compacted})"
                event = {"type": "ERROR", "object": status(410, "Expired", message)}
                send(json.dumps(event).encode() + b"\n")
                send(b"")
                return
            versions, entries = self._history[resource]
            position = bisect.bisect_right(versions, since)
        server = self._server
        while self._server is server and server is not None:
            with self._cond:
                batch = [line for n, line in entries[position:] if ns in (None, n)]
                position = len(entries)
                remaining = deadline - time.monotonic()
                if not batch and remaining > 0:
                    self._cond.wait(min(remaining, 0.5))
                    continue
            if batch:
                send(b"".join(batch))
            if remaining <= 0:
                break
        if query.get("allowWatchBookmarks") == "true":
            kind = _KINDS[resource]
            obj = {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": str(self._rv)}}
            send(json.dumps({"type": "BOOKMARK", "object": obj}).encode() + b"\n")
        send(b"")


def _chunk_writer(handler: BaseHTTPRequestHandler) -> Any:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()

    def send(data: bytes) -> None:
        handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()

    return send


def _handler(api: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            with api._cond:
                api._conns.add(self.connection)
            try:
                self._route()
            except (BrokenPipeError, ConnectionResetError, OSError):
                self.close_connection = True
            finally:
                with api._cond:
                    api._conns.discard(self.connection)

        def _route(self) -> None:
            url = urlsplit(self.path)
            api.requests.append(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if not api._authorized(self.headers.get("Authorization")):
                self._json(401, status(401, "Unauthorized", "Unauthorized"))
                return
            if url.path == "/version":
                self._json(200, VERSION)
                return
            if url.path == "/api":
                address = {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{api.port}"}
                body = {"kind": "APIVersions", "versions": ["v1"]}
                self._json(200, {**body, "serverAddressByClientCIDRs": [address]})
                return
            if url.path == "/apis":
                groups = [] if api.metrics is None else [_METRICS_GROUP]
                self._json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
                return
            match = _ROUTE.match(url.path)
            if match is None:
                self._json(404, status(404, "NotFound", "the server could not find the resource"))
                return
            resource, ns = match["res"], match["ns"]
            if resource in api.forbidden:
                message = (
                    f'{resource} is forbidden: User "oracle" cannot list resource "{resource}"'
                )
                self._json(403, status(403, "Forbidden", message))
            elif url.path.startswith("/apis/metrics"):
                self._metrics(ns)
            elif query.get("watch") == "true":
                self.close_connection = True
                api._watch(self, resource, ns, query)
            else:
                self._json(200, api._list(resource, ns, query))

        def _metrics(self, ns: str | None) -> None:
            if api.metrics is None:
                self._json(404, status(404, "NotFound", "the server could not find the resource"))
                return
            found = api.metrics() if callable(api.metrics) else api.metrics
            items = [m for m in found if ns in (None, m["metadata"]["namespace"])]
            self._json(200, {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
                             "metadata": {}, "items": items})  # fmt: skip

    return Handler


_METRICS_GROUP = {
    "name": "metrics.k8s.io",
    "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}],
    "preferredVersion": {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"},
}
