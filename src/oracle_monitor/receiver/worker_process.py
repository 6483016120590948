"""The child side of the ingest workers: decode OTLP requests, store them, then answer.

Runs in a process of its own (see `oracle_monitor.receiver.workers`), reading requests from a
socket shared with the server process. It takes every request already waiting (up to
``batch_max_spans`` spans), decodes each, writes all their spans in one store transaction and
only then answers each request, so an answer means the spans are durable. LLM calls that
report tokens but no cost are priced here (`oracle_monitor.collectors.llm.pricing`). Once
answered, stored spans go to the worker's forwarder, if any (`oracle_monitor.forward`). It exits
when the server closes the socket, after finishing the batch in hand.

Frames on the socket (little-endian):
  request  <id u64><encoding u8><body length u32> body
  reply    <id u64><outcome u8><accepted u32><rejected u32><message length u32> message (UTF-8)
"""

from __future__ import annotations

import logging
import select
import signal
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from oracle_monitor.collectors.llm.pricing import PriceTable, load_prices, price_spans
from oracle_monitor.forward import ForwardConfig, ForwardCounters, Forwarder
from oracle_monitor.model import Span
from oracle_monitor.receiver.decode import (
    DecodedBatch,
    DecodeLimits,
    MalformedRequest,
    decode_json,
    decode_protobuf,
)
from oracle_monitor.store import Store, open_store

logger = logging.getLogger(__name__)

REQUEST: Final = struct.Struct("<QBI")
REPLY: Final = struct.Struct("<QBIII")
PROTOBUF: Final = 0
JSON: Final = 1
DECODERS: Final[dict[int, Callable[[bytes, DecodeLimits], DecodedBatch]]] = {
    PROTOBUF: decode_protobuf,
    JSON: decode_json,
}
#: Reply outcomes.
STORED: Final = 0
MALFORMED: Final = 1
STORE_FAILED: Final = 2


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What a worker needs to know; sent to the child process when it starts."""

    store_url: str
    limits: DecodeLimits
    batch_max_spans: int
    log_level: str = "INFO"
    pricing_file: str | None = None
    forward: ForwardConfig | None = None


def reply(request_id: int, outcome: int, accepted: int, rejected: int, message: str) -> bytes:
    """One reply frame."""
    text = message.encode()
    return REPLY.pack(request_id, outcome, accepted, rejected, len(text)) + text


class _FrameReader:
    """Reads request frames from a blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    def _complete_frame(self) -> tuple[int, int, bytes] | None:
        if len(self._buffer) < REQUEST.size:
            return None
        request_id, encoding, length = REQUEST.unpack_from(self._buffer)
        end = REQUEST.size + length
        if len(self._buffer) < end:
            return None
        body = bytes(self._buffer[REQUEST.size : end])
        del self._buffer[:end]
        return request_id, encoding, body

    def _fill(self, block: bool) -> bool:
        """Read what the socket has; False at end of stream or when nothing waits."""
        if not block and not select.select([self._sock], [], [], 0)[0]:
            return False
        chunk = self._sock.recv(1 << 20)
        if not chunk:
            raise EOFError
        self._buffer += chunk
        return True

    def next(self, block: bool) -> tuple[int, int, bytes] | None:
        """The next request; ``None`` if ``block`` is false and none is waiting."""
        while (frame := self._complete_frame()) is None:
            if not self._fill(block):
                return None
        return frame


def serve_requests(
    sock: socket.socket, config: WorkerConfig, counters: ForwardCounters | None = None
) -> None:
    """Decode and store requests from ``sock`` until the server closes it.

    With ``config.forward`` (and the server's shared ``counters``), stored spans are also
    handed to a `Forwarder`, which never blocks this loop.
    """
    prices = load_prices(Path(config.pricing_file) if config.pricing_file else None)
    store = open_store(config.store_url, migrate=False)  # the server has migrated it
    forwarder = None
    if config.forward is not None and counters is not None:
        forwarder = Forwarder(config.forward, counters, store)
    reader = _FrameReader(sock)
    try:
        while True:
            try:
                first = reader.next(block=True)
            except EOFError:
                return
            assert first is not None
            stored = _handle_batch(sock, store, prices, reader, first, config)
            if forwarder is not None:
                forwarder.submit(stored)
    finally:
        if forwarder is not None:
            forwarder.shutdown()
        store.close()


def _handle_batch(
    sock: socket.socket,
    store: Store,
    prices: PriceTable,
    reader: _FrameReader,
    first: tuple[int, int, bytes],
    config: WorkerConfig,
) -> list[Span]:
    """Decode, store and answer one batch of requests; return the spans stored."""
    replies: list[bytes] = []
    decoded: list[tuple[int, DecodedBatch]] = []
    spans: list[Span] = []
    frame: tuple[int, int, bytes] | None = first
    while frame is not None:
        request_id, encoding, body = frame
        try:
            batch = DECODERS[encoding](body, config.limits)
        except MalformedRequest as error:
            replies.append(reply(request_id, MALFORMED, 0, 0, str(error)))
        else:
            price_spans(batch.spans, prices)
            decoded.append((request_id, batch))
            spans.extend(batch.spans)
        if len(spans) >= config.batch_max_spans:
            break
        try:
            frame = reader.next(block=False)
        except EOFError:
            frame = None
    try:
        store.write_spans(spans)
    except Exception as error:  # answer "retry later" rather than die
        logger.exception("writing %d spans failed; exporters will retry", len(spans))
        replies.extend(
            reply(rid, STORE_FAILED, 0, 0, f"store write failed: {error}") for rid, _ in decoded
        )
        spans = []
    else:
        replies.extend(
            reply(rid, STORED, len(b.spans), b.rejected_spans, b.error_message)
            for rid, b in decoded
        )
    try:
        sock.sendall(b"".join(replies))
    except OSError:
        logger.warning("the server went away before %d replies were sent", len(replies))
    return spans


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
    serve_requests(sock, config, counters)
