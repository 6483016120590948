"""Ingest workers: OTLP requests run through the role's chain in child processes, one per core.

Turning OTLP into spans is CPU-bound Python, and one process uses one core. So the receivers
(asyncio, in the server process) only check capacity and hand each request's bytes to the
worker with the least work queued; the worker (`oracle_monitor.receiver.worker_process`)
decodes, processes and exports through its chain (one store transaction for ``serve``, Kafka
publication acknowledged by the brokers for ``receiver``) and answers. A request is
acknowledged only when its worker's exporter made it durable, refused up front when too many
bytes wait (`PipelineFull`, so exporters back off and retry), and answered ``UNAVAILABLE`` if
its worker dies (the worker is restarted, the exporter retries, and writes are idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import socket
import time
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

from oracle_monitor.pipeline.components import JSON, PROTOBUF
from oracle_monitor.receiver.decode import MalformedRequest
from oracle_monitor.receiver.errors import PipelineFull, ServiceUnavailable
from oracle_monitor.receiver.latency import LatencyHistogram
from oracle_monitor.receiver.worker_process import (
    MALFORMED,
    REPLY,
    REQUEST,
    STORED,
    WorkerConfig,
    worker_main,
)

if TYPE_CHECKING:
    from oracle_monitor.exporters.otlp_forward import ForwardCounters

logger = logging.getLogger(__name__)

ENCODINGS = {"protobuf": PROTOBUF, "json": JSON}


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What became of one request's spans."""

    accepted_spans: int
    rejected_spans: int
    error_message: str


@dataclass(slots=True)
class IngestStats:
    """Counters since start-up, shown by ``GET /api/v1/health``."""

    accepted_spans: int = 0
    rejected_spans: int = 0
    refused_requests: int = 0
    malformed_requests: int = 0
    failed_requests: int = 0
    worker_restarts: int = 0


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    writer: asyncio.StreamWriter
    reply_task: asyncio.Task[None] | None = None
    pending: dict[int, tuple[asyncio.Future[IngestResult], int]] = field(default_factory=dict)
    queued_bytes: int = 0


class IngestWorkerPool:
    """Hands OTLP request bodies to worker processes and awaits their durable storage."""

    def __init__(self, config: WorkerConfig, *, workers: int, max_queued_bytes: int,
                 retry_after_s: float) -> None:  # fmt: skip
        self._config = config
        self._size = workers
        self._max_queued_bytes = max_queued_bytes
        self._retry_after_s = retry_after_s
        self._workers: list[_Worker] = []
        self._ids = itertools.count(1)
        self._closing = False
        self._context = multiprocessing.get_context("spawn")  # never fork a gRPC process
        self.stats = IngestStats()
        #: Shared by every worker when the chain forwards, read for health.
        self.forward_counters: ForwardCounters | None = config.chain.forward_counters(self._context)
        self.write_latency = LatencyHistogram()  # handed to a worker -> durable

    @property
    def queued_bytes(self) -> int:
        """Request bytes handed to workers and not yet answered."""
        return sum(worker.queued_bytes for worker in self._workers)

    @property
    def queued_requests(self) -> int:
        """Requests handed to workers and not yet answered."""
        return sum(len(worker.pending) for worker in self._workers)

    async def start(self) -> None:
        """Start the worker processes."""
        self._workers = [await self._spawn() for _ in range(self._size)]

    async def _spawn(self) -> _Worker:
        ours, theirs = socket.socketpair()
        process = self._context.Process(
            target=worker_main,
            args=(theirs, self._config, self.forward_counters),
            name="oracle-ingest",
            daemon=True,
        )
        await asyncio.to_thread(process.start)
        theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        worker = _Worker(process, writer)
        worker.reply_task = asyncio.create_task(self._read_replies(worker, reader))
        return worker

    def check_capacity(self) -> None:
        """Raise `PipelineFull` or `ServiceUnavailable` when no request should be taken now."""
        if self._closing:
            raise ServiceUnavailable("server is shutting down", self._retry_after_s)
        queued = self.queued_bytes
        if queued >= self._max_queued_bytes:
            self.stats.refused_requests += 1
            raise PipelineFull(
                f"ingest queue full ({queued} bytes waiting); retry later", self._retry_after_s
            )

    async def submit(self, encoding: str, body: bytes) -> IngestResult:
        """Decode and store one request; return once its spans are durable.

        Raises `MalformedRequest` for a body that does not decode, `ServiceUnavailable` when
        the store failed, the worker died or the pool is closing (the client should retry).
        """
        if self._closing or not self._workers:
            raise ServiceUnavailable("server is shutting down", self._retry_after_s)
        worker = min(self._workers, key=lambda candidate: candidate.queued_bytes)
        request_id = next(self._ids)
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        worker.pending[request_id] = (future, len(body))
        worker.queued_bytes += len(body)
        started = time.perf_counter()
        worker.writer.write(REQUEST.pack(request_id, ENCODINGS[encoding], len(body)))
        worker.writer.write(body)
        await worker.writer.drain()
        result = await future
        self.write_latency.observe(time.perf_counter() - started)
        self.stats.accepted_spans += result.accepted_spans
        self.stats.rejected_spans += result.rejected_spans
        return result

    async def _read_replies(self, worker: _Worker, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                header = await reader.readexactly(REPLY.size)
                request_id, outcome, accepted, rejected, length = REPLY.unpack(header)
                message = (await reader.readexactly(length)).decode() if length else ""
                future, size = worker.pending.pop(request_id)
                worker.queued_bytes -= size
                if future.done():  # the client went away; its spans are stored all the same
                    continue
                if outcome == STORED:
                    future.set_result(IngestResult(accepted, rejected, message))
                elif outcome == MALFORMED:
                    self.stats.malformed_requests += 1
                    future.set_exception(MalformedRequest(message))
                else:
                    self.stats.failed_requests += 1
                    future.set_exception(ServiceUnavailable(message, self._retry_after_s))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self._fail_pending(worker)
        if not self._closing:
            logger.error("ingest worker %s exited; starting another", worker.process.pid)
            self.stats.worker_restarts += 1
            self._workers.remove(worker)
            self._workers.append(await self._spawn())

    def _fail_pending(self, worker: _Worker) -> None:
        for future, _ in worker.pending.values():
            if not future.done():
                self.stats.failed_requests += 1
                future.set_exception(ServiceUnavailable("ingest worker exited", 1.0))
        worker.pending.clear()
        worker.queued_bytes = 0

    async def shutdown(self) -> None:
        """Let workers finish what they hold, then stop them. Idempotent."""
        self._closing = True
        workers, self._workers = self._workers, []
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.writer.write_eof()  # the worker finishes its batch, then exits
        for worker in workers:
            if worker.reply_task is not None:
                await worker.reply_task
            await asyncio.to_thread(worker.process.join, 30)
            if worker.process.is_alive():
                logger.warning("ingest worker %s did not stop; killing it", worker.process.pid)
                worker.process.kill()
            worker.writer.close()
