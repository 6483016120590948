"""Which pods run a consumer group, and which pod problems leave it without consumers."""

from __future__ import annotations

import pytest

from oracle_monitor.aggregator.runners import Runners, runners_of, starves
from oracle_monitor.model import InfraEvent, Severity, SpanKind
from tests.unit.aggregator.scenarios import (
    WRITER_NEW,
    TraceBuilder,
    consumer_attrs,
    lag_spike,
    rollout_pod_event,
)


def pod_event(name: str, kind: str = "image_pull_backoff", **attributes: str) -> InfraEvent:
    return InfraEvent(
        0, "k8s", kind, f"pod/agents/{name}", Severity.WARNING, kind,
        {"k8s.pod.name": name, "k8s.namespace.name": "agents", **attributes},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("runner", "event", "starved"),
    [
        # A member that is the failing pod itself (a crash loop in place).
        ("writer-7d9f8c6b5-x2x4q", pod_event("writer-7d9f8c6b5-x2x4q", "crash_loop"), True),
        # A pod of the member's Deployment (a new ReplicaSet).
        ("writer-7d9f8c6b5-x2x4q",
         pod_event("writer-6c4b7f9d8-qq7zt", **{"k8s.deployment.name": "writer"}), True),
        # A Deployment whose name only starts like the runner's.
        ("writer-api-7d9f8c6b5-x2x4q",
         pod_event("writer-6c4b7f9d8-qq7zt", **{"k8s.deployment.name": "writer"}), False),
        # A StatefulSet's pods are <name>-<ordinal>.
        ("kafka-writer-2",
         pod_event("kafka-writer-0", "failed_scheduling", **{"k8s.owner.kind": "StatefulSet",
                   "k8s.owner.name": "kafka-writer", "k8s.statefulset.name": "kafka-writer"}),
         True),
        ("kafka-writer-2x",
         pod_event("kafka-writer-0", **{"k8s.statefulset.name": "kafka-writer"}), False),
        # A core/v1 Event names only its pod: two pods of one Deployment by their names.
        ("writer-7d9f8c6b5-x2x4q", pod_event("writer-6c4b7f9d8-qq7zt", "failed_scheduling"),
         True),
        ("writer-api-7d9f8c6b5-x2x4q",
         pod_event("writer-6c4b7f9d8-qq7zt", "failed_scheduling"), False),
        # Not a problem that stops a pod from consuming.
        ("writer-7d9f8c6b5-x2x4q", pod_event("writer-7d9f8c6b5-x2x4q", "pod_ready"), False),
    ],
)  # fmt: skip
def test_starves_by_member_name(runner: str, event: InfraEvent, starved: bool) -> None:
    assert starves(event, Runners(pods={("", runner)})) is starved


def test_members_come_from_the_groups_own_events_only() -> None:
    mine = lag_spike(1.0, "drafts", 0, "writers", 5)
    mine.attributes["oracle.kafka.consumer.members"] = ["writer-7d9f8c6b5-x2x4q"]
    theirs = lag_spike(1.0, "drafts", 0, "billing", 5)
    theirs.attributes["oracle.kafka.consumer.members"] = ["billing-1a2b3c4d5-aaaaa"]
    assert runners_of("writers", [mine, theirs], []).pods == {("", "writer-7d9f8c6b5-x2x4q")}


def test_consumer_spans_give_pods_and_workloads_in_their_namespace() -> None:
    b = TraceBuilder("0123456789abcdef0123456789abcdef", "t", "writer", WRITER_NEW)
    span = b.span("process drafts", 0, 1, kind=SpanKind.CONSUMER,
                  messaging=consumer_attrs("drafts", 0, "writers"))  # fmt: skip
    other = b.span("process bills", 0, 1, kind=SpanKind.CONSUMER,
                   messaging=consumer_attrs("bills", 0, "billing"))  # fmt: skip
    producer = b.span("send drafts", 0, 1, kind=SpanKind.PRODUCER,
                      messaging=consumer_attrs("drafts", 0, "writers"))  # fmt: skip
    found = runners_of("writers", [], [span, other, producer])
    assert found.pods == {("agents", WRITER_NEW.name)}
    elsewhere = rollout_pod_event(WRITER_NEW, "crash_loop", 0.0, "writer")
    assert starves(elsewhere, found)
    moved = InfraEvent(
        0, "k8s", "crash_loop", f"pod/staging/{WRITER_NEW.name}", Severity.ERROR, "",
        {"k8s.pod.name": WRITER_NEW.name, "k8s.namespace.name": "staging"},
    )  # fmt: skip
    assert not starves(moved, found)
