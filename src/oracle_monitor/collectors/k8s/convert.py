"""Pure conversion of Kubernetes objects into `InfraEvent`s (no I/O, no clock).

`convert_pod` compares a pod (a ``V1Pod`` or its JSON dict, camelCase as the API sends it)
with the small `PodState` kept from the previous sighting and returns the new state and what
changed, each event at the time Kubernetes recorded it. A container's waiting state carries no
timestamp; events read from it (crash loop, image pull, config error) take the pod's latest
condition transition, the closest recorded time. Repeated OOM kills are separate events: a
termination is keyed by its ``finishedAt``, never by a sticky flag.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from oracle_monitor.model import Attributes, InfraEvent, Severity

SOURCE = "k8s"
AGENT_LABELS = ("app.kubernetes.io/name", "app", "oracle.agent")
IMAGE_PULL = frozenset({"ImagePullBackOff", "ErrImagePull"})
CONFIG_ERRORS = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "InvalidImageName", "RunContainerError"}
)
_SEVERITY = {
    "oom_killed": Severity.ERROR,
    "crash_loop": Severity.ERROR,
    "pod_evicted": Severity.ERROR,
    "failed_scheduling": Severity.WARNING,
    "memory_pressure": Severity.WARNING,
    "config_error": Severity.WARNING,
    "image_pull_backoff": Severity.WARNING,
    "api_unreachable": Severity.ERROR,
}


@dataclass(frozen=True, slots=True)
class ContainerState:
    """What is remembered of one container between sightings."""

    name: str
    restart_count: int = 0
    waiting_reason: str = ""
    ready: bool = False
    crash_looping: bool = False
    terminations: frozenset[str] = frozenset()  # finishedAt of terminations already reported
    last_termination_reason: str = ""


@dataclass(frozen=True, slots=True)
class PodState:
    """What is remembered of one pod between sightings (also what `state()` reports)."""

    uid: str
    name: str
    namespace: str
    node: str
    phase: str
    reason: str
    scheduled: bool
    ready: bool
    created_ns: int
    deletion_ns: int
    grace_seconds: int
    owner_kind: str
    owner_name: str
    owner_uid: str
    agent: str
    containers: tuple[ContainerState, ...]
    requests: tuple[float, float]  # cpu cores, memory bytes (sums over containers)
    limits: tuple[float, float]
    last_time_ns: int  # latest condition transition (time of waiting-state events)
    #: The Deployment of a pod whose ReplicaSet it made (``<deployment>-<pod-template-hash>``).
    deployment: str = ""

    @property
    def entity(self) -> str:
        """``pod/<namespace>/<name>``."""
        return f"pod/{self.namespace}/{self.name}"

    @property
    def restarts(self) -> int:
        """Restarts of all containers."""
        return sum(c.restart_count for c in self.containers)

    @property
    def dead(self) -> bool:
        """Whether the pod failed, was evicted or is being deleted."""
        return self.phase == "Failed" or self.reason == "Evicted" or self.deletion_ns > 0

    def attributes(self) -> Attributes:
        """The pod's identifying attributes, in OpenTelemetry names."""
        attrs: Attributes = {
            "k8s.pod.name": self.name,
            "k8s.pod.uid": self.uid,
            "k8s.namespace.name": self.namespace,
        }
        if self.node:
            attrs["k8s.node.name"] = self.node
        if self.owner_kind:
            attrs["k8s.owner.kind"] = self.owner_kind
            attrs["k8s.owner.name"] = self.owner_name
            attrs[f"k8s.{self.owner_kind.lower()}.name"] = self.owner_name
        if self.deployment:
            attrs["k8s.deployment.name"] = self.deployment
        if self.agent:
            attrs["gen_ai.agent.name"] = self.agent
        return attrs


def parse_time_ns(value: Any) -> int:
    """An RFC 3339 timestamp (or datetime) as unix nanoseconds; 0 when absent."""
    if not value:
        return 0
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1_000


def parse_quantity(value: Any) -> float:
    """A Kubernetes quantity (``250m``, ``512Mi``, ``187465213n``) as a float; 0 if absent."""
    if value is None or value == "":
        return 0.0
    text = str(value)
    for suffix, factor in _QUANTITY_SUFFIXES:
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


_QUANTITY_SUFFIXES = (
    ("Ki", 2.0**10), ("Mi", 2.0**20), ("Gi", 2.0**30), ("Ti", 2.0**40), ("Pi", 2.0**50),
    ("n", 1e-9), ("u", 1e-6), ("m", 1e-3), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12),
)  # fmt: skip


def as_dict(obj: Any) -> dict[str, Any]:
    """A Kubernetes model object (or dict) as its camelCase JSON dict."""
    if isinstance(obj, dict):
        return obj
    result: dict[str, Any] = obj.to_dict(serialize=True)
    return result


def event(
    state: PodState, kind: str, time_ns: int, summary: str, extra: Attributes | None = None
) -> InfraEvent:
    """An event about the pod ``state``, with its attributes plus ``extra`` (None dropped)."""
    attrs = state.attributes()
    attrs.update({key: val for key, val in (extra or {}).items() if val is not None})
    return InfraEvent(
        time_ns=time_ns,
        source=SOURCE,
        kind=kind,
        entity=state.entity,
        severity=_SEVERITY.get(kind, Severity.INFO),
        summary=summary,
        attributes=attrs,
    )


def _resources(pod: dict[str, Any], key: str) -> tuple[float, float]:
    cpu = mem = 0.0
    for container in (pod.get("spec") or {}).get("containers") or []:
        values = (container.get("resources") or {}).get(key) or {}
        cpu += parse_quantity(values.get("cpu"))
        mem += parse_quantity(values.get("memory"))
    return cpu, mem


def pod_state(pod: dict[str, Any], previous: PodState | None = None) -> PodState:
    """The `PodState` of a pod dict (containers filled in by `convert_pod`)."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    refs: list[dict[str, Any]] = meta.get("ownerReferences") or []
    owner: dict[str, Any] = next((o for o in refs if o.get("controller")), {})
    labels = meta.get("labels") or {}
    times = [parse_time_ns(c.get("lastTransitionTime")) for c in conditions.values()]
    return PodState(
        uid=meta.get("uid") or "",
        name=meta.get("name") or "",
        namespace=meta.get("namespace") or "",
        node=spec.get("nodeName") or "",
        phase=status.get("phase") or "",
        reason=status.get("reason") or "",
        scheduled=(conditions.get("PodScheduled") or {}).get("status") == "True",
        ready=(conditions.get("Ready") or {}).get("status") == "True",
        created_ns=parse_time_ns(meta.get("creationTimestamp")),
        deletion_ns=parse_time_ns(meta.get("deletionTimestamp")),
        grace_seconds=int(meta.get("deletionGracePeriodSeconds") or 0),
        owner_kind=owner.get("kind") or "",
        owner_name=owner.get("name") or "",
        owner_uid=owner.get("uid") or "",
        agent=next((str(labels[k]) for k in AGENT_LABELS if labels.get(k)), ""),
        containers=previous.containers if previous else (),
        requests=_resources(pod, "requests"),
        limits=_resources(pod, "limits"),
        last_time_ns=max(times, default=0) or parse_time_ns(meta.get("creationTimestamp")),
        deployment=deployment_of(owner, labels),
    )


def deployment_of(owner: dict[str, Any], labels: dict[str, Any]) -> str:
    """The Deployment whose ReplicaSet ``owner`` is, as the ReplicaSet's name says it:
    ``<deployment>-<pod-template-hash>`` (``""`` for any other owner)."""
    name, template = str(owner.get("name") or ""), str(labels.get("pod-template-hash") or "")
    if owner.get("kind") != "ReplicaSet" or not template or not name.endswith("-" + template):
        return ""
    return name[: -len(template) - 1]


def convert_pod(previous: PodState | None, pod: Any) -> tuple[PodState, list[InfraEvent]]:
    """The pod's new state and the events of what changed since ``previous``."""
    raw = as_dict(pod)
    state = pod_state(raw, previous)
    status = raw.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ready_cond = conditions.get("Ready") or {}
    ready_ns = parse_time_ns(ready_cond.get("lastTransitionTime"))
    found: list[tuple[str, int, str, Attributes | None]] = []
    if previous is None:
        found.append(("pod_created", state.created_ns, "created", None))
    if state.scheduled and not (previous and previous.scheduled):
        when = parse_time_ns(conditions["PodScheduled"].get("lastTransitionTime"))
        found.append(("pod_scheduled", when, f"scheduled on {state.node}", None))
    if state.ready and not (previous and previous.ready):
        found.append(("pod_ready", ready_ns, "ready", None))
    elif previous and previous.ready and not state.ready:
        found.append(("pod_not_ready", ready_ns, "not ready", {"reason": ready_cond.get("reason")}))
    if state.reason == "Evicted" and (previous is None or previous.reason != "Evicted"):
        extra: Attributes = {"reason": "Evicted", "message": status.get("message")}
        target = parse_time_ns((conditions.get("DisruptionTarget") or {}).get("lastTransitionTime"))
        found.append(("pod_evicted", target or state.last_time_ns, "evicted", extra))
    events = [event(state, k, t, f"{state.name} {what}", x) for k, t, what, x in found]
    before = {c.name: c for c in previous.containers} if previous else {}
    containers = []
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        container, more = _container(state, cs, before.get(cs.get("name") or ""))
        containers.append(container)
        events.extend(more)
    events.sort(key=lambda e: e.time_ns)
    return replace(state, containers=tuple(containers)), events


def _container(
    pod: PodState, cs: dict[str, Any], prev: ContainerState | None
) -> tuple[ContainerState, list[InfraEvent]]:
    name = cs.get("name") or ""
    restarts = int(cs.get("restartCount") or 0)
    current, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated") or {}
    waiting = current.get("waiting") or {}
    reason, ready = waiting.get("reason") or "", bool(cs.get("ready"))
    seen = prev.terminations if prev else frozenset()
    last_reason = prev.last_termination_reason if prev else ""
    common: Attributes = {"k8s.container.name": name, "k8s.container.restart_count": restarts}
    found: list[InfraEvent] = []
    for term in (t for t in (last, current.get("terminated")) if t):
        finished = str(term.get("finishedAt") or "")
        last_reason = term.get("reason") or last_reason
        if finished in seen:
            continue
        seen = seen | {finished}
        if term.get("reason") == "OOMKilled":
            extra = {
                **common,
                "k8s.container.exit_code": term.get("exitCode"),
                "reason": "OOMKilled",
            }
            found.append(
                event(pod, "oom_killed", parse_time_ns(finished), f"{name} OOMKilled", extra)
            )
    if restarts > (prev.restart_count if prev else 0):
        when = parse_time_ns(
            (current.get("running") or {}).get("startedAt") or last.get("finishedAt")
        )
        extra = {
            **common,
            "k8s.container.exit_code": last.get("exitCode"),
            "reason": last.get("reason"),
        }
        found.append(
            event(pod, "container_restarted", when or pod.last_time_ns, f"{name} restarted", extra)
        )
    was_reason = prev.waiting_reason if prev else ""
    crash_looping = (prev.crash_looping if prev else False) and not ready
    kind = ""
    if reason == "CrashLoopBackOff" and not crash_looping:
        kind, crash_looping = "crash_loop", True
    elif reason in IMAGE_PULL and was_reason not in IMAGE_PULL:
        kind = "image_pull_backoff"
    elif reason in CONFIG_ERRORS and reason != was_reason:
        kind = "config_error"
    if kind:
        extra = {**common, "reason": reason, "message": waiting.get("message")}
        crashed = parse_time_ns(last.get("finishedAt")) if kind == "crash_loop" else 0
        found.append(event(pod, kind, crashed or pod.last_time_ns, f"{name}: {reason}", extra))
    state = ContainerState(name, restarts, reason, ready, crash_looping, seen, last_reason)
    return state, found


def pod_deleted(state: PodState, time_ns: int) -> InfraEvent:
    """``pod_deleted`` for a pod gone from the API (at its deletionTimestamp when known)."""
    return event(state, "pod_deleted", state.deletion_ns or time_ns, f"{state.name} deleted")


def death_ns(state: PodState) -> int:
    """When a dead pod stopped counting: deletion requested, eviction or failure."""
    if state.deletion_ns:
        return state.deletion_ns - state.grace_seconds * 1_000_000_000
    return state.last_time_ns


def pod_rescheduled(old: PodState, new: PodState, window_ns: int) -> InfraEvent | None:
    """``pod_rescheduled`` when ``new`` (same controller) replaces the dead ``old`` in time."""
    if not old.owner_uid or old.owner_uid != new.owner_uid or old.uid == new.uid:
        return None
    died = death_ns(old)
    if not (new.created_ns >= old.created_ns and abs(new.created_ns - died) <= window_ns):
        return None
    extra: Attributes = {
        "oracle.k8s.replaced_pod.name": old.name,
        "oracle.k8s.replaced_pod.uid": old.uid,
        "oracle.k8s.replaced_pod.node": old.node or None,
    }
    return event(new, "pod_rescheduled", new.created_ns, f"{new.name} replaces {old.name}", extra)


def convert_event(obj: Any) -> InfraEvent | None:
    """A core/v1 Event as an `InfraEvent` (``failed_scheduling``), or ``None`` if ignored."""
    raw = as_dict(obj)
    if raw.get("reason") != "FailedScheduling":
        return None
    involved = raw.get("involvedObject") or {}
    when = parse_time_ns(
        raw.get("lastTimestamp") or raw.get("eventTime") or raw.get("firstTimestamp")
    ) or parse_time_ns((raw.get("metadata") or {}).get("creationTimestamp"))
    namespace, name = involved.get("namespace") or "", involved.get("name") or ""
    return InfraEvent(
        time_ns=when,
        source=SOURCE,
        kind="failed_scheduling",
        entity=f"pod/{namespace}/{name}",
        severity=Severity.WARNING,
        summary=f"{name}: {raw.get('message') or 'FailedScheduling'}",
        attributes={
            "k8s.pod.name": name,
            "k8s.pod.uid": involved.get("uid") or "",
            "k8s.namespace.name": namespace,
            "reason": "FailedScheduling",
            "message": raw.get("message") or "",
            "k8s.event.count": int(raw.get("count") or 1),
        },
    )


def pod_usage(item: dict[str, Any]) -> tuple[tuple[str, str], tuple[float, float]]:
    """A ``metrics.k8s.io`` PodMetrics item: ((namespace, name), (cpu cores, memory bytes))."""
    meta = item.get("metadata") or {}
    cpu = mem = 0.0
    for container in item.get("containers") or []:
        usage = container.get("usage") or {}
        cpu += parse_quantity(usage.get("cpu"))
        mem += parse_quantity(usage.get("memory"))
    return (meta.get("namespace") or "", meta.get("name") or ""), (cpu, mem)


def describe(pod: PodState, usage: tuple[float, float] | None) -> dict[str, Any]:
    """The JSON-ready state of one pod, with usage against its requests and limits."""

    def resource(index: int) -> dict[str, float | None]:
        used = usage[index] if usage else None
        request, limit = pod.requests[index], pod.limits[index]
        return {
            "usage": used,
            "request": request or None,
            "limit": limit or None,
            "usage_of_request": round(used / request, 4) if used is not None and request else None,
            "usage_of_limit": round(used / limit, 4) if used is not None and limit else None,
        }

    last = next(
        (c.last_termination_reason for c in pod.containers if c.last_termination_reason), ""
    )
    return {
        "namespace": pod.namespace,
        "name": pod.name,
        "uid": pod.uid,
        "phase": pod.phase,
        "reason": pod.reason or None,
        "ready": pod.ready,
        "restarts": pod.restarts,
        "last_termination_reason": last or None,
        "node": pod.node or None,
        "owner": {"kind": pod.owner_kind, "name": pod.owner_name} if pod.owner_kind else None,
        "agent": pod.agent or None,
        "cpu_cores": resource(0),
        "memory_bytes": resource(1),
    }
