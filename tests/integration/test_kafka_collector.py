"""The Kafka collector against a real broker (tansu): lag, lag seconds, status, DLQ, outages."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from oracle_monitor.collectors.kafka import KafkaCollectorConfig, KafkaWatcher, create
from oracle_monitor.config import KafkaSettings, Settings
from oracle_monitor.demo.broker import KafkaBroker
from oracle_monitor.model import InfraEvent, Severity
from tests.waiting import wait_for_async

pytestmark = pytest.mark.integration


class Sink:
    """Collects the events the watcher hands on (from its thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[InfraEvent] = []

    def __call__(self, events: Sequence[InfraEvent]) -> None:
        with self.lock:
            self.events.extend(events)

    def kinds(self, kind: str) -> list[InfraEvent]:
        with self.lock:
            return [event for event in self.events if event.kind == kind]


def watcher_for(broker: KafkaBroker, sink: Sink, **overrides: Any) -> KafkaWatcher:
    kafka = KafkaSettings(
        bootstrap=broker.bootstrap_servers, poll_seconds=0.2, window_polls=3, lag_spike_seconds=5.0
    )
    settings = Settings(kafka=kafka)
    config = dataclasses.replace(KafkaCollectorConfig.from_settings(settings), **overrides)
    return KafkaWatcher(config, sink)


@pytest.fixture
async def running(kafka_broker: KafkaBroker) -> AsyncIterator[tuple[KafkaWatcher, Sink]]:
    sink = Sink()
    watcher = watcher_for(kafka_broker, sink, request_timeout_seconds=2.0)
    await watcher.start()
    yield watcher, sink
    await watcher.shutdown()


def produce(broker: KafkaBroker, topic: str, partition: int, stamps_ms: list[int]) -> None:
    producer = Producer(broker.producer_config())
    for stamp in stamps_ms:
        producer.produce(topic, value=b"task", partition=partition, timestamp=stamp)
    assert producer.flush(10) == 0


def partition_state(watcher: KafkaWatcher, group: str) -> dict[int, dict[str, Any]]:
    groups = watcher.state()["groups"]
    if group not in groups:
        return {}
    return {p["partition"]: p for p in groups[group]["partitions"]}


async def test_lag_status_and_dlq(kafka_broker: KafkaBroker) -> None:
    topic = kafka_broker.create_topic("tasks", partitions=2)
    dlq = kafka_broker.create_topic("tasks.dlq", partitions=1)
    base_ms = int(time.time() * 1000) - 100_000
    stamps = {p: [base_ms + 1000 * (i + 10 * p) for i in range(5)] for p in (0, 1)}
    for p, partition_stamps in stamps.items():
        produce(kafka_broker, topic, p, partition_stamps)
    produce(kafka_broker, dlq, 0, [base_ms, base_ms])

    consumer = Consumer(kafka_broker.consumer_config("workers", **{"enable.auto.commit": False}))
    consumer.subscribe([topic])
    deadline = time.monotonic() + 20
    while len(consumer.assignment()) < 2 and time.monotonic() < deadline:
        consumer.poll(0.2)
    assert len(consumer.assignment()) == 2
    consumer.commit(
        offsets=[TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 1)], asynchronous=False
    )

    sink = Sink()
    watcher = watcher_for(kafka_broker, sink)
    await watcher.start()
    try:
        await wait_for_async(lambda: len(partition_state(watcher, "workers")) == 2)
        parts = partition_state(watcher, "workers")
        offsets = [(p["committed_offset"], p["log_end_offset"], p["lag"]) for p in parts.values()]
        assert offsets == [(3, 5, 2), (1, 5, 4)]
        now = time.time()
        for p, offset in ((0, 3), (1, 1)):
            expected = now - stamps[p][offset] / 1000
            assert abs(parts[p]["lag_seconds"] - expected) < 3, (p, parts[p], expected)
            assert parts[p]["lag_seconds_from"] == "message"
        spiked = await wait_for_async(lambda: len(sink.kinds("lag_spike")) == 2)
        assert spiked
        spikes = {
            e.attributes["messaging.destination.partition.id"] for e in sink.kinds("lag_spike")
        }
        assert spikes == {"0", "1"}
        assert all(e.entity.startswith(f"partition/{topic}/") for e in sink.kinds("lag_spike"))

        topics = watcher.state()["topics"]
        assert topics[dlq]["is_dlq"] and topics[dlq]["dlq_depth"] == 2
        assert not topics[topic]["is_dlq"] and topics[topic]["end_offsets"] == {"0": 5, "1": 5}

        # Nothing committed for a whole window while lag > 0: STALL.
        await wait_for_async(lambda: watcher.state()["groups"]["workers"]["status"] == "STALL")
        stall = sink.kinds("consumer_status_changed")[-1]
        assert stall.entity == "consumer_group/workers" and stall.severity == Severity.ERROR
        assert stall.attributes["messaging.kafka.consumer.group"] == "workers"

        produce(kafka_broker, dlq, 0, [base_ms])
        growth = await wait_for_async(lambda: sink.kinds("dlq_growth"))
        assert growth[0].attributes["oracle.kafka.dlq_depth"] == 3
        assert growth[0].entity == f"topic/{dlq}"

        # The group catches up: OK again.
        consumer.commit(
            offsets=[TopicPartition(topic, 0, 5), TopicPartition(topic, 1, 5)], asynchronous=False
        )
        await wait_for_async(lambda: watcher.state()["groups"]["workers"]["status"] == "OK")
        changes = sink.kinds("consumer_status_changed")
        assert [e.attributes["oracle.kafka.status"] for e in changes][-2:] == ["STALL", "OK"]
        assert changes[-1].severity == Severity.INFO
        assert watcher.state()["groups"]["workers"]["lag"] == 0
        assert watcher.health().status == "ok"
    finally:
        consumer.close()
        started = time.monotonic()
        await watcher.shutdown()
        await watcher.shutdown()
        assert time.monotonic() - started < 3
    assert watcher.health().status == "stopped"


async def test_throughput_from_end_offsets(
    kafka_broker: KafkaBroker, running: tuple[KafkaWatcher, Sink]
) -> None:
    watcher, _ = running
    topic = kafka_broker.create_topic("stream", partitions=1)
    await wait_for_async(lambda: topic in watcher.state()["topics"])
    produce(kafka_broker, topic, 0, [int(time.time() * 1000)] * 20)
    rate = await wait_for_async(lambda: watcher.state()["topics"][topic]["throughput_msgs_per_s"])
    assert rate > 0


async def test_lag_seconds_interpolated_when_messages_cannot_be_read(
    kafka_broker: KafkaBroker,
) -> None:
    topic = kafka_broker.create_topic("slow", partitions=1)
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap_servers})
    request = [ConsumerGroupTopicPartitions("slowpokes", [TopicPartition(topic, 0, 0)])]
    for future in admin.alter_consumer_group_offsets(request, request_timeout=10).values():
        future.result(timeout=10)
    sink = Sink()
    watcher = watcher_for(kafka_broker, sink, probe_budget_seconds=0.0)
    await watcher.start()
    try:
        await wait_for_async(lambda: len(partition_state(watcher, "slowpokes")) == 1)
        assert partition_state(watcher, "slowpokes")[0]["lag"] == 0
        await asyncio.sleep(0.5)
        produced = time.time()
        produce(kafka_broker, topic, 0, [int(produced * 1000) - 3_600_000] * 3)
        await wait_for_async(lambda: partition_state(watcher, "slowpokes")[0]["lag"] == 3)
        await asyncio.sleep(1.0)
        part = partition_state(watcher, "slowpokes")[0]
        # The (hour-old) timestamps are never read: the age comes from the end-offset history.
        assert part["lag_seconds_from"] == "history"
        assert 0.5 < part["lag_seconds"] < time.time() - produced + 0.5
    finally:
        await watcher.shutdown()


async def test_broker_outage_and_recovery(
    kafka_broker: KafkaBroker, running: tuple[KafkaWatcher, Sink]
) -> None:
    watcher, sink = running
    await wait_for_async(lambda: watcher.health().status == "ok")
    kafka_broker.stop()
    await wait_for_async(lambda: watcher.health().status == "unreachable", 20)
    assert watcher.health().detail
    assert watcher.state()["health"]["status"] == "unreachable"
    down = await wait_for_async(lambda: sink.kinds("broker_unreachable"))
    assert down[0].severity == Severity.ERROR
    assert down[0].entity == f"broker/{kafka_broker.bootstrap_servers}"

    kafka_broker.start()
    await wait_for_async(lambda: watcher.health().status == "ok", 30)
    up = await wait_for_async(lambda: sink.kinds("broker_recovered"))
    assert len(up) == 1 and len(sink.kinds("broker_unreachable")) == 1


def test_create_needs_a_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORACLE_KAFKA_BOOTSTRAP", raising=False)
    assert create(Settings(), lambda events: None) is None
    settings = Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1"))
    collector = create(settings, lambda events: None)
    assert isinstance(collector, KafkaWatcher) and collector.name == "kafka"
