"""One task's trace continues across agents through a real Kafka broker (tansu).

The agents use `oracle_monitor.instrumentation`: a producer agent's task span, the PRODUCER
span of the message it sends, and on the other side the CONSUMER span and the consumer agent's
tool span all share one trace and the task id. The last tests send through `configure()` to a
running ``oracle-monitor serve`` and read the spans back through the REST API.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from oracle_monitor.demo.broker import KafkaBroker
from oracle_monitor.instrumentation import (
    TracedConsumer,
    TracedProducer,
    configure,
    execute_tool,
    force_flush,
    invoke_agent,
    process_message,
    shutdown,
)
from tests.integration.oracle_server import OracleServer
from tests.otel_reset import reset_instrumentation

pytestmark = pytest.mark.integration


@pytest.fixture
def clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OTEL_* variables, and tracing unconfigured before and after the test."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    reset_instrumentation()
    yield
    reset_instrumentation()


@pytest.fixture
def exporter(clean_otel_env: None) -> InMemorySpanExporter:
    """`configure` with an in-memory exporter standing in for OTLP."""
    memory = InMemorySpanExporter()
    configure("kafka-test", span_exporter=memory, instrument_llm=False)
    return memory


def finished(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    assert force_flush()
    spans = exporter.get_finished_spans()
    by_name = {span.name: span for span in spans}
    assert len(by_name) == len(spans), [span.name for span in spans]
    return by_name


def poll_one(consumer: TracedConsumer, timeout_s: float = 30.0) -> Any:
    """The first real message (tansu needs a moment to assign partitions)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None:
            assert message.error() is None, message.error()
            return message
    raise TimeoutError("no message consumed")


def subscribed(broker: KafkaBroker, topic: str, group: str) -> TracedConsumer:
    consumer = TracedConsumer(Consumer(broker.consumer_config(group)), group_id=group)
    consumer.subscribe([topic])
    return consumer


def send_task_message(broker: KafkaBroker, topic: str, headers: Any) -> tuple[Any, list[Any]]:
    """The producer agent: a task span around one produce; returns its span and reports."""
    producer = TracedProducer(Producer(broker.producer_config()))
    reports: list[Any] = []
    with invoke_agent("planner", task_id="task-77") as task:
        producer.produce(
            topic,
            value=b'{"query": "kafka"}',
            key="k1",
            headers=headers,
            on_delivery=lambda error, message: reports.append((error, message)),
        )
    assert producer.flush(10) == 0
    return task, reports


def span_id(span: Any) -> int:
    return int(span.get_span_context().span_id)


def test_trace_continues_from_producer_agent_to_consumer_tool(
    kafka_broker: KafkaBroker, exporter: InMemorySpanExporter
) -> None:
    topic = kafka_broker.create_topic()
    task, reports = send_task_message(kafka_broker, topic, [("content-type", b"application/json")])
    assert len(reports) == 1 and reports[0][0] is None  # the caller's callback still runs

    consumer = subscribed(kafka_broker, topic, "summariser")
    try:
        message = poll_one(consumer)
        with process_message(message), invoke_agent("summariser"), execute_tool("summarise"):
            pass
    finally:
        consumer.close()

    headers = dict(message.headers())
    assert headers["content-type"] == b"application/json"  # the caller's header is kept
    assert headers["traceparent"].startswith(b"00-")
    assert b"oracle.task.id=task-77" in headers["baggage"]

    spans = finished(exporter)
    send, process = spans[f"send {topic}"], spans[f"process {topic}"]
    summariser, tool = spans["invoke_agent summariser"], spans["execute_tool summarise"]
    trace_id = task.get_span_context().trace_id
    assert {s.context.trace_id for s in (send, process, summariser, tool)} == {trace_id}

    assert send.kind == SpanKind.PRODUCER
    assert send.parent is not None and send.parent.span_id == span_id(task)
    assert send.attributes is not None
    assert send.attributes["messaging.system"] == "kafka"
    assert send.attributes["messaging.operation.type"] == "send"
    assert send.attributes["messaging.destination.name"] == topic
    assert send.attributes["messaging.destination.partition.id"] == "0"
    assert send.attributes["messaging.kafka.offset"] == message.offset()
    assert send.attributes["messaging.kafka.message.key"] == "k1"
    assert send.attributes["oracle.task.id"] == "task-77"

    assert process.kind == SpanKind.CONSUMER
    assert process.parent is not None and process.parent.span_id == send.context.span_id
    assert [link.context.span_id for link in process.links] == [send.context.span_id]
    assert process.attributes is not None
    assert process.attributes["messaging.system"] == "kafka"
    assert process.attributes["messaging.operation.type"] == "process"
    assert process.attributes["messaging.destination.name"] == topic
    assert process.attributes["messaging.destination.partition.id"] == "0"
    assert process.attributes["messaging.kafka.offset"] == message.offset()
    assert process.attributes["messaging.kafka.consumer.group"] == "summariser"
    assert process.attributes["messaging.consumer.group.name"] == "summariser"
    assert process.attributes["messaging.kafka.message.key"] == "k1"
    assert process.attributes["oracle.task.id"] == "task-77"

    assert summariser.parent is not None and summariser.parent.span_id == process.context.span_id
    assert tool.parent is not None and tool.parent.span_id == summariser.context.span_id
    assert tool.attributes is not None
    assert tool.attributes["oracle.task.id"] == "task-77"
    assert tool.attributes["gen_ai.agent.name"] == "summariser"


def test_poll_alone_makes_the_consumer_span_current(
    kafka_broker: KafkaBroker, exporter: InMemorySpanExporter
) -> None:
    topic = kafka_broker.create_topic()
    _, _ = send_task_message(kafka_broker, topic, {"x-agent": "planner"})
    consumer = subscribed(kafka_broker, topic, "poller")
    try:
        message = poll_one(consumer)
        current = trace.get_current_span()
        assert current.is_recording()  # the process span, until the next poll
        with execute_tool("lookup"):
            pass
        assert consumer.poll(0.2) is None
        assert not trace.get_current_span().is_recording()  # ended and no longer current
    finally:
        consumer.close()

    assert dict(message.headers())["x-agent"] == b"planner"  # dict headers kept too
    spans = finished(exporter)
    send, process, tool = (
        spans[f"send {topic}"],
        spans[f"process {topic}"],
        spans["execute_tool lookup"],
    )
    assert process.context.span_id == current.get_span_context().span_id
    assert process.parent is not None and process.parent.span_id == send.context.span_id
    assert tool.parent is not None and tool.parent.span_id == process.context.span_id
    assert tool.context.trace_id == send.context.trace_id
    assert tool.attributes is not None and tool.attributes["oracle.task.id"] == "task-77"


def test_consume_links_each_message_and_process_message_continues_each_trace(
    kafka_broker: KafkaBroker, exporter: InMemorySpanExporter
) -> None:
    topic = kafka_broker.create_topic()
    producer = TracedProducer(Producer(kafka_broker.producer_config()))
    for task in ("task-a", "task-b"):
        with invoke_agent("planner", task_id=task):
            producer.produce(topic, value=task.encode())
    assert producer.flush(10) == 0
    consumer = subscribed(kafka_broker, topic, "batcher")
    received: list[Any] = []
    try:
        deadline = time.monotonic() + 30
        while len(received) < 2 and time.monotonic() < deadline:
            received += [m for m in consumer.consume(10, 0.5) if m.error() is None]
        for message in received:
            with process_message(message, group_id="batcher"), execute_tool("handle"):
                pass
    finally:
        consumer.close()
    assert [m.value() for m in received] == [b"task-a", b"task-b"]

    assert force_flush()
    spans = exporter.get_finished_spans()
    sends = [s for s in spans if s.name == f"send {topic}"]
    receives = [s for s in spans if s.name == f"receive {topic}"]
    processes = [s for s in spans if s.name == f"process {topic}"]
    tools = [s for s in spans if s.name == "execute_tool handle"]
    assert len(sends) == 2 and len(processes) == 2 and len(tools) == 2
    linked = {link.context.span_id for span in receives for link in span.links}
    assert linked == {send.context.span_id for send in sends}
    for send, process, tool in zip(sends, processes, tools, strict=True):
        assert process.parent is not None and process.parent.span_id == send.context.span_id
        assert tool.parent is not None and tool.parent.span_id == process.context.span_id
        assert tool.attributes is not None and send.attributes is not None
        assert tool.attributes["oracle.task.id"] == send.attributes["oracle.task.id"]
    assert {s.attributes["oracle.task.id"] for s in sends if s.attributes} == {"task-a", "task-b"}


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_configure_sends_agent_spans_to_oracle_monitor(
    clean_otel_env: None, monkeypatch: pytest.MonkeyPatch, server: OracleServer, protocol: str
) -> None:
    port = server.grpc_port if protocol == "grpc" else server.http_port
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    configure("research-agent")
    with invoke_agent("research", task_id="task-srv") as agent, execute_tool("web_search"):
        pass
    shutdown()  # flushes

    trace_id = format(agent.get_span_context().trace_id, "032x")
    body = server.wait_for_trace(trace_id, spans=2)
    by_name = {span["name"]: span for span in body["spans"]}
    assert set(by_name) == {"invoke_agent research", "execute_tool web_search"}
    for span in by_name.values():
        assert span["agent_name"] == "research"
        assert span["task_id"] == "task-srv"
    tool = by_name["execute_tool web_search"]
    assert tool["parent_span_id"] == by_name["invoke_agent research"]["span_id"]
