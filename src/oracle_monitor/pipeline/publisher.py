"""The receivers' ingest-worker sink: validate, split by trace id, publish, await the acks.

`KafkaSink.prepare` turns one OTLP request (protobuf or JSON) into one message per trace id
(`oracle_monitor.pipeline.messages`), rejecting bad spans one by one as ``serve`` does.
`KafkaSink.commit` produces every message of the worker's batch and returns only when the
brokers acknowledged each of them (delivery callbacks of an idempotent ``acks=all``
producer); any failed or timed-out delivery raises, so every request of the batch is answered
``UNAVAILABLE`` and the exporters retry. A retry may publish a message twice: the aggregators'
writes are idempotent on ``(trace_id, span_id)``, so each span is still stored once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from oracle_monitor.exporters.otlp_forward import ForwardConfig, ForwardCounters
from oracle_monitor.pipeline.messages import (
    SplitRequest,
    json_to_request,
    parse_request,
    split_request,
)
from oracle_monitor.receiver.sink import Prepared

__all__ = ["KafkaSink", "KafkaSinkConfig", "PublishFailed"]

logger = logging.getLogger(__name__)

_JSON = 1


class PublishFailed(RuntimeError):
    """Some message of a batch was not acknowledged by the brokers in time."""


@dataclass(frozen=True, slots=True)
class KafkaSinkConfig:
    """Where and how a receiver's worker publishes (picklable, opened in the worker)."""

    topic: str
    producer: dict[str, Any] = field(default_factory=dict)
    max_message_bytes: int = 1_000_000
    #: How long `commit` waits for acknowledgements (the producer gives up at about this).
    delivery_timeout_s: float = 5.0

    def open(self, forward: ForwardConfig | None, counters: ForwardCounters | None) -> KafkaSink:
        """The sink; receivers do not forward (``forward`` is ignored): the aggregators do."""
        return KafkaSink(self)


class KafkaSink:
    """Publishes requests' spans to the pipeline topic, one message per trace id."""

    def __init__(self, config: KafkaSinkConfig) -> None:
        self._config = config
        self._producer = Producer(config.producer)

    def prepare(self, encoding: int, body: bytes) -> Prepared:
        """Validate and split one request; raises `MalformedRequest`."""
        if encoding == _JSON:
            request, rejected, reasons = json_to_request(body)
            split = split_request(
                request, self._config.max_message_bytes, rejected=rejected, reasons=reasons
            )
        else:
            split = split_request(parse_request(body), self._config.max_message_bytes)
        return Prepared(split.accepted_spans, split.rejected_spans, split.error_message, split)

    def commit(self, batch: Sequence[Prepared]) -> None:
        """Publish every message of ``batch``; return once all are acknowledged."""
        failures: list[KafkaError] = []
        pending = 0

        def delivered(error: KafkaError | None, _message: Message) -> None:
            nonlocal pending
            pending -= 1
            if error is not None:
                failures.append(error)

        deadline = time.monotonic() + self._config.delivery_timeout_s + 1.0
        for prepared in batch:
            split: SplitRequest = prepared.payload
            for message in split.messages:
                while True:
                    try:
                        self._producer.produce(
                            self._config.topic, message.value, message.key, on_delivery=delivered
                        )
                        pending += 1
                        break
                    except BufferError:  # the local queue is full: let deliveries drain it
                        if time.monotonic() > deadline:
                            raise PublishFailed("producer queue full; brokers too slow") from None
                        self._producer.poll(0.05)
        while pending > 0 and time.monotonic() < deadline:
            self._producer.flush(max(0.0, deadline - time.monotonic()))
        if pending > 0 or failures:
            if any(error.fatal() for error in failures):
                self._restart()
            reason = str(failures[0]) if failures else f"{pending} messages not acknowledged"
            raise PublishFailed(f"Kafka did not take the spans: {reason}")

    def _restart(self) -> None:
        """A fatal producer error (e.g. the idempotence state was lost): a new producer."""
        logger.error("Kafka producer hit a fatal error; starting a new one")
        self._producer.flush(0)
        self._producer = Producer(self._config.producer)

    def committed(self, batch: Sequence[Prepared]) -> None:
        """Nothing to do after answering."""

    def close(self) -> None:
        """Deliver what is still queued (the answers have gone out already)."""
        remaining = self._producer.flush(self._config.delivery_timeout_s)
        if remaining:
            logger.warning(
                "%d messages undelivered at exit (their requests were refused)", remaining
            )
