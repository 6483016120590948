"""Kafka wrappers against fake confluent-kafka clients: headers, callbacks, errors, spans."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from oracle_monitor.instrumentation import (
    TracedConsumer,
    TracedProducer,
    invoke_agent,
    process_message,
)
from tests.unit.instrumentation.conftest import Recorder

FOREIGN_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class FakeMessage:
    def __init__(self, topic: str, value: Any, key: Any, headers: Any, offset: int = 5) -> None:
        self._topic, self._value, self._key, self._offset = topic, value, key, offset
        self._headers = list(headers.items()) if isinstance(headers, dict) else headers

    def topic(self) -> str:
        return self._topic

    def value(self) -> Any:
        return self._value

    def key(self) -> Any:
        return self._key

    def headers(self) -> Any:
        return self._headers

    def partition(self) -> int:
        return 2

    def offset(self) -> int:
        return self._offset

    def error(self) -> None:
        return None


class FakeProducer:
    def __init__(self, fail: Exception | None = None) -> None:
        self.sent: list[FakeMessage] = []
        self.pending: list[tuple[Callable[[Any, Any], None], FakeMessage]] = []
        self.fail = fail

    def produce(self, topic: str, value: Any, key: Any, **kwargs: Any) -> None:
        if self.fail is not None:
            raise self.fail
        message = FakeMessage(topic, value, key, kwargs["headers"])
        self.sent.append(message)
        self.pending.append((kwargs["on_delivery"], message))

    def flush(self) -> int:
        for callback, message in self.pending:
            callback(None, message)
        self.pending.clear()
        return 0


def test_list_headers_kept_and_context_injected(recorder: Recorder) -> None:
    fake = FakeProducer()
    with invoke_agent("planner", task_id="t-1"):
        TracedProducer(fake).produce("jobs", b"x", headers=[("a", b"1"), ("a", b"2")])
    # The send span ends on the delivery report.
    assert [span.name for span in recorder.finished()] == ["invoke_agent planner"]
    assert TracedProducer(fake).flush() == 0  # other methods pass through
    headers = fake.sent[0].headers()
    assert isinstance(headers, list)
    assert headers[:2] == [("a", b"1"), ("a", b"2")]
    names = [name for name, _ in headers]
    assert "traceparent" in names and "baggage" in names
    send = recorder.named("send jobs")
    assert send.kind == SpanKind.PRODUCER
    assert dict(send.attributes or {})["messaging.destination.partition.id"] == "2"
    assert dict(headers)["traceparent"].decode().split("-")[2] == format(
        send.context.span_id, "016x"
    )


def test_dict_headers_stay_a_dict(recorder: Recorder) -> None:
    fake = FakeProducer()
    TracedProducer(fake).produce("jobs", None, key=b"k", headers={"a": "1"})
    fake.flush()
    sent = fake.sent[0]
    assert dict(sent.headers())["a"] == "1"
    assert "traceparent" in dict(sent.headers())
    attributes = dict(recorder.named("send jobs").attributes or {})
    assert attributes["messaging.kafka.message.tombstone"] is True
    assert attributes["messaging.kafka.message.key"] == "k"


def test_existing_creation_context_is_kept_and_linked(recorder: Recorder) -> None:
    fake = FakeProducer()
    TracedProducer(fake).produce("jobs", b"x", headers=[("traceparent", FOREIGN_TRACEPARENT)])
    fake.flush()
    assert fake.sent[0].headers() == [("traceparent", FOREIGN_TRACEPARENT)]
    send = recorder.named("send jobs")
    assert [format(link.context.span_id, "016x") for link in send.links] == ["b7ad6b7169203331"]


def test_produce_error_ends_span_with_error(recorder: Recorder) -> None:
    with pytest.raises(BufferError):
        TracedProducer(FakeProducer(fail=BufferError("queue full"))).produce("jobs", b"x")
    send = recorder.named("send jobs")
    assert send.status.status_code == StatusCode.ERROR
    assert dict(send.attributes or {})["error.type"] == "BufferError"


def test_process_message_continues_trace_and_records_errors(recorder: Recorder) -> None:
    message = FakeMessage(
        "jobs",
        b"x",
        None,
        [("traceparent", FOREIGN_TRACEPARENT.encode()), ("baggage", b"oracle.task.id=t-9")],
    )
    with pytest.raises(KeyError), process_message(message, group_id="g"):
        raise KeyError("missing")
    process = recorder.named("process jobs")
    assert format(process.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert (
        process.parent is not None and format(process.parent.span_id, "016x") == "b7ad6b7169203331"
    )
    attributes = dict(process.attributes or {})
    assert attributes["oracle.task.id"] == "t-9"
    assert attributes["messaging.kafka.offset"] == 5
    assert "messaging.kafka.message.key" not in attributes
    assert process.status.status_code == StatusCode.ERROR


class FakeConsumer:
    def __init__(self, messages: list[Any]) -> None:
        self.messages = messages

    def poll(self, timeout: float | None = None) -> Any:
        return self.messages.pop(0) if self.messages else None

    def consume(self, num_messages: int, timeout: float) -> list[Any]:
        batch, self.messages = self.messages[:num_messages], self.messages[num_messages:]
        return batch

    def close(self) -> None:
        pass


def test_process_message_takes_over_the_polled_span(recorder: Recorder) -> None:
    message = FakeMessage("jobs", b"x", None, [("traceparent", FOREIGN_TRACEPARENT.encode())])
    consumer = TracedConsumer(FakeConsumer([message]), group_id="g")
    assert consumer.poll(1.0) is message
    with process_message(message) as span:
        pass
    assert not span.is_recording()  # ended by the block, not left for the next poll
    consumer.close()
    assert [s.name for s in recorder.finished()] == ["process jobs"]


def test_consume_records_receive_span_linking_each_message(recorder: Recorder) -> None:
    other = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"
    messages = [
        FakeMessage("jobs", b"1", None, [("traceparent", FOREIGN_TRACEPARENT.encode())]),
        FakeMessage("jobs", b"2", None, [("traceparent", other.encode())]),
    ]
    consumer = TracedConsumer(FakeConsumer(messages), group_id="g")
    assert len(consumer.consume(10, 1.0)) == 2
    receive = recorder.named("receive jobs")
    assert receive.kind == SpanKind.CONSUMER
    assert dict(receive.attributes or {})["messaging.batch.message_count"] == 2
    assert [format(link.context.span_id, "016x") for link in receive.links] == [
        "b7ad6b7169203331",
        "00f067aa0ba902b7",
    ]
