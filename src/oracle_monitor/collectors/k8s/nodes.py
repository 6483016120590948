"""Node objects into events. Pure: no I/O, no clock.

A node that stops being Ready (its kubelet says so, or stops saying anything: ``Unknown``) is
``node_not_ready``; Ready again is ``node_ready``; the node controller's
``node.kubernetes.io/unreachable`` taint is ``node_unreachable``; a ``MemoryPressure``
condition turning True is ``memory_pressure`` on the node; a node removed from the API is
``node_deleted``. Each carries ``k8s.node.name`` (and uid), which is how the pods, and so the
spans, that ran on it are found: every pod event names its node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oracle_monitor.collectors.k8s.convert import as_dict, parse_time_ns
from oracle_monitor.model import Attributes, InfraEvent, Severity

__all__ = ["NodeState", "convert_node", "node_deleted"]

SOURCE = "k8s"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
_SEVERITY = {
    "node_not_ready": Severity.ERROR,
    "node_unreachable": Severity.ERROR,
    "node_deleted": Severity.WARNING,
    "memory_pressure": Severity.WARNING,
}


@dataclass(frozen=True, slots=True)
class NodeState:
    """What the collector remembers of a node between changes."""

    name: str
    uid: str
    ready: str  # the Ready condition's status: "True", "False", "Unknown" ("" if absent)
    ready_ns: int
    ready_reason: str
    memory_pressure: bool
    pressure_ns: int
    unreachable_ns: int  # when the unreachable taint was added, 0 without it

    @property
    def entity(self) -> str:
        """``node/<name>``."""
        return f"node/{self.name}"

    def attributes(self) -> Attributes:
        """The node's identifying attributes, in OpenTelemetry names."""
        return {"k8s.node.name": self.name, "k8s.node.uid": self.uid}


def node_state(node: dict[str, Any]) -> NodeState:
    """The `NodeState` of a node object (a dict as the API sends it)."""
    meta, spec, status = (node.get(k) or {} for k in ("metadata", "spec", "status"))
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ready, pressure = conditions.get("Ready") or {}, conditions.get("MemoryPressure") or {}
    taint = next((t for t in spec.get("taints") or [] if t.get("key") == UNREACHABLE_TAINT), None)
    return NodeState(
        name=meta.get("name") or "",
        uid=meta.get("uid") or "",
        ready=str(ready.get("status") or ""),
        ready_ns=parse_time_ns(ready.get("lastTransitionTime")),
        ready_reason=str(ready.get("reason") or ""),
        memory_pressure=pressure.get("status") == "True",
        pressure_ns=parse_time_ns(pressure.get("lastTransitionTime")),
        unreachable_ns=parse_time_ns(taint.get("timeAdded")) if taint else 0,
    )


def _event(state: NodeState, kind: str, time_ns: int, summary: str) -> InfraEvent:
    return InfraEvent(time_ns, SOURCE, kind, state.entity, _SEVERITY.get(kind, Severity.INFO),
                      summary, state.attributes())  # fmt: skip


def convert_node(previous: NodeState | None, node: Any) -> tuple[NodeState, list[InfraEvent]]:
    """The node's new state and the events of what changed since ``previous``."""
    state = node_state(as_dict(node))
    found: list[InfraEvent] = []
    was_ready = previous.ready if previous is not None else "True"
    if state.ready in ("False", "Unknown") and was_ready not in ("False", "Unknown"):
        why = state.ready_reason or f"Ready={state.ready}"
        found.append(
            _event(state, "node_not_ready", state.ready_ns, f"{state.name} not ready: {why}")
        )
    elif state.ready == "True" and previous is not None and was_ready != "True":
        found.append(_event(state, "node_ready", state.ready_ns, f"{state.name} ready"))
    if state.unreachable_ns and not (previous and previous.unreachable_ns):
        found.append(
            _event(state, "node_unreachable", state.unreachable_ns, f"{state.name} unreachable")
        )
    if state.memory_pressure and not (previous and previous.memory_pressure):
        summary = f"{state.name} under memory pressure (MemoryPressure=True)"
        found.append(_event(state, "memory_pressure", state.pressure_ns, summary))
    return state, found


def node_deleted(state: NodeState, time_ns: int) -> InfraEvent:
    """``node_deleted`` for a node gone from the API."""
    return _event(state, "node_deleted", time_ns, f"{state.name} deleted")
