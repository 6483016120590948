"""Memory pressure on a recorded pod (limit 512 MiB): reported once it has stayed at or above the
ratio for the duration, from the moment it began, with its figures; not for a dip, not twice."""

from __future__ import annotations

import dataclasses

from oracle_monitor.collectors.k8s.convert import pod_state
from oracle_monitor.collectors.k8s.pressure import MemoryPressure
from tests.fakes.k8s_fixtures import fixture

S = 1_000_000_000
MIB = 1024 * 1024


def test_pressure_held_for_the_duration_is_reported_once() -> None:
    pod = pod_state(fixture("pod_running"))
    assert pod.limits[1] == 512 * MIB
    pressure = MemoryPressure(ratio=0.9, seconds=30)
    high = 500 * MIB  # 98 %
    assert pressure.observe([(pod, 300 * MIB)], 0) == []
    assert pressure.observe([(pod, high)], 10 * S) == []
    assert pressure.observe([(pod, high)], 30 * S) == []  # 20 s so far
    (event,) = pressure.observe([(pod, high)], 40 * S)
    assert (event.kind, event.entity, event.time_ns) == (
        "memory_pressure", "pod/agents/research-agent-7d9f8b6c4d-x2k9p", 10 * S,
    )  # fmt: skip
    assert event.summary == "memory at 98% of its limit (500 of 512 MiB) for 30 s"
    assert event.attributes["k8s.pod.memory.utilization"] == 0.9766
    assert event.attributes["k8s.pod.uid"] == pod.uid
    assert event.severity == "warning"
    assert pressure.observe([(pod, high)], 60 * S) == []  # once per episode


def test_a_dip_starts_over_and_a_pod_without_limit_never_counts() -> None:
    pod = pod_state(fixture("pod_running"))
    pressure = MemoryPressure(ratio=0.9, seconds=30)
    pressure.observe([(pod, 480 * MIB)], 0)
    pressure.observe([(pod, 100 * MIB)], 20 * S)  # below: the clock starts again
    assert pressure.observe([(pod, 480 * MIB)], 40 * S) == []
    assert [e.time_ns for e in pressure.observe([(pod, 480 * MIB)], 70 * S)] == [40 * S]
    unlimited = dataclasses.replace(pod, limits=(1.0, 0.0))
    fresh = MemoryPressure(ratio=0.9, seconds=0)
    assert fresh.observe([(unlimited, 10_000 * MIB)], 0) == []
