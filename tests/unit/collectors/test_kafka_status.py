"""Burrow-style consumer status and the Kafka collector's events, from sequences of polls."""

from __future__ import annotations

import pytest

from oracle_monitor.collectors.kafka.lag import PartitionLag
from oracle_monitor.collectors.kafka.status import (
    Evaluator,
    GroupPoll,
    Poll,
    Sample,
    Status,
    TopicPoll,
    evaluate_partition,
    worst,
)
from oracle_monitor.model import Severity


def samples(*pairs: tuple[int, int]) -> list[Sample]:
    return [Sample(float(i), committed, lag) for i, (committed, lag) in enumerate(pairs)]


@pytest.mark.parametrize(
    ("window", "empty", "expected"),
    [
        (samples(), False, Status.OK),
        (samples((5, 0), (5, 0), (5, 0)), False, Status.OK),  # rule 1: no lag
        (samples((5, 3), (5, 3), (5, 0)), True, Status.OK),  # rule 1: current lag zero
        (samples((5, 3), (5, 3)), False, Status.OK),  # window not full yet
        (samples((5, 3), (5, 3), (5, 3)), False, Status.STALL),  # rule 3
        (samples((5, 3), (5, 4), (5, 9)), False, Status.STALL),
        (samples((5, 3), (5, 3), (5, 3)), True, Status.STOP),  # rule 3, nobody in the group
        (samples((5, 3), (8, 3), (9, 3)), False, Status.OK),  # lag fixed: not falling behind
        (samples((5, 3), (8, 3), (9, 4)), False, Status.WARN),  # rule 4: never down, grew
        (samples((5, 3), (8, 4), (9, 9)), False, Status.WARN),  # rule 4: lag growing
        (samples((5, 3), (8, 1), (9, 4)), False, Status.OK),  # lag went down once
        (samples((9, 3), (5, 7)), False, Status.ERR),  # rule 2: rewind, even before full
        (samples((9, 3), (5, 7), (6, 5)), False, Status.ERR),
    ],
)
def test_evaluate_partition(window: list[Sample], empty: bool, expected: Status) -> None:
    assert evaluate_partition(window, 3, empty) is expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], Status.OK),
        ([Status.OK, Status.WARN], Status.WARN),
        ([Status.STALL, Status.WARN, Status.OK], Status.STALL),
        ([Status.STALL, Status.STOP], Status.STOP),
        ([Status.ERR, Status.STOP], Status.ERR),
    ],
)
def test_worst(statuses: list[Status], expected: Status) -> None:
    assert worst(statuses) is expected


def poll(
    time: float,
    offsets: dict[int, tuple[int, int, float | None]],
    *,
    state: str = "STABLE",
    error: str | None = None,
    dlq_depth: int | None = None,
) -> Poll:
    """One poll of group ``g`` on topic ``t``: partition -> (committed, end, lag seconds)."""
    partitions = {
        ("t", p): PartitionLag(c, e, max(0, e - c), e < c, s) for p, (c, e, s) in offsets.items()
    }
    topics = {"t": TopicPoll({p: e for p, (_, e, _) in offsets.items()})}
    if dlq_depth is not None:
        topics["t.dlq"] = TopicPoll({0: dlq_depth}, True, dlq_depth)
    return Poll(time, {"g": GroupPoll(state, 0, partitions, error)}, topics)


def run(polls: list[Poll], spike: float = 5.0) -> tuple[Evaluator, list[list[str]]]:
    evaluator = Evaluator("kafka:9092", window_polls=3, lag_spike_seconds=spike)
    kinds = [[event.kind for event in evaluator.observe(p)] for p in polls]
    return evaluator, kinds


def test_steady_consumer_stays_ok_without_events() -> None:
    evaluator, kinds = run([poll(t, {0: (10 * t, 10 * t + 1, 0.1)}) for t in range(6)])
    assert evaluator.statuses["g"] is Status.OK
    assert kinds == [[]] * 6


def test_stall_then_recovery_events() -> None:
    polls = [poll(t, {0: (5, 8, 1.0), 1: (4, 4, 0.0)}) for t in range(4)]
    polls.append(poll(4, {0: (8, 8, 0.0), 1: (4, 4, 0.0)}))
    evaluator = Evaluator("kafka:9092", window_polls=3, lag_spike_seconds=5.0)
    events = [evaluator.observe(p) for p in polls]
    assert [len(e) for e in events] == [0, 0, 1, 0, 1]
    stalled, recovered = events[2][0], events[4][0]
    assert stalled.kind == recovered.kind == "consumer_status_changed"
    assert stalled.entity == "consumer_group/g" and stalled.severity is Severity.ERROR
    assert stalled.attributes["oracle.kafka.status"] == "STALL"
    assert stalled.attributes["oracle.kafka.lag"] == 3
    assert stalled.attributes["messaging.consumer.group.name"] == "g"
    assert evaluator.partition_statuses["g"][("t", 0)] is Status.OK
    assert (recovered.attributes["oracle.kafka.status"], recovered.severity) == (
        "OK",
        Severity.INFO,
    )


@pytest.mark.parametrize(
    ("polls", "final", "severity"),
    [
        ([poll(t, {0: (5, 8, None)}, state="EMPTY") for t in range(3)], Status.STOP, "error"),
        ([poll(t, {0: (t, 2 * t + 1, None)}) for t in range(3)], Status.WARN, "warning"),
        ([poll(0, {0: (1, 2, None)}, error="coordinator not available")], Status.ERR, "error"),
    ],
)
def test_status_changes(polls: list[Poll], final: Status, severity: str) -> None:
    evaluator, kinds = run(polls)
    assert evaluator.statuses["g"] is final
    assert kinds[-1] == ["consumer_status_changed"]
    assert sum(len(k) for k in kinds) == 1
    last = Evaluator("b", 3, 5.0)
    for p in polls:
        events = last.observe(p)
    assert events[0].severity == severity


def test_lag_spike_only_when_crossing_upwards() -> None:
    seconds = [1.0, 6.0, 9.0, 2.0, 5.0, None, 7.0]
    polls = [poll(t, {0: (t, t + 5, s)}) for t, s in enumerate(seconds)]
    evaluator = Evaluator("b", window_polls=10, lag_spike_seconds=5.0)
    spikes = [[e for e in evaluator.observe(p) if e.kind == "lag_spike"] for p in polls]
    assert [len(s) for s in spikes] == [0, 1, 0, 0, 1, 0, 0]
    spike = spikes[1][0]
    assert spike.entity == "partition/t/0" and spike.severity is Severity.WARNING
    assert spike.attributes["messaging.destination.name"] == "t"
    assert spike.attributes["messaging.destination.partition.id"] == "0"
    assert spike.attributes["messaging.kafka.consumer.group"] == "g"
    assert spike.attributes["oracle.kafka.lag_seconds"] == 6.0


def test_dlq_growth_on_increase_only() -> None:
    depths = [3, 3, 5, 4, 9]
    evaluator = Evaluator("b", 3, 5.0)
    growth = [
        [e for e in evaluator.observe(poll(t, {}, dlq_depth=d)) if e.kind == "dlq_growth"]
        for t, d in enumerate(depths)
    ]
    assert [len(g) for g in growth] == [0, 0, 1, 0, 1]
    assert growth[2][0].entity == "topic/t.dlq"
    assert growth[2][0].attributes["oracle.kafka.dlq_growth"] == 2
    assert growth[4][0].attributes["oracle.kafka.dlq_depth"] == 9
    assert growth[4][0].severity is Severity.WARNING


def test_broker_unreachable_once_then_recovered() -> None:
    evaluator = Evaluator("kafka:9092", 3, 5.0)
    assert evaluator.observe(poll(0, {})) == []
    down = evaluator.unreachable(1.0, "transport failure")
    assert [e.kind for e in down] == ["broker_unreachable"]
    assert down[0].entity == "broker/kafka:9092" and down[0].severity is Severity.ERROR
    assert down[0].attributes["error.message"] == "transport failure"
    assert evaluator.unreachable(2.0, "transport failure") == []
    up = evaluator.observe(poll(3, {}))
    assert [e.kind for e in up] == ["broker_recovered"]
    assert evaluator.observe(poll(4, {})) == []


def test_vanished_group_forgets_its_windows() -> None:
    evaluator, _ = run([poll(t, {0: (5, 8, 1.0)}) for t in range(3)])
    assert evaluator.statuses["g"] is Status.STALL
    evaluator.observe(Poll(3.0))
    assert evaluator.statuses == {} and evaluator.windows == {}


def test_group_events_name_the_members_last_seen() -> None:
    """A group whose pods cannot run has no members when its lag spikes: its events name
    the members it had (their client ids and hosts), which say which pods run it."""
    evaluator = Evaluator("kafka:9092", window_polls=3, lag_spike_seconds=5.0)
    with_members = poll(0, {0: (10, 10, 0.0)})
    with_members.groups["g"].member_names = ("10.0.0.7", "writer-7d9f8c6b5-x2x4q")
    assert evaluator.observe(with_members) == []
    events = evaluator.observe(poll(1, {0: (10, 60, 9.0)}))  # no members now
    spike = next(e for e in events if e.kind == "lag_spike")
    assert spike.attributes["oracle.kafka.consumer.members"] == [
        "10.0.0.7",
        "writer-7d9f8c6b5-x2x4q",
    ]
    fresh = Evaluator("kafka:9092", window_polls=3, lag_spike_seconds=5.0)
    events = fresh.observe(poll(1, {0: (10, 60, 9.0)}))
    assert all("oracle.kafka.consumer.members" not in e.attributes for e in events)
