"""The aggregators' Kafka receiver on a real broker, with a store that fails on purpose.

The receiver feeds ``serve``'s chain (decoder, GenAI fields, pricing, store writer) whose store
is an in-process fake (a `SpanWriter` that raises for its first writes and records the rest),
standing in for PostgreSQL so that a failing commit can be had on demand; the broker, the
consumer group and its committed offsets are real (tansu).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from oracle_monitor.demo.broker import KafkaBroker
from oracle_monitor.exporters.store_writer import StoreWriter
from oracle_monitor.model import Span
from oracle_monitor.pipeline.chain import Chain
from oracle_monitor.processing.genai_fields import GenAIFields
from oracle_monitor.processing.pricing import Pricing, load_prices
from oracle_monitor.receiver.decode import DecodeLimits
from oracle_monitor.receiver.kafka import KafkaReceiver, KafkaReceiverConfig
from oracle_monitor.receiver.span_decoder import SpanDecoder
from tests.integration import otlp_payloads as otlp

pytestmark = pytest.mark.integration


class FlakyStore:
    """Fails the first ``failures`` writes, then keeps what it is given."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.written: list[Span] = []

    def write_spans(self, spans: Sequence[Span]) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionError("database went away")
        self.written.extend(spans)


@pytest.fixture
def topic(kafka_broker: KafkaBroker) -> str:
    name = kafka_broker.create_topic(f"spans-{uuid.uuid4().hex[:8]}")
    kafka_broker.create_topic(f"{name}.dlq")
    producer = Producer(kafka_broker.producer_config())
    for number in range(3):
        trace = bytes([number + 1]) * 16
        producer.produce(name, otlp.request(otlp.span(trace)).SerializeToString(), trace.hex())
    assert producer.flush(10) == 0
    return name


def config(broker: KafkaBroker, topic: str, group: str) -> KafkaReceiverConfig:
    return KafkaReceiverConfig(
        topic=topic,
        dead_letter_topic=f"{topic}.dlq",
        consumer=broker.consumer_config(group, **{"enable.auto.commit": False}),
        producer=broker.producer_config(),
        retry_backoff_s=0.3,
    )


def receiver(broker: KafkaBroker, topic: str, group: str, store: FlakyStore) -> KafkaReceiver:
    """A receiver feeding serve's chain, which writes to ``store``."""
    processors = (GenAIFields(), Pricing(load_prices(None)))
    chain = Chain(SpanDecoder(DecodeLimits()), processors, StoreWriter(store))
    return KafkaReceiver(config(broker, topic, group), chain)


def committed(broker: KafkaBroker, topic: str, group: str) -> int:
    reader = Consumer(broker.consumer_config(group))
    try:
        return max(reader.committed([TopicPartition(topic, 0)], 10)[0].offset, 0)
    finally:
        reader.close()


def wait(condition: Callable[[], bool], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_offsets_are_committed_only_after_the_store_commit(
    kafka_broker: KafkaBroker, topic: str
) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    store = FlakyStore(failures=3)
    consumer = receiver(kafka_broker, topic, group, store)
    stop = threading.Event()
    loop = threading.Thread(target=consumer.run, args=(stop,))
    loop.start()
    try:
        wait(lambda: store.attempts >= 2)
        assert committed(kafka_broker, topic, group) == 0  # failing: nothing committed
        wait(lambda: consumer.stats.batches == 1)
        assert store.attempts == 4 and consumer.stats.write_retries == 3
        assert len(store.written) == 3
        wait(lambda: committed(kafka_broker, topic, group) == 3)
    finally:
        stop.set()
        loop.join(30)
    assert not loop.is_alive()


def test_a_stop_while_the_store_fails_leaves_the_batch_for_redelivery(
    kafka_broker: KafkaBroker, topic: str
) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    failing = FlakyStore(failures=1_000)
    first = receiver(kafka_broker, topic, group, failing)
    stop = threading.Event()
    loop = threading.Thread(target=first.run, args=(stop,))
    loop.start()
    wait(lambda: failing.attempts >= 1)
    stop.set()
    loop.join(30)
    assert not loop.is_alive() and failing.written == []
    assert committed(kafka_broker, topic, group) == 0

    healthy = FlakyStore(failures=0)
    second = receiver(kafka_broker, topic, group, healthy)
    stop = threading.Event()
    loop = threading.Thread(target=second.run, args=(stop,))
    loop.start()
    try:
        wait(lambda: len(healthy.written) == 3)  # delivered again, to the next consumer
        wait(lambda: committed(kafka_broker, topic, group) == 3)
    finally:
        stop.set()
        loop.join(30)
