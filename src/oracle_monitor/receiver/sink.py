"""Where an ingest worker puts what it decoded: the `Sink` protocol of the worker processes.

An ingest worker (`oracle_monitor.receiver.worker_process`) takes the requests waiting on its
socket, lets its sink *prepare* each (decode and validate: a `MalformedRequest` refuses the
request, bad spans are counted in `Prepared.rejected`), then *commits* the whole batch at once
and only then answers every request of it. A commit that returns means durable: written to
the store in one transaction (`oracle_monitor.receiver.store_sink`, for ``serve``), or
acknowledged by every Kafka broker that must have it (`oracle_monitor.pipeline.publisher`, for
``receiver``). A commit that raises answers the whole batch "retry later".

A `SinkConfig` is the picklable description a worker process is started with; its `open`
builds the sink inside the child process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from oracle_monitor.exporters.otlp_forward import ForwardConfig, ForwardCounters

__all__ = ["Prepared", "Sink", "SinkConfig"]


@dataclass(slots=True)
class Prepared:
    """One request as a sink prepared it."""

    #: Spans that will be committed.
    accepted: int
    #: Spans refused one by one (bad ids or times), for OTLP's ``partial_success``.
    rejected: int
    #: ``""`` when nothing was rejected, else why.
    error_message: str
    #: What the sink commits for this request (its own type: spans, Kafka messages).
    payload: Any


class Sink(Protocol):
    """Prepares requests and commits batches of them; used by one worker process."""

    def prepare(self, encoding: int, body: bytes) -> Prepared:
        """Decode one request body (``encoding``: `worker_process.PROTOBUF` or ``JSON``).

        Raises `MalformedRequest` when the body is not an OTLP trace request.
        """
        ...

    def commit(self, batch: Sequence[Prepared]) -> None:
        """Make every request of ``batch`` durable, or raise (nothing is acknowledged)."""
        ...

    def committed(self, batch: Sequence[Prepared]) -> None:
        """Called after the batch's answers were sent (e.g. to forward what was stored)."""
        ...

    def close(self) -> None:
        """Release what the sink holds; called once, when the worker exits."""
        ...


class SinkConfig(Protocol):
    """A picklable description of a sink, opened in the worker process."""

    def open(self, forward: ForwardConfig | None, counters: ForwardCounters | None) -> Sink:
        """The sink, with a forwarder when ``forward`` is given and the sink supports it."""
        ...
