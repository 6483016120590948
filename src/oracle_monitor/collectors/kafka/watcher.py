"""The Kafka collector: polls the cluster with an AdminClient in a thread, never joining a group.

Each poll lists topics, consumer groups (and describes them), every group's committed offsets
and every partition's end offset, and the earliest offsets of dead-letter topics. Lag in
seconds is the age of the next unconsumed message, read by a Consumer that only ``assign``s
partitions at the committed offsets (it never subscribes, joins a group or commits); when that
message cannot be read in the poll's time budget, the lag is interpolated from the observed
end-offset history (`lag.lag_seconds_interpolated`). `status.Evaluator` turns polls into
events. A dead broker makes health ``unreachable``; polling goes on with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from typing import Any

import confluent_kafka.admin as kafka_admin
from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    ConsumerGroupTopicPartitions,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from oracle_monitor.collectors.base import CollectorHealth, EventSink, Health
from oracle_monitor.collectors.kafka import lag as lagmath
from oracle_monitor.collectors.kafka.config import KafkaCollectorConfig
from oracle_monitor.collectors.kafka.status import Evaluator, GroupPoll, Poll, TopicPoll
from oracle_monitor.model import InfraEvent

log = logging.getLogger(__name__)
OffsetSpec: Any = kafka_admin.OffsetSpec  # type: ignore[attr-defined]
Key = tuple[str, int, int]  # topic, partition, offset


class KafkaWatcher:
    """The running Kafka collector (implements `collectors.base.Collector`)."""

    name = "kafka"

    def __init__(self, config: KafkaCollectorConfig, sink: EventSink) -> None:
        self.config = config
        self.sink = sink
        self.evaluator = Evaluator(config.bootstrap, config.window_polls, config.lag_spike_seconds)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._health = CollectorHealth("starting", since_ns=time.time_ns())
        self._state: dict[str, Any] = {"groups": {}, "topics": {}}
        self._histories: dict[tuple[str, int], lagmath.EndOffsetHistory] = {}
        self._totals: dict[str, deque[tuple[float, int]]] = {}
        self._timestamps: dict[Key, float] = {}
        self._admin: Any = None
        self._probe: Any = None

    async def start(self) -> None:
        """Start the polling thread; returns at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="kafka-collector", daemon=True)
            self._thread.start()

    async def shutdown(self) -> None:
        """Stop polling (idempotent); the thread ends after its current request at the latest."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            await asyncio.to_thread(thread.join, self.config.request_timeout_seconds + 2)
        self._set_health("stopped")

    def health(self) -> CollectorHealth:
        """``ok`` after a successful poll, ``unreachable`` (with the error) after a failed one."""
        with self._lock:
            return self._health

    def state(self) -> dict[str, Any]:
        """Groups, topics and broker health of the last successful poll, JSON-ready."""
        with self._lock:
            return {
                **self._state,
                "broker": self.config.bootstrap,
                "health": self._health.as_json(),
            }

    def _set_health(self, status: Health, detail: str = "") -> None:
        with self._lock:
            if self._health.status != status or self._health.detail != detail:
                self._health = CollectorHealth(status, detail, time.time_ns())

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                events = self.poll_once()
                failures = 0
            except Exception as error:  # a dead broker, or anything else: report, back off
                failures += 1
                log.warning("Kafka poll failed (%d in a row): %s", failures, error)
                self._set_health("unreachable", str(error))
                events = self.evaluator.unreachable(time.time(), str(error))
                self._close_clients()
            self._emit(events)
            backoff = self.config.poll_seconds * 2 ** min(failures, 10)
            self._stop.wait(
                min(max(self.config.poll_seconds, backoff), self.config.max_backoff_seconds)
                if failures
                else self.config.poll_seconds
            )
        self._close_clients()

    def _emit(self, events: list[InfraEvent]) -> None:
        if events:
            try:
                self.sink(events)
            except Exception:
                log.exception("Kafka collector: the event sink failed")

    def _client_config(self) -> dict[str, Any]:
        timeout_ms = int(self.config.request_timeout_seconds * 1000)
        return {
            **self.config.client_config,
            "socket.timeout.ms": max(timeout_ms, 1000),
            "socket.connection.setup.timeout.ms": max(timeout_ms, 1000),
            "reconnect.backoff.max.ms": 1000,
            "logger": log,
        }

    def _close_clients(self) -> None:
        self._close_probe()
        self._admin = None

    def _close_probe(self) -> None:
        if self._probe is not None:
            try:
                self._probe.close()
            except Exception:
                log.debug("closing the lag probe failed", exc_info=True)
        self._probe = None

    def poll_once(self) -> list[InfraEvent]:
        """Poll the cluster once, update state and health, return the events (raises on failure)."""
        if self._admin is None:
            self._admin = AdminClient(self._client_config())
        started = time.perf_counter()
        poll, extra = self._collect(self._admin)
        events = self.evaluator.observe(poll)
        state = self._build_state(poll, extra)
        state["poll_duration_seconds"] = round(time.perf_counter() - started, 3)
        with self._lock:
            self._state = state
        failed = sorted(group for group, seen in poll.groups.items() if seen.error)
        if failed:
            self._set_health("degraded", f"offsets of {len(failed)} group(s) failed: {failed[:5]}")
        else:
            self._set_health("ok")
        return events

    def _collect(self, admin: Any) -> tuple[Poll, dict[str, Any]]:
        timeout = self.config.request_timeout_seconds
        metadata = admin.list_topics(timeout=timeout)
        topics = {
            name: sorted(meta.partitions)
            for name, meta in metadata.topics.items()
            if not name.startswith("__") and meta.error is None
        }
        listing = admin.list_consumer_groups(request_timeout=timeout).result(timeout=timeout)
        group_states = {g.group_id: g.state.name for g in listing.valid}
        offset_futures = {
            group: admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group)], request_timeout=timeout
            )[group]
            for group in group_states
        }
        described = (
            admin.describe_consumer_groups(list(group_states), request_timeout=timeout)
            if group_states
            else {}
        )
        partitions = [TopicPartition(t, p) for t, ps in topics.items() for p in ps]
        now = time.time()
        ends = _offsets(admin, partitions, OffsetSpec.latest(), timeout)
        dlqs = {t for t in topics if lagmath.is_dlq(t, self.config.dlq_patterns)}
        earliest = _offsets(
            admin, [tp for tp in partitions if tp.topic in dlqs], OffsetSpec.earliest(), timeout
        )
        for tp, end in ends.items():
            self._histories.setdefault(tp, lagmath.EndOffsetHistory()).add(now, end)
        members: dict[str, list[dict[str, Any]]] = {}
        for group, future in described.items():
            try:
                description = future.result(timeout=timeout)
            except Exception:
                continue
            group_states[group] = description.state.name
            members[group] = [
                {"member_id": m.member_id, "client_id": m.client_id, "host": m.host}
                for m in description.members
            ]
        committed: dict[str, dict[tuple[str, int], int]] = {}
        poll = Poll(time=now)
        for group, future in offset_futures.items():
            found = members.get(group, [])
            names = {str(m[key]).lstrip("/") for m in found for key in ("client_id", "host")}
            seen = GroupPoll(
                state=group_states[group],
                members=len(found),
                member_names=tuple(sorted(name for name in names if name)),
            )
            poll.groups[group] = seen
            try:
                result = future.result(timeout=timeout)
            except Exception as error:
                seen.error = str(error)
                continue
            committed[group] = {
                (tp.topic, tp.partition): tp.offset
                for tp in result.topic_partitions
                if tp.offset >= 0 and (tp.topic, tp.partition) in ends
            }
        wanted = {
            (t, p, offset)
            for offsets in committed.values()
            for (t, p), offset in offsets.items()
            if ends[(t, p)] > offset
        }
        self._timestamps = {k: v for k, v in self._timestamps.items() if k in wanted}
        try:
            self._read_timestamps(wanted - set(self._timestamps))
        except Exception as error:  # lag seconds fall back to the end-offset history
            log.warning("Kafka collector: reading message timestamps failed: %s", error)
            self._close_probe()
        for group, offsets in committed.items():
            for (t, p), offset in offsets.items():
                messages, clamped = lagmath.lag_messages(offset, ends[(t, p)])
                seconds: float | None = 0.0
                source: str | None = None
                stamp = self._timestamps.get((t, p, offset))
                if messages and stamp is not None:
                    seconds, source = lagmath.lag_seconds_from_timestamp(now, stamp), "message"
                elif messages:
                    history = self._histories[(t, p)].samples
                    seconds = lagmath.lag_seconds_interpolated(now, history, offset)
                    source = "history" if seconds is not None else None
                poll.groups[group].partitions[(t, p)] = lagmath.PartitionLag(
                    offset, ends[(t, p)], messages, clamped, seconds, source
                )
        for topic, ps in topics.items():
            topic_ends = {p: ends[(topic, p)] for p in ps if (topic, p) in ends}
            depth = None
            if topic in dlqs:
                depth = lagmath.dlq_depth(
                    topic_ends, {p: earliest.get((topic, p), 0) for p in topic_ends}
                )
            poll.topics[topic] = TopicPoll(topic_ends, topic in dlqs, depth)
            totals = self._totals.setdefault(topic, deque(maxlen=self.config.window_polls))
            totals.append((now, sum(topic_ends.values())))
        for gone in set(self._totals) - set(topics):
            del self._totals[gone]
        for gone_tp in set(self._histories) - set(ends):
            del self._histories[gone_tp]
        return poll, {"members": members}

    def _read_timestamps(self, wanted: set[Key]) -> None:
        """Read the timestamps of the messages at ``wanted`` offsets, within the time budget."""
        if not wanted:
            return
        if self._probe is None:
            self._probe = Consumer(
                {
                    **self._client_config(),
                    "group.id": "oracle-monitor-lag-probe",
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "enable.partition.eof": False,
                    "fetch.wait.max.ms": 50,
                }
            )
        deadline = time.monotonic() + self.config.probe_budget_seconds
        queue: dict[tuple[str, int], list[int]] = {}
        for t, p, offset in sorted(wanted):
            queue.setdefault((t, p), []).append(offset)
        while queue and time.monotonic() < deadline and not self._stop.is_set():
            pending = {tp: offsets.pop(0) for tp, offsets in queue.items()}
            queue = {tp: offsets for tp, offsets in queue.items() if offsets}
            self._probe.assign([TopicPartition(t, p, o) for (t, p), o in pending.items()])
            try:
                while pending and time.monotonic() < deadline:
                    for message in self._probe.consume(1000, 0.05):
                        if message.error() is not None:
                            continue
                        tp = (message.topic(), message.partition())
                        kind, stamp = message.timestamp()
                        target = pending.get(tp)
                        if target is None or message.offset() < target:
                            continue
                        del pending[tp]
                        if kind != TIMESTAMP_NOT_AVAILABLE:
                            self._timestamps[(tp[0], tp[1], target)] = stamp / 1000
            finally:
                self._probe.unassign()

    def _build_state(self, poll: Poll, extra: dict[str, Any]) -> dict[str, Any]:
        groups: dict[str, Any] = {}
        for group, seen in poll.groups.items():
            statuses = self.evaluator.partition_statuses.get(group, {})
            groups[group] = {
                "status": self.evaluator.statuses.get(group, "OK"),
                "state": seen.state,
                "members": extra["members"].get(group, []),
                "error": seen.error,
                "lag": sum(p.lag for p in seen.partitions.values()),
                "lag_clamped": any(p.clamped for p in seen.partitions.values()),
                "partitions": [
                    {
                        "topic": t,
                        "partition": p,
                        "committed_offset": lag.committed,
                        "log_end_offset": lag.end_offset,
                        "lag": lag.lag,
                        "lag_seconds": lag.lag_seconds,
                        "lag_seconds_from": lag.lag_seconds_from,
                        "lag_clamped": lag.clamped,
                        "status": statuses.get((t, p), "OK"),
                    }
                    for (t, p), lag in sorted(seen.partitions.items())
                ],
            }
        topics = {
            topic: {
                "end_offsets": {str(p): end for p, end in sorted(seen.end_offsets.items())},
                "throughput_msgs_per_s": round(lagmath.throughput(self._totals[topic]), 3),
                "is_dlq": seen.is_dlq,
                "dlq_depth": seen.depth,
            }
            for topic, seen in poll.topics.items()
        }
        return {"polled_at_ns": int(poll.time * 1e9), "groups": groups, "topics": topics}


def _offsets(admin: Any, partitions: list[Any], spec: Any, timeout: float) -> dict[Any, int]:
    """``list_offsets`` for some partitions: ``{(topic, partition): offset}``."""
    if not partitions:
        return {}
    futures = admin.list_offsets({tp: spec for tp in partitions}, request_timeout=timeout)
    return {(tp.topic, tp.partition): f.result(timeout=timeout).offset for tp, f in futures.items()}
