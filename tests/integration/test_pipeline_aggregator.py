"""`oracle-monitor aggregator` on a real broker and PostgreSQL: what a Collector-style message
gets, where an undecodable one goes, and a clean SIGTERM."""

from __future__ import annotations

import signal
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from oracle_monitor.store import open_store
from tests.integration import otlp_payloads as otlp
from tests.integration.conftest import StartServer
from tests.integration.pipeline_processes import Pipeline, pipeline, read_topic, store_url

pytestmark = pytest.mark.integration
__all__ = ["pipeline", "store_url"]


def produce(pipeline: Pipeline, *messages: tuple[bytes, bytes]) -> None:
    producer = Producer(pipeline.broker.producer_config())
    for key, value in messages:
        producer.produce(pipeline.topic, value, key)
    assert producer.flush(10) == 0


def committed(pipeline: Pipeline, group: str) -> int:
    """Sum of the group's committed offsets over the topic's partitions."""
    consumer = Consumer(pipeline.broker.consumer_config(group))
    try:
        offsets = consumer.committed([TopicPartition(pipeline.topic, p) for p in range(4)], 10)
        return sum(max(tp.offset, 0) for tp in offsets)
    finally:
        consumer.close()


def test_undecodable_message_goes_to_the_dead_letter_topic(
    pipeline: Pipeline, store_url: str
) -> None:
    trace = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
    good = otlp.request(otlp.span(trace, name="after-the-poison")).SerializeToString()
    produce(
        pipeline, (trace.hex().encode(), b"\xff\xfe not protobuf"), (trace.hex().encode(), good)
    )
    group = f"aggregators-{uuid.uuid4().hex[:6]}"
    aggregator = pipeline.aggregator(store_url, pipeline_group_id=group)

    deadline = time.monotonic() + 30
    store = open_store(store_url, migrate=False)
    try:
        while not store.get_trace(trace.hex()):
            assert time.monotonic() < deadline, aggregator.log()
            time.sleep(0.1)
        assert [span.name for span in store.get_trace(trace.hex())] == ["after-the-poison"]
    finally:
        store.close()
    dead = read_topic(pipeline.broker, f"{pipeline.topic}.dlq", lambda found: len(found) >= 1)
    assert [m.value() for m in dead] == [b"\xff\xfe not protobuf"]
    headers = dict(dead[0].headers())
    assert headers["oracle.dlq.topic"] == pipeline.topic.encode()
    assert b"invalid protobuf" in headers["oracle.dlq.error"]
    stats = aggregator.health()["aggregator"]
    assert (stats["dead_letters"], stats["spans_written"]) == (1, 1)
    # Both offsets committed: the poison message no longer blocks its partition.
    while committed(pipeline, group) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert aggregator.stop(signal.SIGTERM) == 0
    assert "stopped; 1 spans written" in aggregator.log()


def test_restarted_aggregator_starts_after_what_it_committed(
    pipeline: Pipeline, store_url: str
) -> None:
    trace = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    produce(
        pipeline,
        *(
            (trace.hex().encode(), otlp.request(otlp.span(trace)).SerializeToString())
            for _ in range(3)
        ),
    )
    aggregator = pipeline.aggregator(store_url)
    deadline = time.monotonic() + 30
    while aggregator.health()["aggregator"]["messages"] < 3:
        assert time.monotonic() < deadline, aggregator.log()
        time.sleep(0.1)
    assert aggregator.stop(signal.SIGTERM) == 0

    again = pipeline.aggregator(store_url)
    time.sleep(2.5)  # joined and polled (a group forms in about a second on tansu)
    assert again.health()["aggregator"]["assigned"]
    assert again.health()["aggregator"]["messages"] == 0  # nothing delivered twice
    store = open_store(store_url, migrate=False)
    try:
        assert store.count_spans() == 3
    finally:
        store.close()


def test_aggregators_forward_what_they_write(
    pipeline: Pipeline, store_url: str, start_server: StartServer
) -> None:
    target = start_server(ingest_workers="1")
    endpoint = f"grpc://{target.grpc_target}"
    receiver = pipeline.receiver(forward_otlp_endpoints=endpoint)
    trace = bytes.fromhex("5b8efff798038103d269b633813fc60c")
    root = otlp.span(trace, name="invoke_agent writer")
    child = otlp.span(trace, name="chat gpt-4o", parent_span_id=root.span_id)
    produce(pipeline, (trace.hex().encode(), otlp.request(root, child).SerializeToString()))
    aggregator = pipeline.aggregator(store_url, forward_otlp_endpoints=endpoint)

    copy = target.wait_for_trace(trace.hex(), spans=2, timeout_s=30)
    by_name = {span["name"]: span for span in copy["spans"]}
    assert by_name["chat gpt-4o"]["parent_span_id"] == root.span_id.hex()
    assert by_name["chat gpt-4o"]["span_id"] == child.span_id.hex()
    deadline = time.monotonic() + 15
    while True:
        (entry,) = aggregator.health()["forward"]["endpoints"]
        if entry["forwarded_spans"] == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert entry == {
        "endpoint": endpoint,
        "queued_spans": 0,
        "forwarded_spans": 2,
        "dropped_spans": 0,
        "failed_spans": 0,
    }
    assert "ignored by receivers" in receiver.log()  # said where forwarding happens instead
    assert aggregator.stop(signal.SIGTERM) == 0
