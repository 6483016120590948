"""Node objects (shaped as the API server sends them: a worker Ready, then lost as the node
controller marks it when its kubelet stops posting status) into events."""

from __future__ import annotations

from oracle_monitor.collectors.k8s.convert import parse_time_ns
from oracle_monitor.collectors.k8s.nodes import convert_node, node_deleted
from tests.fakes.k8s_fixtures import fixture

NODE = "gke-agents-pool-1-3f2a9c1e-7xkq"


def test_a_ready_node_first_seen_raises_nothing() -> None:
    state, events = convert_node(None, fixture("node_ready"))
    assert (state.name, state.ready, state.memory_pressure) == (NODE, "True", False)
    assert events == []


def test_a_lost_node_is_not_ready_and_unreachable() -> None:
    before, _ = convert_node(None, fixture("node_ready"))
    after, events = convert_node(before, fixture("node_lost"))
    assert [(e.kind, e.entity, e.severity) for e in events] == [
        ("node_not_ready", "node/gke-agents-pool-1-3f2a9c1e-7xkq", "error"),
        ("node_unreachable", "node/gke-agents-pool-1-3f2a9c1e-7xkq", "error"),
    ]
    assert events[0].time_ns == parse_time_ns("2026-03-14T12:05:36Z")
    assert events[0].summary == "gke-agents-pool-1-3f2a9c1e-7xkq not ready: NodeStatusUnknown"
    assert events[0].attributes["k8s.node.name"] == "gke-agents-pool-1-3f2a9c1e-7xkq"
    assert convert_node(after, fixture("node_lost"))[1] == []  # nothing new: nothing again
    back, ready = convert_node(after, fixture("node_ready"))
    assert [e.kind for e in ready] == ["node_ready"]
    assert node_deleted(back, 5).kind == "node_deleted"


def test_memory_pressure_on_the_node() -> None:
    node = fixture("node_ready")
    pressure = next(c for c in node["status"]["conditions"] if c["type"] == "MemoryPressure")
    pressure.update(status="True", reason="KubeletHasInsufficientMemory",
                    lastTransitionTime="2026-03-14T12:05:00Z")  # fmt: skip
    before, _ = convert_node(None, fixture("node_ready"))
    _, events = convert_node(before, node)
    assert [(e.kind, e.entity, e.time_ns) for e in events] == [
        ("memory_pressure", f"node/{NODE}", parse_time_ns("2026-03-14T12:05:00Z"))
    ]
