"""The Kubernetes collector: list + watch pods and core Events, poll pod metrics.

Each watched resource (pods, events; per namespace or cluster-wide) runs a loop in its own
daemon thread with the official (synchronous) ``kubernetes`` client: list, then watch from the
list's resourceVersion with bookmarks; a 410 Gone relists and reconciles (pods missing from the
new list are deleted, events already seen are not sent again). Any other failure (API server
unreachable, 401 after a token expired) is reported in `health` and as one ``api_unreachable``
event, and retried with backoff (credentials are reloaded on 401) until ``api_recovered``.
Responses are read raw and parsed as JSON, which keeps thousands of pods cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import orjson
from kubernetes import client  # type: ignore[import-untyped,unused-ignore]
from kubernetes import config as _config  # type: ignore[import-untyped,unused-ignore]
from kubernetes.watch import watch as _watch  # type: ignore[import-untyped,unused-ignore]
from urllib3.exceptions import ProtocolError

from oracle_monitor.collectors.base import CollectorHealth, EventSink
from oracle_monitor.collectors.k8s.config import K8sConfig
from oracle_monitor.collectors.k8s.convert import (
    PodState,
    convert_event,
    convert_pod,
    death_ns,
    describe,
    pod_deleted,
    pod_rescheduled,
    pod_usage,
)
from oracle_monitor.collectors.k8s.nodes import NodeState, convert_node, node_deleted
from oracle_monitor.collectors.k8s.pressure import MemoryPressure
from oracle_monitor.model import InfraEvent, Severity

State = TypeVar("State")

log = logging.getLogger(__name__)
kube_config: Any = _config  # the client's loaders are untyped
lines: Callable[[Any], Iterator[str]] = _watch.iter_resp_lines


class _Gone(Exception):
    """The watch's resourceVersion is too old: relist."""


class K8sCollector:
    """Watches pods, Events and pod metrics of one cluster (see the module docstring)."""

    name = "k8s"

    def __init__(self, cfg: K8sConfig, sink: EventSink) -> None:
        self.config = cfg
        self._sink = sink
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._open: set[Any] = set()
        self._api: Any = None
        self._pods: dict[str, PodState] = {}
        self._nodes: dict[str, NodeState] = {}
        self._dead: dict[str, list[PodState]] = {}  # controller uid -> dead, not yet replaced
        self._seen_events: dict[str, tuple[Any, ...]] = {}
        self._errors: dict[str, str] = {}
        self._synced: set[str] = set()
        self._since_ns = time.time_ns()
        self._usage: dict[tuple[str, str], tuple[float, float]] = {}
        self._metrics_available: bool | None = None
        self._pressure = MemoryPressure(cfg.memory_pressure_ratio, cfg.memory_pressure_seconds)
        self._started = self._stopped = False

    async def start(self) -> None:
        """Start the watch threads; returns at once."""
        if self._started:
            return
        self._started = True
        scopes = self.config.namespaces or ("",)
        for resource in ("pods", "events"):
            for namespace in scopes:
                self._spawn(f"{resource}:{namespace or '*'}", self._loop, resource, namespace)
        self._spawn("nodes", self._loop, "nodes", "")  # cluster-scoped
        self._spawn("metrics", self._metrics_loop)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=f"k8s-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    async def shutdown(self) -> None:
        """Stop every thread (open streams are closed at once); idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        with self._lock:
            for resp in list(self._open):
                _abort(resp)
        deadline = time.monotonic() + 5
        for thread in self._threads:
            await asyncio.to_thread(thread.join, max(0.0, deadline - time.monotonic()))
        self._since_ns = time.time_ns()

    def health(self) -> CollectorHealth:
        """``unreachable`` while any watch fails, ``starting`` until all listed, else ``ok``."""
        with self._lock:
            if self._stopped:
                return CollectorHealth("stopped", "", self._since_ns)
            if self._errors:
                return CollectorHealth(
                    "unreachable", "; ".join(self._errors.values()), self._since_ns
                )
            # The pods and events loops; nodes are optional (namespaced credentials).
            loops = {
                f"{resource}:{namespace or '*'}"
                for resource in ("pods", "events")
                for namespace in self.config.namespaces or ("",)
            }
            synced = loops <= self._synced
            return CollectorHealth("ok" if synced else "starting", "", self._since_ns)

    def state(self) -> dict[str, Any]:
        """Pods (phase, readiness, restarts, usage against requests/limits) and health."""
        with self._lock:
            pods = sorted(self._pods.values(), key=lambda p: (p.namespace, p.name))
            usage = dict(self._usage)
        return {
            "health": self.health().as_json(),
            "metrics_available": self._metrics_available,
            "pods": [describe(pod, usage.get((pod.namespace, pod.name))) for pod in pods],
        }

    # The client and its requests.

    def _client(self) -> Any:
        if self._api is None:
            cfg = client.Configuration()
            if self.config.in_cluster:
                kube_config.load_incluster_config(client_configuration=cfg)
            else:
                path = str(self.config.kubeconfig)
                kube_config.load_kube_config(path, client_configuration=cfg, persist_config=False)
            self._api = client.ApiClient(cfg)
        return self._api

    def _call(self, fn: Callable[[Any], Callable[..., Any]], *args: Any, **kwargs: Any) -> Any:
        """Send one request (``fn`` picks the method from the client); register the response."""
        resp = fn(self._client())(*args, _preload_content=False, **kwargs)
        with self._lock:
            self._open.add(resp)
            stopped = self._stop.is_set()
        if stopped:
            _abort(resp)
        return resp

    def _release(self, resp: Any) -> None:
        with self._lock:
            self._open.discard(resp)
        resp.release_conn()

    def _list_fn(
        self, resource: str, namespace: str
    ) -> tuple[Callable[[Any], Any], tuple[str, ...]]:
        if resource == "nodes":
            return _method(client.CoreV1Api, "list_node"), ()
        if resource == "pods":
            name = "list_namespaced_pod" if namespace else "list_pod_for_all_namespaces"
        else:
            name = "list_namespaced_event" if namespace else "list_event_for_all_namespaces"
        return _method(client.CoreV1Api, name), ((namespace,) if namespace else ())

    # The list/watch loop.

    def _loop(self, resource: str, namespace: str) -> None:
        loop_id = f"{resource}:{namespace or '*'}"
        handle = {"pods": self._pod_events, "events": self._core_events,
                  "nodes": self._node_events}[resource]  # fmt: skip
        fn, args = self._list_fn(resource, namespace)
        version: str | None = None
        backoff = self.config.backoff_initial_seconds
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._relist(fn, args, handle, namespace)
                    self._ok(loop_id)
                version = self._watch(fn, args, handle, version, loop_id)
                backoff = self.config.backoff_initial_seconds
            except _Gone:
                version = None
            except Exception as exc:
                if self._stop.is_set():
                    break
                if isinstance(exc, client.ApiException) and exc.status == 410:
                    version = None
                    continue
                if (
                    resource == "nodes"
                    and isinstance(exc, client.ApiException)
                    and exc.status == 403
                ):
                    # Namespaced credentials may not read nodes: watch pods without them.
                    log.info("k8s: nodes are not readable with these credentials; not watched")
                    return
                if isinstance(exc, client.ApiException) and exc.status == 401:
                    self._api = None  # reload credentials (rotated token, refreshed kubeconfig)
                self._failed(loop_id, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.config.backoff_max_seconds)

    def _relist(self, fn: Any, args: tuple[str, ...], handle: Any, namespace: str) -> str:
        """List page by page (500 a page keeps memory flat), then reconcile what vanished."""
        seen: set[str] = set()
        token: str | None = None
        while True:
            resp = self._call(
                fn, *args, limit=500, _continue=token,
                _request_timeout=self.config.request_timeout_seconds,
            )  # fmt: skip
            try:
                body = orjson.loads(resp.data)
            finally:
                self._release(resp)
            items = body.get("items") or []
            items.sort(key=lambda o: (o.get("metadata") or {}).get("creationTimestamp") or "")
            handle([("ADDED", item) for item in items], seen)
            del items
            token = (body.get("metadata") or {}).get("continue") or None
            if not token:
                break
        handle([], seen, namespace or "*")
        return str(body["metadata"]["resourceVersion"])

    def _watch(
        self, fn: Any, args: tuple[str, ...], handle: Any, version: str, loop_id: str
    ) -> str:
        timeout = self.config.watch_timeout_seconds
        resp = self._call(
            fn,
            *args,
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=timeout,
            _request_timeout=(self.config.request_timeout_seconds, timeout + 15),
        )
        self._ok(loop_id)
        try:
            for kind, obj in _decode(lines(resp)):
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _Gone
                    raise client.ApiException(status=obj.get("code"), reason=obj.get("message"))
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if kind != "BOOKMARK":
                    handle([(kind, obj)])
                if self._stop.is_set():
                    break
        except (ProtocolError, OSError) as exc:  # stream cut: resume; reconnecting tells if down
            log.debug("k8s %s: watch cut: %s", loop_id, exc)
        finally:
            resp.close()
            self._release(resp)
        return version

    def _metrics_loop(self) -> None:
        """Poll ``metrics.k8s.io`` pod metrics; without that API (404) ask again rarely."""
        api = "metrics.k8s.io", "v1beta1"
        while not self._stop.is_set():
            delay = self.config.metrics_poll_seconds
            try:
                usage: dict[tuple[str, str], tuple[float, float]] = {}
                for ns in self.config.namespaces or ("",):
                    name = "list_namespaced_custom_object" if ns else "list_cluster_custom_object"
                    args = (*api, ns, "pods") if ns else (*api, "pods")
                    resp = self._call(
                        _method(client.CustomObjectsApi, name),
                        *args,
                        _request_timeout=self.config.request_timeout_seconds,
                    )
                    try:
                        items = orjson.loads(resp.data).get("items") or []
                    finally:
                        self._release(resp)
                    usage.update(pod_usage(item) for item in items)
                with self._lock:
                    self._usage, self._metrics_available = usage, True
                    measured = [
                        (pod, usage[(pod.namespace, pod.name)][1])
                        for pod in self._pods.values()
                        if (pod.namespace, pod.name) in usage
                    ]
                self._emit(self._pressure.observe(measured, time.time_ns()))
            except client.ApiException as exc:
                if exc.status == 404:
                    self._metrics_available = False
                    delay = self.config.metrics_retry_seconds
            except Exception as exc:  # the pod loops report connectivity
                log.debug("k8s metrics: %s", exc)
            self._stop.wait(delay)

    # Turning objects into events.

    def _pod_events(
        self,
        changes: list[tuple[str, dict[str, Any]]],
        seen: set[str] | None = None,
        done: str = "",
    ) -> None:
        """Apply pod changes; ``seen`` collects a relist's uids, ``done`` ends it (scope)."""
        out: list[InfraEvent] = []
        now = time.time_ns()
        seen = set() if seen is None else seen
        with self._lock:
            for kind, obj in changes:
                uid = (obj.get("metadata") or {}).get("uid") or ""
                seen.add(uid)
                previous = self._pods.get(uid)
                state, events = convert_pod(previous, obj)
                out.extend(events)
                if kind == "DELETED":
                    self._pods.pop(uid, None)
                    out.append(pod_deleted(state, now))
                else:
                    self._pods[uid] = state
                if state.dead and not (previous and previous.dead):
                    self._dead.setdefault(state.owner_uid, []).append(state)
                elif previous is None and state.owner_uid:
                    out.extend(self._replacement(state))
            if done:

                def in_scope(pod: PodState) -> bool:
                    return done in ("*", pod.namespace)  # "*": every namespace

                out.extend(_unlisted(self._pods, seen, in_scope, pod_deleted, now))
        self._emit(out)

    def _node_events(
        self,
        changes: list[tuple[str, dict[str, Any]]],
        seen: set[str] | None = None,
        done: str = "",
    ) -> None:
        """Apply node changes; ``seen`` collects a relist's names, ``done`` ends it."""
        out: list[InfraEvent] = []
        now = time.time_ns()
        seen = set() if seen is None else seen
        with self._lock:
            for kind, obj in changes:
                name = (obj.get("metadata") or {}).get("name") or ""
                seen.add(name)
                state, events = convert_node(self._nodes.get(name), obj)
                out.extend(events)
                if kind == "DELETED":
                    self._nodes.pop(name, None)
                    out.append(node_deleted(state, now))
                else:
                    self._nodes[name] = state
            if done:
                out.extend(_unlisted(self._nodes, seen, lambda _node: True, node_deleted, now))
        self._emit(out)

    def _replacement(self, new: PodState) -> list[InfraEvent]:
        window = int(self.config.reschedule_window_seconds * 1e9)
        # Pods that died longer than the window before this one was created are forgotten.
        dead = self._dead.get(new.owner_uid, [])[-50:]
        candidates = [p for p in dead if new.created_ns - death_ns(p) < window]
        for old in candidates:
            found = pod_rescheduled(old, new, window)
            if found is not None:
                candidates.remove(old)
                self._dead[new.owner_uid] = candidates
                return [found]
        self._dead[new.owner_uid] = candidates
        return []

    def _core_events(
        self,
        changes: list[tuple[str, dict[str, Any]]],
        seen: set[str] | None = None,
        done: str = "",
    ) -> None:
        """Convert Event changes, each occurrence once (relists included)."""
        out: list[InfraEvent] = []
        listed = set() if seen is None else seen
        with self._lock:
            for kind, obj in changes:
                meta = obj.get("metadata") or {}
                uid = f"{meta.get('namespace')}/{meta.get('uid')}"
                listed.add(uid)
                if kind == "DELETED":
                    self._seen_events.pop(uid, None)
                    continue
                mark = (obj.get("count"), obj.get("lastTimestamp"), obj.get("eventTime"))
                if self._seen_events.get(uid) == mark:
                    continue
                self._seen_events[uid] = mark
                found = convert_event(obj)
                if found is not None:
                    out.append(found)
            if done:  # forget Events gone from a fresh list
                for uid in [u for u in self._seen_events if u not in listed]:
                    if done == "*" or uid.startswith(f"{done}/"):
                        del self._seen_events[uid]
        self._emit(out)

    # Health.

    def _ok(self, loop_id: str) -> None:
        with self._lock:
            self._synced.add(loop_id)
            if self._errors.pop(loop_id, None) is None or self._errors:
                return
            self._since_ns = now = time.time_ns()
        self._emit([self._api_event("api_recovered", now, "Kubernetes API reachable again")])

    def _failed(self, loop_id: str, exc: Exception) -> None:
        detail = _describe(exc)
        with self._lock:
            if loop_id not in self._errors:
                log.warning("k8s %s: %s", loop_id, detail)
            first = not self._errors
            self._errors[loop_id] = f"{loop_id}: {detail}"
            if not first:
                return
            self._since_ns = now = time.time_ns()
        self._emit([self._api_event("api_unreachable", now, detail)])

    def _api_event(self, kind: str, now: int, detail: str) -> InfraEvent:
        host = self._api.configuration.host if self._api is not None else "kubernetes"
        severity = Severity.ERROR if kind == "api_unreachable" else Severity.INFO
        attrs: dict[str, Any] = {"server.address": host, "message": detail}
        return InfraEvent(now, "k8s", kind, f"cluster/{host}", severity, detail, attrs)

    def _emit(self, events: list[InfraEvent]) -> None:
        if events:
            self._sink(events)


def _unlisted(
    known: dict[str, State],
    listed: set[str],
    in_scope: Callable[[State], bool],
    deleted: Callable[[State, int], InfraEvent],
    now: int,
) -> list[InfraEvent]:
    """The end of a relist: forget the objects in its scope that it did not list (deleted
    while the watch was down), each reported as ``deleted`` would report its deletion."""
    gone = [key for key, state in known.items() if key not in listed and in_scope(state)]
    return [deleted(known.pop(key), now) for key in gone]


def _method(api_class: Any, name: str) -> Callable[[Any], Any]:
    """Picks method ``name`` of ``api_class`` bound to an ApiClient."""
    return lambda api: getattr(api_class(api), name)


def _decode(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for line in lines:
        if line.strip():
            event = orjson.loads(line)
            yield event.get("type") or "", event.get("object") or {}


def _describe(exc: Exception) -> str:
    if isinstance(exc, client.ApiException) and exc.status:
        return f"{exc.status} {exc.reason}"[:300]
    cause = getattr(exc, "reason", None)  # urllib3 MaxRetryError -> the connection error
    cause = cause if isinstance(cause, Exception) else exc
    return f"{type(cause).__name__}: {cause}"[:300]


def _abort(resp: Any) -> None:
    """Unblock a thread reading ``resp``: shut its socket down."""
    sock = getattr(getattr(resp, "connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
