"""The forwarder of one ingest worker: a bounded queue and an export thread per target.

`Forwarder.submit` is called by the worker after a batch is stored. It never blocks and never
raises: spans that do not fit in a target's queue (``queue_max_spans``) are dropped for that
target and counted. Each target's thread takes up to ``batch_max_spans`` spans at a time
(waiting at most ``schedule_delay_s`` for more), looks up the stored infrastructure events
that correlate with them, and exports them with the stock OTLP exporter, whose retries and
backoff run in that thread — so a slow or dead target holds only its own thread.

Counters live in shared memory (`ForwardCounters`), written by every worker process and read
by the server process for ``GET /api/v1/health``. ``queued_spans`` counts the spans waiting
in the queues *and* those in an export still under way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from multiprocessing.context import BaseContext
from typing import Any

from opentelemetry.sdk.trace import Event
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from oracle_monitor.aggregator.correlate import EvidenceReader, correlate_stored
from oracle_monitor.exporters.otlp_forward.convert import infra_span_event, to_readable_spans
from oracle_monitor.exporters.otlp_forward.endpoints import ForwardConfig, ForwardEndpoint
from oracle_monitor.model import Span

logger = logging.getLogger(__name__)

#: Counter slots per target, in this order.
FIELDS = ("queued_spans", "forwarded_spans", "dropped_spans", "failed_spans")
_QUEUED, _FORWARDED, _DROPPED, _FAILED = range(len(FIELDS))
#: Correlated events looked up per export batch, at most.


class ForwardCounters:
    """Per-target counters in shared memory, shared by the server and its worker processes."""

    def __init__(self, context: BaseContext, labels: Sequence[str]) -> None:
        self.labels = tuple(labels)
        self._values: Any = context.Array("q", len(self.labels) * len(FIELDS))

    @classmethod
    def for_targets(cls, context: BaseContext, config: ForwardConfig) -> ForwardCounters:
        """Counters for each target of ``config``, labelled as the health route shows them."""
        return cls(context, [endpoint.label for endpoint in config.endpoints])

    def add(self, target: int, field: int, amount: int) -> None:
        """Add ``amount`` to one counter of target number ``target``."""
        with self._values.get_lock():
            self._values[target * len(FIELDS) + field] += amount

    def snapshot(self) -> list[dict[str, Any]]:
        """Every target's counters, for the health route."""
        with self._values.get_lock():
            values = list(self._values)
        return [
            {"endpoint": label}
            | dict(zip(FIELDS, values[n * len(FIELDS) : (n + 1) * len(FIELDS)], strict=True))
            for n, label in enumerate(self.labels)
        ]


class _Target:
    """One target's queue and export thread."""

    def __init__(
        self, number: int, endpoint: ForwardEndpoint, forwarder: Forwarder
    ) -> None:  # fmt: skip
        self.number = number
        self.endpoint = endpoint
        self.queue: deque[Span] = deque()
        self.wake = threading.Condition()
        self.stopping = False
        self._forwarder = forwarder
        config = forwarder.config
        self._exporter: SpanExporter = endpoint.exporter(config.headers, config.export_timeout_s)
        self.thread = threading.Thread(
            target=self._run, name=f"oracle-forward-{number}", daemon=True
        )

    def offer(self, spans: Sequence[Span]) -> None:
        counters, config = self._forwarder.counters, self._forwarder.config
        with self.wake:
            room = max(0, config.queue_max_spans - len(self.queue))
            taken = spans[:room]
            self.queue.extend(taken)
            if len(self.queue) >= config.batch_max_spans:
                self.wake.notify()
        if taken:
            counters.add(self.number, _QUEUED, len(taken))
        if len(taken) < len(spans):
            counters.add(self.number, _DROPPED, len(spans) - len(taken))

    def _take(self) -> list[Span]:
        config = self._forwarder.config
        with self.wake:
            if len(self.queue) < config.batch_max_spans and not self.stopping:
                self.wake.wait(config.schedule_delay_s)
            count = min(len(self.queue), config.batch_max_spans)
            return [self.queue.popleft() for _ in range(count)]

    def _run(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                if self.stopping:
                    return
                continue
            self._export(batch)

    def _export(self, batch: list[Span]) -> None:
        counters = self._forwarder.counters
        try:
            spans = to_readable_spans(batch, self._forwarder.infra_events(batch))
            result = self._exporter.export(spans)
        except Exception:  # a bad span or exporter bug must not kill forwarding
            logger.exception("forwarding %d spans to %s failed", len(batch), self.endpoint.label)
            result = SpanExportResult.FAILURE
        field = _FORWARDED if result is SpanExportResult.SUCCESS else _FAILED
        counters.add(self.number, field, len(batch))
        counters.add(self.number, _QUEUED, -len(batch))  # counted as waiting until done

    def stop(self, deadline: float) -> None:
        with self.wake:
            self.stopping = True
            self.wake.notify()
        self.thread.join(max(0.0, deadline - time.monotonic()))
        if self.thread.is_alive():
            with self.wake:
                left = len(self.queue)
                self.queue.clear()
            self._forwarder.counters.add(self.number, _QUEUED, -left)
            self._forwarder.counters.add(self.number, _DROPPED, left)
        self._exporter.shutdown()


class Forwarder:
    """Hands stored spans on to every forward target, without ever blocking the caller."""

    def __init__(
        self, config: ForwardConfig, counters: ForwardCounters, events: EvidenceReader | None
    ) -> None:
        self.config = config
        self.counters = counters
        self._events = events if config.with_events else None
        self._targets = [_Target(n, e, self) for n, e in enumerate(config.endpoints)]
        for target in self._targets:
            target.thread.start()

    def submit(self, spans: Sequence[Span]) -> None:
        """Queue ``spans`` for every target; drop (and count) what does not fit."""
        if spans:
            for target in self._targets:
                target.offer(spans)

    def infra_events(self, spans: Sequence[Span]) -> dict[str, list[Event]]:
        """Stored infrastructure events that correlate with ``spans``, as span events."""
        if self._events is None or not spans:
            return {}
        try:
            found = correlate_stored(
                self._events, spans, now_ns=time.time_ns(), config=self.config.correlation
            )
        except Exception:  # forwarding goes on without the events
            logger.exception("reading infrastructure events to forward failed")
            return {}
        return {
            span_id: [infra_span_event(found.events[m.event_id], m.via) for m in matches]
            for span_id, matches in found.by_span.items()
        }

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Export what is queued within ``timeout_s`` (dropping and counting the rest)."""
        deadline = time.monotonic() + timeout_s
        for target in self._targets:
            target.stop(deadline)
