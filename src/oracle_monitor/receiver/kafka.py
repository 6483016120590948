"""The Kafka receiver: consume a batch, run the chain over it, then commit the offsets.

The aggregators' receiver. Each aggregator is one consumer of the group
(``enable.auto.commit=false``): it takes up to ``pipeline.consume_batch_messages`` messages and
hands them to its chain, ``serve``'s (`oracle_monitor.pipeline.factories.store_chain`): each
message decoded as ``serve`` decodes a request, the whole batch processed (GenAI fields, LLM
calls priced) and written with one `Store.write_spans` (idempotent on ``(trace_id, span_id)``);
only after that commit returned does it commit the offsets, synchronously. A crash anywhere
before the offset commit means the batch is delivered again, to this aggregator or another, and
written again without duplicates: at-least-once delivery plus idempotent writes, so each span
is stored exactly once.

A message that does not decode would block its partition forever if it were retried, so it
is counted, logged and published whole (key, value, and headers saying where it came from and
why) to the dead-letter topic ``<topic>.dlq``; its offset is committed with the batch once the
dead-letter topic acknowledged it. A store or dead-letter failure is retried with backoff,
without committing; a stop request during the retries leaves the batch uncommitted.

With ``ORACLE_FORWARD_OTLP_ENDPOINTS`` set, the spans of each written batch then go to the
chain's best-effort exporter, `oracle_monitor.exporters.otlp_forward` (bounded queues, never
blocking this loop), as in ``serve``. A batch delivered again after a crash or a failed offset
commit is written once but may be forwarded twice.

Rebalances: batches are finished (written and committed) before the next poll, and polls are
where partitions are revoked, so a revoked partition has nothing written but uncommitted,
except when an offset commit failed; those offsets are committed again on revoke.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from oracle_monitor.model import Span
from oracle_monitor.pipeline.chain import Chain
from oracle_monitor.pipeline.components import PROTOBUF
from oracle_monitor.receiver.decode import MalformedRequest

__all__ = ["KafkaReceiver", "KafkaReceiverConfig", "KafkaReceiverStats"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KafkaReceiverConfig:
    """What one aggregator consumes and how."""

    topic: str
    dead_letter_topic: str
    consumer: dict[str, Any]
    producer: dict[str, Any]
    batch_messages: int = 500
    poll_timeout_s: float = 0.5
    stats_interval_s: float = 30.0
    retry_backoff_s: float = 0.2


@dataclass(slots=True)
class KafkaReceiverStats:
    """Counters since start-up (logged every ``stats_interval_s`` and on ``GET /health``)."""

    messages: int = 0
    spans_written: int = 0
    rejected_spans: int = 0
    batches: int = 0
    dead_letters: int = 0
    write_retries: int = 0
    commit_failures: int = 0
    rebalances: int = 0
    consumer_errors: int = 0
    assigned: list[str] = field(default_factory=list)


class KafkaReceiver:
    """Consumes the pipeline topic into a chain; `run` until the stop event is set."""

    def __init__(self, config: KafkaReceiverConfig, chain: Chain[Span]) -> None:
        self._config = config
        self._chain = chain
        self._consumer = Consumer(config.consumer)
        self._dead_letters = Producer(config.producer)
        #: Offsets written to the store whose commit failed, by (topic, partition).
        self._uncommitted: dict[tuple[str, int], int] = {}
        self.stats = KafkaReceiverStats()

    def run(self, stop: threading.Event) -> None:
        """Poll, write and commit until ``stop`` is set; then leave the group."""
        consumer = self._consumer
        consumer.subscribe(
            [self._config.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        next_stats = time.monotonic() + self._config.stats_interval_s
        try:
            while not stop.is_set():
                messages = consumer.consume(
                    self._config.batch_messages, timeout=self._config.poll_timeout_s
                )
                records = [message for message in messages if self._usable(message)]
                if records:
                    self._process(records, stop)
                if time.monotonic() >= next_stats:
                    self.log_stats()
                    next_stats = time.monotonic() + self._config.stats_interval_s
        finally:
            self._close()

    def _usable(self, message: Message) -> bool:
        error = message.error()
        if error is None:
            return True
        if error.code() != KafkaError._PARTITION_EOF:
            self.stats.consumer_errors += 1
            logger.warning("consumer: %s", error)
        return False

    def _process(self, records: Sequence[Message], stop: threading.Event) -> None:
        chain = self._chain
        spans: list[Span] = []
        dead: list[tuple[Message, str]] = []
        rejected = 0
        for record in records:
            try:
                decoded = chain.decode(PROTOBUF, record.value() or b"")
            except MalformedRequest as error:
                dead.append((record, str(error)))
                continue
            spans.extend(decoded.items)
            if decoded.rejected:
                rejected += decoded.rejected
                logger.warning(
                    "message at %s[%d]@%d: %s",
                    record.topic(),
                    record.partition(),
                    record.offset(),
                    decoded.error_message,
                )
        chain.process(spans)
        if dead and not self._retry(lambda: self._publish_dead_letters(dead), stop):
            return
        if spans and not self._retry(lambda: chain.export(spans), stop):
            return
        chain.after_export(spans)
        self.stats.messages += len(records)
        self.stats.spans_written += len(spans)
        self.stats.rejected_spans += rejected
        self.stats.dead_letters += len(dead)
        self.stats.batches += 1
        offsets: dict[tuple[str, int], int] = {}
        for record in records:
            key = (str(record.topic()), int(record.partition() or 0))
            offsets[key] = max(offsets.get(key, -1), int(record.offset() or 0) + 1)
        self._commit(offsets)

    def _retry(self, action: Callable[[], None], stop: threading.Event) -> bool:
        """Run ``action`` until it succeeds (True) or ``stop`` is set (False)."""
        delay = self._config.retry_backoff_s
        while True:
            try:
                action()
                return True
            except Exception:
                self.stats.write_retries += 1
                logger.exception("writing a batch failed; retrying in %.1f s", delay)
            if stop.wait(delay):
                logger.warning("stopping with a batch unwritten; it will be delivered again")
                return False
            delay = min(delay * 2, 5.0)

    def _publish_dead_letters(self, dead: Sequence[tuple[Message, str]]) -> None:
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                failures.append(error)

        for record, reason in dead:
            logger.error(
                "undecodable message at %s[%d]@%d goes to %s: %s",
                record.topic(),
                record.partition(),
                record.offset(),
                self._config.dead_letter_topic,
                reason,
            )
            headers: list[tuple[str, str | bytes | None]] = [
                ("oracle.dlq.error", reason.encode()),
                ("oracle.dlq.topic", str(record.topic()).encode()),
                ("oracle.dlq.partition", str(record.partition()).encode()),
                ("oracle.dlq.offset", str(record.offset()).encode()),
            ]
            self._dead_letters.produce(
                self._config.dead_letter_topic,
                record.value(),
                record.key(),
                headers=headers,
                on_delivery=delivered,
            )
        if self._dead_letters.flush(30) or failures:
            raise RuntimeError(f"dead-letter topic did not take the messages: {failures[:1]}")

    def _commit(self, offsets: dict[tuple[str, int], int]) -> None:
        self._uncommitted.update(offsets)
        partitions = [TopicPartition(t, p, o) for (t, p), o in self._uncommitted.items()]
        try:
            self._consumer.commit(offsets=partitions, asynchronous=False)
        except KafkaException as error:
            # Revoked meanwhile, or the coordinator moved: the next owner reads from the last
            # committed offset and writes again, which stores nothing twice.
            self.stats.commit_failures += 1
            logger.warning("offset commit failed (%s); the batch may be delivered again", error)
            return
        self._uncommitted.clear()

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.stats.rebalances += 1
        self.stats.assigned = sorted(f"{p.topic}[{p.partition}]" for p in partitions)
        logger.info("assigned %s", ", ".join(self.stats.assigned) or "nothing")

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {(p.topic, p.partition) for p in partitions}
        retry = [
            TopicPartition(t, p, o) for (t, p), o in self._uncommitted.items() if (t, p) in revoked
        ]
        if retry:
            try:
                consumer.commit(offsets=retry, asynchronous=False)
            except KafkaException as error:
                logger.warning("commit on revoke failed (%s); redelivery will follow", error)
        for key in revoked:
            self._uncommitted.pop(key, None)
        self.stats.assigned = []
        logger.info("revoked %s", ", ".join(f"{t}[{p}]" for t, p in sorted(revoked)) or "nothing")

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for p in partitions:
            self._uncommitted.pop((p.topic, p.partition), None)
        self.stats.assigned = []
        logger.warning(
            "lost %d partitions (session timed out); their batches are redelivered", len(partitions)
        )

    def log_stats(self) -> None:
        """Log the counters."""
        s = self.stats
        logger.info(
            "aggregator: %d messages, %d spans written, %d rejected, %d dead letters, "
            "%d batches, %d write retries, %d commit failures; assigned %s",
            s.messages, s.spans_written, s.rejected_spans, s.dead_letters,
            s.batches, s.write_retries, s.commit_failures, ", ".join(s.assigned) or "nothing",
        )  # fmt: skip

    def _close(self) -> None:
        try:
            self._consumer.close()  # leaves the group: the others take over at once
        finally:
            self._dead_letters.flush(5)
            self.log_stats()
