"""Table-driven tests of the pure Kubernetes conversion on recorded objects."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest
from kubernetes import client  # type: ignore[import-untyped,unused-ignore]

from oracle_monitor.collectors.k8s.convert import (
    convert_event,
    convert_pod,
    describe,
    pod_deleted,
    pod_rescheduled,
    pod_usage,
)
from oracle_monitor.model import Severity
from tests.fakes.k8s_fixtures import fixture


def ns(text: str) -> int:
    """RFC 3339 text as unix nanoseconds, computed independently of the code under test."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 10**9


def kinds(events: list[Any]) -> list[tuple[str, int]]:
    return [(e.kind, e.time_ns) for e in events]


# (fixture seen after `before` (None: first sighting), expected (kind, time) pairs in order)
CASES = [
    ("pod_pending", None, [("pod_created", ns("2026-03-14T09:12:03Z"))]),
    ("pod_running", "pod_pending", [
        ("pod_scheduled", ns("2026-03-14T09:12:03Z")),
        ("pod_ready", ns("2026-03-14T09:12:19Z")),
    ]),
    ("pod_oomkilled", "pod_running", [
        ("oom_killed", ns("2026-03-14T10:41:26Z")),
        ("container_restarted", ns("2026-03-14T10:41:27Z")),
    ]),
    ("pod_oomkilled_again", "pod_oomkilled", [
        ("oom_killed", ns("2026-03-14T11:02:50Z")),
        ("container_restarted", ns("2026-03-14T11:02:51Z")),
    ]),
    ("pod_crashloop", None, [
        ("pod_created", ns("2026-03-14T11:20:40Z")),
        ("pod_scheduled", ns("2026-03-14T11:20:40Z")),
        ("container_restarted", ns("2026-03-14T11:22:33Z")),
        ("crash_loop", ns("2026-03-14T11:22:33Z")),
    ]),
    ("pod_image_pull_backoff", None, [
        ("pod_created", ns("2026-03-14T11:25:10Z")),
        ("pod_scheduled", ns("2026-03-14T11:25:10Z")),
        ("image_pull_backoff", ns("2026-03-14T11:25:10Z")),
    ]),
    ("pod_config_error", None, [
        ("pod_created", ns("2026-03-14T11:25:10Z")),
        ("pod_scheduled", ns("2026-03-14T11:25:10Z")),
        ("config_error", ns("2026-03-14T11:25:10Z")),
    ]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "before", "expected"), CASES)
def test_pod_changes_become_events_at_recorded_times(
    name: str, before: str | None, expected: list[tuple[str, int]]
) -> None:
    previous = convert_pod(None, fixture(before))[0] if before else None
    _, events = convert_pod(previous, fixture(name))
    assert kinds(events) == expected
    for event in events:
        assert event.source == "k8s"
        assert event.entity == f"pod/agents/{fixture(name)['metadata']['name']}"
        assert event.attributes["k8s.pod.uid"] == fixture(name)["metadata"]["uid"]


@pytest.mark.parametrize(
    ("kind", "severity"),
    [("oom_killed", Severity.ERROR), ("crash_loop", Severity.ERROR),
     ("config_error", Severity.WARNING), ("image_pull_backoff", Severity.WARNING),
     ("container_restarted", Severity.INFO)],
)  # fmt: skip
def test_severities(kind: str, severity: Severity) -> None:
    found = [
        e
        for name in ("pod_oomkilled", "pod_crashloop", "pod_config_error", "pod_image_pull_backoff")
        for e in convert_pod(None, fixture(name))[1]
        if e.kind == kind
    ]
    assert found
    assert {e.severity for e in found} == {severity}


def test_oom_attributes_and_repeated_kills_are_separate_events() -> None:
    first, events = convert_pod(None, fixture("pod_oomkilled"))
    oom = next(e for e in events if e.kind == "oom_killed")
    assert oom.attributes["k8s.container.name"] == "agent"
    assert oom.attributes["k8s.container.exit_code"] == 137
    assert oom.attributes["reason"] == "OOMKilled"
    assert oom.attributes["gen_ai.agent.name"] == "research-agent"
    assert oom.attributes["k8s.node.name"] == "gke-agents-pool-1-3f2a9c1e-7xkq"
    assert oom.attributes["k8s.owner.kind"] == "ReplicaSet"
    assert oom.severity is Severity.ERROR
    _, again = convert_pod(first, fixture("pod_oomkilled_again"))
    second = next(e for e in again if e.kind == "oom_killed")
    assert second.event_id != oom.event_id
    assert second.attributes["k8s.container.restart_count"] == 2


@pytest.mark.parametrize("name", ["pod_running", "pod_oomkilled", "pod_crashloop", "pod_evicted"])
def test_nothing_changed_no_events(name: str) -> None:
    state, first = convert_pod(None, fixture(name))
    assert first
    again = fixture(name)
    again["metadata"]["resourceVersion"] = "999999"
    assert convert_pod(state, again)[1] == []


def test_accepts_client_model_objects() -> None:
    pod = client.ApiClient().deserialize(
        __import__("json").dumps(fixture("pod_oomkilled")), "V1Pod", "application/json"
    )
    assert kinds(convert_pod(None, pod)[1]) == kinds(convert_pod(None, fixture("pod_oomkilled"))[1])


def test_crash_loop_is_reported_once_until_ready() -> None:
    state, _ = convert_pod(None, fixture("pod_crashloop"))
    running = copy.deepcopy(fixture("pod_crashloop"))
    status = running["status"]["containerStatuses"][0]
    status["state"] = {"running": {"startedAt": "2026-03-14T11:23:53Z"}}
    state, events = convert_pod(state, running)
    assert events == []
    status["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    assert [e.kind for e in convert_pod(state, running)[1]] == []


def test_not_ready_and_evicted() -> None:
    running, _ = convert_pod(None, fixture("pod_running"))
    evicted = fixture("pod_evicted")
    evicted["metadata"]["uid"] = running.uid
    _, events = convert_pod(running, evicted)
    assert kinds(events) == [
        ("pod_evicted", ns("2026-03-14T12:05:41Z")),
        ("pod_not_ready", ns("2026-03-14T12:05:43Z")),
    ]
    assert events[0].severity is Severity.ERROR
    assert "low on resource: memory" in str(events[0].attributes["message"])


def test_rescheduled_and_deleted() -> None:
    old, _ = convert_pod(None, fixture("pod_evicted"))
    new, _ = convert_pod(None, fixture("pod_replacement"))
    event = pod_rescheduled(old, new, 600 * 10**9)
    assert event is not None
    assert event.kind == "pod_rescheduled"
    assert event.time_ns == ns("2026-03-14T12:05:42Z")
    assert event.attributes["oracle.k8s.replaced_pod.name"] == "research-agent-7d9f8b6c4d-b7h4m"
    assert event.attributes["k8s.pod.name"] == "research-agent-7d9f8b6c4d-k5c8d"
    other, _ = convert_pod(None, fixture("pod_crashloop"))  # another ReplicaSet
    assert pod_rescheduled(old, other, 600 * 10**9) is None
    assert pod_rescheduled(old, new, 1) is None  # outside the window
    gone = fixture("pod_running")
    gone["metadata"]["deletionTimestamp"] = "2026-03-14T12:30:00Z"
    state, _ = convert_pod(None, gone)
    assert pod_deleted(state, 1).time_ns == ns("2026-03-14T12:30:00Z")
    assert pod_deleted(old, 7).time_ns == 7


def test_core_events() -> None:
    failed, backoff, killing = fixture("events")["items"]
    event = convert_event(failed)
    assert event is not None
    assert (event.kind, event.severity) == ("failed_scheduling", Severity.WARNING)
    assert event.time_ns == ns("2026-03-14T09:12:03Z") + 412_871_000
    assert event.entity == "pod/agents/research-agent-7d9f8b6c4d-x2k9p"
    assert "Insufficient memory" in str(event.attributes["message"])
    assert convert_event(backoff) is None
    assert convert_event(killing) is None


def test_usage_against_requests_and_limits() -> None:
    (key, usage) = pod_usage(fixture("pod_metrics")["items"][0])
    assert key == ("agents", "research-agent-7d9f8b6c4d-x2k9p")
    assert usage == pytest.approx((0.187465213, 301244 * 1024))
    state, _ = convert_pod(None, fixture("pod_running"))
    row = describe(state, usage)
    assert row["cpu_cores"]["usage_of_request"] == pytest.approx(0.75, abs=1e-3)
    assert row["memory_bytes"]["usage_of_limit"] == pytest.approx(301244 / (512 * 1024), abs=1e-3)
    assert (row["phase"], row["ready"], row["agent"]) == ("Running", True, "research-agent")


def test_a_replica_set_pod_names_its_deployment() -> None:
    """The Deployment is the ReplicaSet's name without the pod's ``pod-template-hash``."""
    _, events = convert_pod(None, fixture("pod_image_pull_backoff"))
    pulled = next(e for e in events if e.kind == "image_pull_backoff")
    assert pulled.attributes["k8s.replicaset.name"] == "planner-agent-5c8d9e7f6b"
    assert pulled.attributes["k8s.deployment.name"] == "planner-agent"
    other = copy.deepcopy(fixture("pod_image_pull_backoff"))
    other["metadata"]["labels"]["pod-template-hash"] = "0000000000"  # not the ReplicaSet's
    _, events = convert_pod(None, other)
    assert all("k8s.deployment.name" not in e.attributes for e in events)
