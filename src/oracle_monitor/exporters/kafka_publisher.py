"""The ``kafka`` exporter: a ``receiver``'s messages published to the pipeline topic.

`KafkaPublisher.export` produces every message of the worker's batch (one per trace id, made by
`oracle_monitor.pipeline.messages.TraceMessageDecoder`) and returns only when the brokers
acknowledged each of them (delivery callbacks of an idempotent ``acks=all`` producer); any
failed or timed-out delivery raises, so every request of the batch is answered ``UNAVAILABLE``
and the exporters retry. A retry may publish a message twice: the aggregators' writes are
idempotent on ``(trace_id, span_id)``, so each span is still stored once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Producer
from confluent_kafka import Message as Delivery

from oracle_monitor.config import Settings
from oracle_monitor.pipeline.clients import pipeline_url, producer_config
from oracle_monitor.pipeline.components import ChainContext, Factory
from oracle_monitor.pipeline.messages import Message

__all__ = ["FACTORY", "KafkaPublisher", "KafkaPublisherConfig", "PublishFailed"]

logger = logging.getLogger(__name__)


class PublishFailed(RuntimeError):
    """Some message of a batch was not acknowledged by the brokers in time."""


@dataclass(frozen=True, slots=True)
class KafkaPublisherConfig:
    """Where and how to publish (picklable, sent to the worker processes)."""

    topic: str
    producer: dict[str, Any] = field(default_factory=dict)
    #: How long `export` waits for acknowledgements (the producer gives up at about this).
    delivery_timeout_s: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaPublisherConfig:
        """The pipeline topic of ``ORACLE_PIPELINE``, an idempotent ``acks=all`` producer."""
        return cls(
            topic=pipeline_url(settings).topic,
            producer=producer_config(settings),
            delivery_timeout_s=settings.pipeline.delivery_timeout_seconds,
        )


class KafkaPublisher:
    """Publishes messages to the pipeline topic and waits for the brokers' acknowledgements."""

    def __init__(self, config: KafkaPublisherConfig) -> None:
        self._config = config
        self._producer = Producer(config.producer)

    def export(self, batch: Sequence[Message]) -> None:
        """Publish every message of ``batch``; return once all are acknowledged."""
        failures: list[KafkaError] = []
        pending = 0

        def delivered(error: KafkaError | None, _message: Delivery) -> None:
            nonlocal pending
            pending -= 1
            if error is not None:
                failures.append(error)

        deadline = time.monotonic() + self._config.delivery_timeout_s + 1.0
        for message in batch:
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

    def shutdown(self) -> None:
        """Deliver what is still queued (the answers have gone out already)."""
        remaining = self._producer.flush(self._config.delivery_timeout_s)
        if remaining:
            logger.warning(
                "%d messages undelivered at exit (their requests were refused)", remaining
            )


def _create(config: KafkaPublisherConfig, _context: ChainContext) -> KafkaPublisher:
    return KafkaPublisher(config)


FACTORY = Factory(KafkaPublisherConfig.from_settings, _create)
