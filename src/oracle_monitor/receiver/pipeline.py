"""The bounded queue and batching writer between the OTLP receivers and the store.

Receivers hand decoded spans to `SpanPipeline.submit` and await it; a single writer thread
takes everything queued (up to ``batch_max_spans``), writes it in one store transaction, and
only then resolves the submitters' futures. A span is therefore acknowledged to its exporter
only once it is durable. When more than ``max_queued_spans`` wait, `check_capacity` raises
`PipelineFull` *before* the request is decoded, so the exporter backs off and retries.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from oracle_monitor.model import Span
from oracle_monitor.receiver.errors import PipelineFull, ServiceUnavailable
from oracle_monitor.store.base import SpanWriter

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class PipelineStats:
    """Counters of the receiver's work since start-up."""

    accepted_spans: int = 0
    rejected_spans: int = 0
    refused_requests: int = 0
    written_spans: int = 0
    write_batches: int = 0
    write_failures: int = 0
    last_write_ms: float = 0.0


@dataclass(slots=True)
class _Pending:
    spans: Sequence[Span]
    future: asyncio.Future[None]


class SpanPipeline:
    """Queue spans, write them in batches from one thread, acknowledge after commit."""

    def __init__(
        self,
        writer: SpanWriter,
        *,
        max_queued_spans: int,
        batch_max_spans: int,
        retry_after_s: float,
    ) -> None:
        self._writer = writer
        self._max_queued_spans = max_queued_spans
        self._batch_max_spans = batch_max_spans
        self._retry_after_s = retry_after_s
        self._pending: deque[_Pending] = deque()
        self._queued_spans = 0
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stats = PipelineStats()

    @property
    def queued_spans(self) -> int:
        """Spans accepted but not yet committed."""
        return self._queued_spans

    async def start(self) -> None:
        """Start the writer thread."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="span-writer", daemon=True)
        self._thread.start()

    def check_capacity(self) -> None:
        """Raise `PipelineFull` or `ServiceUnavailable` when no request should be taken now."""
        if self._closing:
            raise ServiceUnavailable("server is shutting down", self._retry_after_s)
        if self._queued_spans >= self._max_queued_spans:
            self.stats.refused_requests += 1
            raise PipelineFull(
                f"ingest queue full ({self._queued_spans} spans waiting); retry later",
                self._retry_after_s,
            )

    async def submit(self, spans: Sequence[Span]) -> None:
        """Return once ``spans`` are durable in the store.

        Raises `ServiceUnavailable` if the store write failed or the pipeline is closing; the
        exporter should then retry the whole request (writes are idempotent).
        """
        if not spans:
            return
        assert self._loop is not None, "start() first"
        future: asyncio.Future[None] = self._loop.create_future()
        with self._cond:
            if self._closing:
                raise ServiceUnavailable("server is shutting down", self._retry_after_s)
            self._pending.append(_Pending(spans, future))
            self._queued_spans += len(spans)
            self._cond.notify()
        await future
        self.stats.accepted_spans += len(spans)

    async def shutdown(self) -> None:
        """Stop taking spans, write everything queued, stop the thread. Idempotent."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    def _take_batch(self) -> list[_Pending] | None:
        with self._cond:
            while not self._pending and not self._closing:
                self._cond.wait()
            if not self._pending:
                return None
            batch = [self._pending.popleft()]
            count = len(batch[0].spans)
            while self._pending and count + len(self._pending[0].spans) <= self._batch_max_spans:
                item = self._pending.popleft()
                count += len(item.spans)
                batch.append(item)
            return batch

    def _run(self) -> None:
        while (batch := self._take_batch()) is not None:
            spans = [span for item in batch for span in item.spans]
            error: BaseException | None = None
            started = time.perf_counter()
            try:
                self._writer.write_spans(spans)
            except Exception as exc:  # the store's failure must not kill the writer
                logger.exception("writing %d spans failed; exporters will retry", len(spans))
                self.stats.write_failures += 1
                error = ServiceUnavailable(f"store write failed: {exc}", self._retry_after_s)
            else:
                self.stats.written_spans += len(spans)
                self.stats.write_batches += 1
                self.stats.last_write_ms = (time.perf_counter() - started) * 1000
            with self._cond:
                self._queued_spans -= len(spans)
            assert self._loop is not None
            for item in batch:
                self._loop.call_soon_threadsafe(_settle, item.future, error)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # the client went away; its spans are written all the same
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
