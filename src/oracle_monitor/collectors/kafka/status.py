"""Pure consumer-status evaluation (Burrow's rules) and the Kafka collector's events.

Each poll gives, per consumer group and partition, the committed offset and the lag. Over a
sliding window of the last ``window_polls`` polls a partition is judged by Burrow's consumer
lag evaluation rules (github.com/linkedin/Burrow/wiki/Consumer-Lag-Evaluation-Rules, and
``calculatePartitionStatus`` in Burrow's ``core/internal/evaluator/caching.go``):

1. current lag 0 (or no end offset yet): OK, never an error;
2. the committed offset went backwards in the window: REWIND, reported here as ERR;
3. the committed offset did not change over the whole window while lag > 0: STALL (the
   consumer is there but not progressing) -- or STOP when the group has no consumer
   (state EMPTY/DEAD). Burrow tells the two apart by commit timestamps ("the time since the
   last commit exceeds the window's span": STOP); the Kafka admin API exposes no commit
   times, so an unmoving offset is STALL unless the group is known to have no members;
4. the offset moves but the lag never decreases from one poll to the next: WARN (falling
   behind). Burrow also warns when the lag stays exactly fixed; here the lag must also have
   grown over the window, so a steady consumer a few messages behind stays OK;
5. otherwise OK.

The group's status is its worst partition's (OK < WARN < STALL < STOP < ERR); a group whose
offsets could not be fetched is ERR. Until a window is full only rules 1, 2 and 5 apply.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise

from oracle_monitor.collectors.kafka.lag import PartitionLag
from oracle_monitor.model import Attributes, InfraEvent, Severity

SOURCE = "kafka"
TopicPartition = tuple[str, int]


class Status(StrEnum):
    """A consumer group's (or partition's) status, in Burrow's terms."""

    OK = "OK"
    WARN = "WARN"
    STALL = "STALL"
    STOP = "STOP"
    ERR = "ERR"


_RANK = {Status.OK: 0, Status.WARN: 1, Status.STALL: 2, Status.STOP: 3, Status.ERR: 4}
_SEVERITY = {
    Status.OK: Severity.INFO,
    Status.WARN: Severity.WARNING,
    Status.STALL: Severity.ERROR,
    Status.STOP: Severity.ERROR,
    Status.ERR: Severity.ERROR,
}
EMPTY_STATES = frozenset({"EMPTY", "DEAD"})


@dataclass(frozen=True, slots=True)
class Sample:
    """One poll of one group on one partition."""

    time: float
    committed: int
    lag: int


def evaluate_partition(window: Sequence[Sample], window_polls: int, group_empty: bool) -> Status:
    """Burrow's rules (module docstring) over the samples of one partition, oldest first."""
    if not window or window[-1].lag <= 0:
        return Status.OK
    if any(b.committed < a.committed for a, b in pairwise(window)):
        return Status.ERR
    if len(window) < window_polls:
        return Status.OK
    if window[-1].committed == window[0].committed:
        return Status.STOP if group_empty else Status.STALL
    if window[-1].lag > window[0].lag and all(b.lag >= a.lag for a, b in pairwise(window)):
        return Status.WARN
    return Status.OK


def worst(statuses: Sequence[Status]) -> Status:
    """The worst of some statuses (OK when there are none)."""
    return max(statuses, key=_RANK.__getitem__, default=Status.OK)


@dataclass(slots=True)
class GroupPoll:
    """What one poll saw of a consumer group."""

    state: str | None = None
    members: int | None = None
    partitions: dict[TopicPartition, PartitionLag] = field(default_factory=dict)
    error: str | None = None
    #: The members' client ids and host names (a member's client id often names its pod).
    member_names: tuple[str, ...] = ()


@dataclass(slots=True)
class TopicPoll:
    """What one poll saw of a topic; ``depth`` is set for dead-letter topics."""

    end_offsets: dict[int, int] = field(default_factory=dict)
    is_dlq: bool = False
    depth: int | None = None


@dataclass(slots=True)
class Poll:
    """One complete poll of the cluster, at ``time`` (seconds since the epoch)."""

    time: float
    groups: dict[str, GroupPoll] = field(default_factory=dict)
    topics: dict[str, TopicPoll] = field(default_factory=dict)


def group_attributes(group: str) -> Attributes:
    """The OpenTelemetry attributes naming a consumer group."""
    return {
        "messaging.system": "kafka",
        "messaging.kafka.consumer.group": group,
        "messaging.consumer.group.name": group,
    }


class Evaluator:
    """Keeps the windows and previous observations; turns each poll into events."""

    def __init__(self, bootstrap: str, window_polls: int, lag_spike_seconds: float) -> None:
        self.bootstrap = bootstrap
        self.window_polls = window_polls
        self.lag_spike_seconds = lag_spike_seconds
        self.windows: dict[tuple[str, str, int], deque[Sample]] = {}
        self.statuses: dict[str, Status] = {}
        self.partition_statuses: dict[str, dict[TopicPartition, Status]] = {}
        self._lag_seconds: dict[tuple[str, str, int], float] = {}
        self._depths: dict[str, int] = {}
        self._reachable: bool | None = None
        #: Each group's members as last seen with any (a group whose pods cannot run has none).
        self.last_members: dict[str, tuple[str, ...]] = {}

    def observe(self, poll: Poll) -> list[InfraEvent]:
        """Evaluate one successful poll; return the events it gives rise to."""
        time_ns = int(poll.time * 1e9)
        events = self._recovered(time_ns)
        for group, seen in poll.groups.items():
            events += self._observe_group(time_ns, poll.time, group, seen)
        for gone in set(self.statuses) - set(poll.groups):
            del self.statuses[gone]
            self.partition_statuses.pop(gone, None)
        live = {(g, t, p) for g, seen in poll.groups.items() for t, p in seen.partitions}
        for key in set(self.windows) - live:
            del self.windows[key]
            self._lag_seconds.pop(key, None)
        for topic, topic_poll in poll.topics.items():
            if topic_poll.depth is None:
                continue
            before = self._depths.get(topic)
            self._depths[topic] = topic_poll.depth
            if before is not None and topic_poll.depth > before:
                events.append(self._dlq_event(time_ns, topic, before, topic_poll.depth))
        return events

    def unreachable(self, time: float, error: str) -> list[InfraEvent]:
        """A poll failed to reach the broker: ``broker_unreachable`` once per outage."""
        if self._reachable is False:
            return []
        self._reachable = False
        return [
            InfraEvent(
                time_ns=int(time * 1e9),
                source=SOURCE,
                kind="broker_unreachable",
                entity=f"broker/{self.bootstrap}",
                severity=Severity.ERROR,
                summary=f"Kafka broker {self.bootstrap} unreachable: {error}",
                attributes={
                    "messaging.system": "kafka",
                    "server.address": self.bootstrap,
                    "error.message": error,
                },
            )
        ]

    def _recovered(self, time_ns: int) -> list[InfraEvent]:
        was, self._reachable = self._reachable, True
        if was is not False:
            return []
        return [
            InfraEvent(
                time_ns=time_ns,
                source=SOURCE,
                kind="broker_recovered",
                entity=f"broker/{self.bootstrap}",
                severity=Severity.INFO,
                summary=f"Kafka broker {self.bootstrap} reachable again",
                attributes={"messaging.system": "kafka", "server.address": self.bootstrap},
            )
        ]

    def _observe_group(
        self, time_ns: int, now: float, group: str, seen: GroupPoll
    ) -> list[InfraEvent]:
        events: list[InfraEvent] = []
        if seen.member_names:
            self.last_members[group] = seen.member_names
        empty = (seen.state or "").upper() in EMPTY_STATES
        per_partition: dict[TopicPartition, Status] = {}
        for (topic, partition), lag in seen.partitions.items():
            key = (group, topic, partition)
            window = self.windows.setdefault(key, deque(maxlen=self.window_polls))
            window.append(Sample(now, lag.committed, lag.lag))
            per_partition[(topic, partition)] = evaluate_partition(window, self.window_polls, empty)
            if lag.lag_seconds is not None:
                before = self._lag_seconds.get(key, 0.0)
                self._lag_seconds[key] = lag.lag_seconds
                limit = self.lag_spike_seconds
                if before < limit <= lag.lag_seconds:
                    events.append(self._spike_event(time_ns, group, topic, partition, lag))
        status = Status.ERR if seen.error else worst(list(per_partition.values()))
        before_status = self.statuses.get(group, Status.OK)
        self.statuses[group] = status
        self.partition_statuses[group] = per_partition
        if status != before_status:
            attributes = self._group_attributes(group)
            attributes.update(
                {
                    "oracle.kafka.status": status.value,
                    "oracle.kafka.previous_status": before_status.value,
                    "oracle.kafka.lag": sum(p.lag for p in seen.partitions.values()),
                }
            )
            if seen.error:
                attributes["error.message"] = seen.error
            events.append(
                InfraEvent(
                    time_ns=time_ns,
                    source=SOURCE,
                    kind="consumer_status_changed",
                    entity=f"consumer_group/{group}",
                    severity=_SEVERITY[status],
                    summary=f"Consumer group {group}: {before_status.value} -> {status.value}",
                    attributes=attributes,
                )
            )
        return events

    def _group_attributes(self, group: str) -> Attributes:
        """`group_attributes` and the members last seen (``oracle.kafka.consumer.members``)."""
        attributes = group_attributes(group)
        members = self.last_members.get(group)
        if members:
            attributes["oracle.kafka.consumer.members"] = list(members)
        return attributes

    def _spike_event(
        self, time_ns: int, group: str, topic: str, partition: int, lag: PartitionLag
    ) -> InfraEvent:
        attributes = self._group_attributes(group)
        attributes.update(
            {
                "messaging.destination.name": topic,
                "messaging.destination.partition.id": str(partition),
                "oracle.kafka.lag": lag.lag,
                "oracle.kafka.lag_seconds": lag.lag_seconds,
                "oracle.kafka.lag_spike_seconds": self.lag_spike_seconds,
            }
        )
        return InfraEvent(
            time_ns=time_ns,
            source=SOURCE,
            kind="lag_spike",
            entity=f"partition/{topic}/{partition}",
            severity=Severity.WARNING,
            summary=(
                f"Group {group} is {lag.lag_seconds:.1f}s ({lag.lag} messages) behind on "
                f"{topic}[{partition}]"
            ),
            attributes=attributes,
        )

    def _dlq_event(self, time_ns: int, topic: str, before: int, depth: int) -> InfraEvent:
        return InfraEvent(
            time_ns=time_ns,
            source=SOURCE,
            kind="dlq_growth",
            entity=f"topic/{topic}",
            severity=Severity.WARNING,
            summary=f"Dead-letter topic {topic} grew from {before} to {depth} messages",
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic,
                "oracle.kafka.dlq_depth": depth,
                "oracle.kafka.dlq_growth": depth - before,
            },
        )
