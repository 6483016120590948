"""The child side of the ingest workers: run the role's chain over OTLP requests, then answer.

Runs in a process of its own (see `oracle_monitor.receiver.workers`), reading requests from a
socket shared with the server process, and builds its chain there
(`oracle_monitor.pipeline.factories.build_chain`). It takes every request already waiting (up to
``batch_max_spans`` spans), decodes each, processes and exports them all at once and only then
answers each request, so an answer means the spans are durable: written to the store in one
transaction for ``serve``, acknowledged by the Kafka brokers for ``receiver``. After answering
it hands the batch to the chain's best-effort exporters (OTLP forwarding). It exits when the
server closes the socket, after finishing the batch in hand.

Frames on the socket (little-endian; encoding as in `oracle_monitor.pipeline.components`):
  request  <id u64><encoding u8><body length u32> body
  reply    <id u64><outcome u8><accepted u32><rejected u32><message length u32> message (UTF-8)
"""

from __future__ import annotations

import gc
import logging
import select
import signal
import socket
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from oracle_monitor.pipeline.chain import Chain
from oracle_monitor.pipeline.components import ChainContext, Decoded
from oracle_monitor.pipeline.factories import ChainSpec, build_chain
from oracle_monitor.receiver.decode import MalformedRequest

if TYPE_CHECKING:
    from oracle_monitor.exporters.otlp_forward import ForwardCounters

logger = logging.getLogger(__name__)

REQUEST: Final = struct.Struct("<QBI")
REPLY: Final = struct.Struct("<QBIII")
#: Reply outcomes.
STORED: Final = 0
MALFORMED: Final = 1
STORE_FAILED: Final = 2


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What a worker needs to know; sent to the child process when it starts."""

    chain: ChainSpec
    batch_max_spans: int
    log_level: str = "INFO"


def reply(request_id: int, outcome: int, accepted: int, rejected: int, message: str) -> bytes:
    """One reply frame."""
    text = message.encode()
    return REPLY.pack(request_id, outcome, accepted, rejected, len(text)) + text


class _FrameReader:
    """Reads request frames from a blocking socket, each body straight into its own bytes."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def _exactly(self, size: int) -> bytes:
        """The next ``size`` bytes; `EOFError` if the stream ends first."""
        data = self._sock.recv(size, socket.MSG_WAITALL) if size else b""
        if len(data) == size:
            return data  # the usual case: one call, no copy
        parts = [data]
        missing = size - len(data)
        while missing:  # cut short by a signal, or the end of the stream
            if not data:
                raise EOFError
            data = self._sock.recv(missing, socket.MSG_WAITALL)
            parts.append(data)
            missing -= len(data)
        return b"".join(parts)

    def next(self, block: bool) -> tuple[int, int, bytes] | None:
        """The next request; ``None`` if ``block`` is false and none is waiting.

        The server writes whole frames, so once a frame has begun the rest is on its way.
        """
        if not block and not select.select([self._sock], [], [], 0)[0]:
            return None
        request_id, encoding, length = REQUEST.unpack(self._exactly(REQUEST.size))
        return request_id, encoding, self._exactly(length)


def serve_requests(
    sock: socket.socket, config: WorkerConfig, counters: ForwardCounters | None = None
) -> None:
    """Decode, process, export and answer requests from ``sock`` until the server closes it.

    ``counters`` are the role's shared OTLP forwarding counters, when its chain forwards.
    """
    context = ChainContext(config.chain.store_url, forward_counters=counters)
    try:
        chain = build_chain(config.chain, context)
        # What start-up built lives as long as the worker: keep it out of the collector's
        # full scans. A batch makes tens of thousands of objects (spans, their attribute
        # dicts), all freed by reference counting once it is answered: collecting while a
        # batch is in hand only walks them (2-3% of a worker's CPU at the default thresholds),
        # so the collector runs between batches instead (`collect_between_batches`).
        gc.collect()
        gc.freeze()
        gc.disable()
        reader = _FrameReader(sock)
        try:
            while True:
                try:
                    first = reader.next(block=True)
                except EOFError:
                    return
                assert first is not None
                exported = _handle_batch(sock, chain, reader, first, config)
                if exported:
                    chain.after_export(exported)
                del exported
                collect_between_batches()
        finally:
            chain.shutdown()
    finally:
        context.close()


#: Objects left over from batches (reference cycles, caches) before the collector runs, and
#: how many collections of each generation before the next older one: the interpreter's
#: generations, counted between batches.
COLLECT_AFTER: Final = (10_000, 20, 10)


def collect_between_batches() -> None:
    """Collect the generations that are due, as the interpreter would had it not waited."""
    young, middle, old = gc.get_count()
    if young < COLLECT_AFTER[0]:
        return
    if middle < COLLECT_AFTER[1]:
        gc.collect(0)
    elif old < COLLECT_AFTER[2]:
        gc.collect(1)
    else:
        gc.collect(2)


def _handle_batch(
    sock: socket.socket,
    chain: Chain[Any],
    reader: _FrameReader,
    first: tuple[int, int, bytes],
    config: WorkerConfig,
) -> list[Any]:
    """Decode, process, export and answer one batch of requests; return what was exported."""
    replies: list[bytes] = []
    decoded: list[tuple[int, Decoded[Any]]] = []
    items: list[Any] = []
    spans = 0
    frame: tuple[int, int, bytes] | None = first
    while frame is not None:
        request_id, encoding, body = frame
        try:
            request = chain.decode(encoding, body)
        except MalformedRequest as error:
            replies.append(reply(request_id, MALFORMED, 0, 0, str(error)))
        else:
            decoded.append((request_id, request))
            items.extend(request.items)
            spans += request.accepted
        if spans >= config.batch_max_spans:
            break
        try:
            frame = reader.next(block=False)
        except EOFError:
            frame = None
    try:
        chain.process(items)
        chain.export(items)
    except Exception as error:  # answer "retry later" rather than die
        logger.exception("exporting %d spans failed; exporters will retry", spans)
        replies.extend(
            reply(rid, STORE_FAILED, 0, 0, f"write failed: {error}") for rid, _ in decoded
        )
        items = []
    else:
        replies.extend(
            reply(rid, STORED, request.accepted, request.rejected, request.error_message)
            for rid, request in decoded
        )
    try:
        sock.sendall(b"".join(replies))
    except OSError:
        logger.warning("the server went away before %d replies were sent", len(replies))
    return items


def worker_main(
    sock: socket.socket, config: WorkerConfig, counters: ForwardCounters | None = None
) -> None:
    """Entry point of a worker process."""
    # Ctrl-C reaches the whole process group; the server decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s",
    )
    # As in the server: no INFO line per HTTP request (the Supabase store makes them).
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    serve_requests(sock, config, counters)
