"""Trace context across Kafka: confluent-kafka producers and consumers that carry the trace.

`TracedProducer` wraps a ``confluent_kafka.Producer``: each ``produce`` makes a PRODUCER span
``send {topic}`` and injects its W3C context (``traceparent``, ``tracestate``, ``baggage`` with
the task id) into the message headers, keeping the headers given (list or dict). The span ends
when the delivery report arrives (``poll``/``flush``) and then has the partition and offset.

On the consumer side a CONSUMER span ``process {topic}`` is a child of the producer's span and
links to it (messaging semantic conventions), so one task's trace continues across agents::

    consumer = TracedConsumer(Consumer(config), group_id="summariser")
    message = consumer.poll(1.0)          # the process span is current until the next poll
    with process_message(message):        # ... or until this block ends
        with execute_tool("summarise"):   # same trace, same oracle.task.id
            ...

`process_message` also works with messages of a plain ``Consumer``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from contextvars import Token
from dataclasses import dataclass
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from oracle_monitor.instrumentation.agent import (
    TASK_ID_KEY,
    ScopedSpan,
    current_task_id,
    record_exception,
)

__all__ = ["TracedConsumer", "TracedProducer", "process_message"]

TRACER_NAME = "oracle_monitor.instrumentation.kafka"
Headers = Sequence[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None]
DeliveryCallback = Callable[[Any, Any], None]


class _HeaderGetter(Getter[Sequence[tuple[str, str | bytes | None]]]):
    def get(self, carrier: Sequence[tuple[str, str | bytes | None]], key: str) -> list[str] | None:
        found = [
            value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
            for name, value in carrier
            if name.lower() == key.lower() and value is not None
        ]
        return found or None

    def keys(self, carrier: Sequence[tuple[str, str | bytes | None]]) -> list[str]:
        return [name for name, _ in carrier]


_GETTER = _HeaderGetter()


def _header_list(headers: Headers | None) -> list[tuple[str, str | bytes | None]]:
    return list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])


def extract_context(
    headers: Headers | None, base: context.Context | None = None
) -> context.Context:
    """The context propagated in message ``headers`` (list or dict), over ``base``/current."""
    return propagate.extract(
        _header_list(headers),
        context=base if base is not None else context.get_current(),
        getter=_GETTER,
    )


def _messaging_attributes(
    operation: str, topic: str | None, group: str | None = None, ctx: context.Context | None = None
) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "messaging.system": "kafka",
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
    }
    if topic is not None:
        attributes["messaging.destination.name"] = topic
    if group:
        attributes["messaging.consumer.group.name"] = group
        attributes["messaging.kafka.consumer.group"] = group  # the name before semconv 1.27
    task_id = current_task_id(ctx)
    if task_id:
        attributes[TASK_ID_KEY] = task_id
    return attributes


def _message_attributes(key: Any, value: Any) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {}
    if isinstance(key, bytes):
        # A key with no canonical string form is left out, as the convention says.
        with contextlib.suppress(UnicodeDecodeError):
            attributes["messaging.kafka.message.key"] = key.decode("utf-8")
    elif isinstance(key, str | int):
        attributes["messaging.kafka.message.key"] = str(key)
    if value is None:
        attributes["messaging.kafka.message.tombstone"] = True
    elif isinstance(value, bytes | str):
        attributes["messaging.message.body.size"] = len(
            value.encode() if isinstance(value, str) else value
        )
    return attributes


class TracedProducer:
    """A confluent-kafka producer whose messages carry the trace (other methods pass through)."""

    def __init__(self, producer: Any) -> None:
        self._producer = producer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._producer, name)

    def __len__(self) -> int:
        return len(self._producer)

    def produce(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        headers: Headers | None = None,
        partition: int | None = None,
        on_delivery: DeliveryCallback | None = None,
        **kwargs: Any,
    ) -> None:
        """``Producer.produce`` inside a PRODUCER span whose context goes in the headers.

        A creation context already in ``headers`` (a ``traceparent``) is kept as given and
        linked, as the messaging conventions ask; otherwise the span's context is injected.
        """
        callback: DeliveryCallback | None = on_delivery or kwargs.pop("callback", None)
        attributes = _messaging_attributes("send", topic)
        attributes.update(_message_attributes(key, value))
        if partition is not None and partition >= 0:
            attributes["messaging.destination.partition.id"] = str(partition)
        given = trace.get_current_span(extract_context(headers, context.Context()))
        links = [Link(given.get_span_context())] if given.get_span_context().is_valid else []
        tracer = trace.get_tracer(TRACER_NAME)
        span = tracer.start_span(
            f"send {topic}", kind=SpanKind.PRODUCER, attributes=attributes, links=links
        )
        if not links:
            carrier: dict[str, str] = {}
            propagate.inject(carrier, context=trace.set_span_in_context(span))
            headers = _merge_headers(headers, carrier)
        if partition is not None:
            kwargs["partition"] = partition
        try:
            self._producer.produce(
                topic, value, key, headers=headers, on_delivery=_delivered(span, callback), **kwargs
            )
        except Exception as error:
            record_exception(span, error)
            span.end()
            raise


def _merge_headers(headers: Headers | None, carrier: Mapping[str, str]) -> Any:
    """``headers`` (same shape: list or dict) plus the propagation ``carrier`` entries."""
    added = {name: value.encode() for name, value in carrier.items()}
    if isinstance(headers, Mapping):
        return {**headers, **added}
    names = {name.lower() for name in added}
    kept = [(name, value) for name, value in _header_list(headers) if name.lower() not in names]
    return kept + list(added.items())


def _delivered(span: Span, callback: DeliveryCallback | None) -> DeliveryCallback:
    def on_delivery(error: Any, message: Any) -> None:
        try:
            if error is not None:
                span.set_attribute(
                    "error.type", str(error.name()) if hasattr(error, "name") else ""
                )
                span.set_status(Status(StatusCode.ERROR, str(error)))
            elif message is not None:
                span.set_attribute("messaging.destination.partition.id", str(message.partition()))
                offset = message.offset()
                if offset is not None and offset >= 0:
                    span.set_attribute("messaging.kafka.offset", offset)
        finally:
            span.end()
        if callback is not None:
            callback(error, message)

    return on_delivery


@dataclass
class _InFlight:
    """A process span `TracedConsumer.poll` started; `process_message` may take it over."""

    message: Any
    span: Span
    context: context.Context
    taken: bool = False


_in_flight: dict[int, _InFlight] = {}
_in_flight_lock = threading.Lock()


def _start_process_span(message: Any, group_id: str | None) -> tuple[Span, context.Context]:
    parent = extract_context(message.headers())
    creation = trace.get_current_span(parent).get_span_context()
    attributes = _messaging_attributes("process", message.topic(), group_id, parent)
    attributes.update(_message_attributes(message.key(), message.value()))
    if message.partition() is not None:
        attributes["messaging.destination.partition.id"] = str(message.partition())
    if message.offset() is not None:
        attributes["messaging.kafka.offset"] = message.offset()
    tracer = trace.get_tracer(TRACER_NAME)
    span = tracer.start_span(
        f"process {message.topic()}",
        parent,
        SpanKind.CONSUMER,
        attributes,
        links=[Link(creation)] if creation.is_valid else None,
    )
    return span, trace.set_span_in_context(span, parent)


class process_message(ScopedSpan):  # lower case: used like a function
    """Context manager (``with`` / ``async with``): the CONSUMER span of one message, current.

    The span is a child of the producer's span (and links to it); the propagated baggage (task
    id) is current too. For a message `TracedConsumer.poll` returned, its span is reused and
    ended here. An exception is recorded on the span and propagates.
    """

    def __init__(self, message: Any, group_id: str | None = None) -> None:
        super().__init__()
        self._message = message
        self._group_id = group_id

    def _open(self) -> tuple[Span, context.Context]:
        with _in_flight_lock:
            flight = _in_flight.get(id(self._message))
            if flight is not None and flight.message is self._message and not flight.taken:
                flight.taken = True
                return flight.span, flight.context
        return _start_process_span(self._message, self._group_id)


class TracedConsumer:
    """A confluent-kafka consumer that continues the producers' traces.

    ``poll`` starts the CONSUMER span of the message it returns and keeps it current until the
    next ``poll``/``consume``/``close`` (or until a `process_message` block for it ends).
    ``consume`` records one ``receive {topic}`` span linking every message's creation context;
    wrap each message in `process_message` to trace its handling. Other methods pass through.
    """

    def __init__(self, consumer: Any, group_id: str | None = None) -> None:
        self._consumer = consumer
        self.group_id = group_id
        self._flight: _InFlight | None = None
        self._token: Token[context.Context] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._consumer, name)

    def poll(self, timeout: float | None = None) -> Any:
        """``Consumer.poll``; a message's process span becomes current until the next call."""
        self.finish()
        message = self._consumer.poll() if timeout is None else self._consumer.poll(timeout)
        if message is None or message.error() is not None:
            return message
        span, ctx = _start_process_span(message, self.group_id)
        self._flight = _InFlight(message, span, ctx)
        with _in_flight_lock:
            _in_flight[id(message)] = self._flight
        self._token = context.attach(ctx)
        return message

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Any]:
        """``Consumer.consume``, recorded as one ``receive`` span linking each message."""
        self.finish()
        messages: list[Any] = self._consumer.consume(num_messages, timeout)
        received = [m for m in messages if m.error() is None]
        if received:
            topics = sorted({m.topic() for m in received})
            topic = topics[0] if len(topics) == 1 else None
            attributes = _messaging_attributes("receive", topic, self.group_id)
            attributes["messaging.batch.message_count"] = len(received)
            links: list[Link] = []
            for message in received:
                parent = extract_context(message.headers(), context.Context())
                creation = trace.get_current_span(parent).get_span_context()
                if creation.is_valid:
                    links.append(Link(creation))
            name = "receive" if topic is None else f"receive {topic}"
            tracer = trace.get_tracer(TRACER_NAME)
            tracer.start_span(
                name, kind=SpanKind.CONSUMER, attributes=attributes, links=links
            ).end()
        return messages

    def finish(self) -> None:
        """End the span of the last polled message now (``poll`` and ``close`` call this)."""
        flight, token = self._flight, self._token
        self._flight, self._token = None, None
        if flight is not None:
            with _in_flight_lock:
                _in_flight.pop(id(flight.message), None)
                taken = flight.taken
            if not taken:
                flight.span.end()
        if token is not None:
            context.detach(token)

    def close(self, *args: Any, **kwargs: Any) -> Any:
        """End the last message's span, then ``Consumer.close``."""
        self.finish()
        return self._consumer.close(*args, **kwargs)
