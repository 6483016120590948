"""The kinds of component a span chain is made of, and what each may rely on.

As in the OpenTelemetry Collector, a receiver hands what it took in to a chain of processors
that ends in exporters (`oracle_monitor.pipeline.chain.Chain` runs one):

* a `Decoder` turns one request body (OTLP protobuf or JSON) into the chain's items: spans,
  or the per-trace Kafka messages of a ``receiver``; it refuses bad spans one by one, and a
  body that is not an OTLP request as a whole
  (`oracle_monitor.receiver.decode.MalformedRequest`);
* each `Processor` changes a whole batch of items in place (derive the GenAI fields, price);
* the `DurableExporter` makes a batch durable: when ``export`` returns, the batch survives a
  crash (one store transaction, or every Kafka broker's acknowledgement), so the receiver may
  answer or commit; when it raises, nothing of the batch may be assumed kept;
* each `BestEffortExporter` gets what was made durable, after the receiver answered, and never
  holds the chain up (OTLP forwarding queues it and drops what does not fit).

Every method takes a whole batch, never one span, so a chain adds no call per span. A
component is built where it runs (an ingest worker process, the aggregator's consumer thread)
by its `Factory`, from a picklable config read from the settings once, at start-up; the
components of one chain share a `ChainContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Generic, Protocol, TypeVar

from oracle_monitor.config import Settings

if TYPE_CHECKING:
    from oracle_monitor.exporters.otlp_forward import ForwardCounters
    from oracle_monitor.store import Store

__all__ = [
    "JSON",
    "PROTOBUF",
    "BestEffortExporter",
    "ChainContext",
    "Decoded",
    "Decoder",
    "DurableExporter",
    "Factory",
    "Processor",
]

#: The encodings of a request body.
PROTOBUF: Final = 0
JSON: Final = 1

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)
C = TypeVar("C")
Made = TypeVar("Made")


@dataclass(slots=True)
class Decoded(Generic[T]):
    """One request as a decoder turned it into items."""

    #: What the chain processes and exports for this request.
    items: list[T]
    #: Spans taken (an item may hold several: a Kafka message holds a trace's spans).
    accepted: int
    #: Spans refused one by one (bad ids or times), for OTLP's ``partial_success``.
    rejected: int
    #: ``""`` when nothing was refused, else why (up to five reasons).
    error_message: str


class Decoder(Protocol[T]):
    """Turns request bodies into items."""

    def decode(self, encoding: int, body: bytes) -> Decoded[T]:
        """Decode one body (``encoding``: `PROTOBUF` or `JSON`); raises `MalformedRequest`
        when it is not an OTLP trace request."""
        ...


class Processor(Protocol[T]):
    """Changes a whole batch in place; pure, and does not raise on valid items."""

    def process(self, batch: list[T]) -> None:
        """Process every item of ``batch``."""
        ...


class DurableExporter(Protocol[T_contra]):
    """The end of a chain that an acknowledgement waits for."""

    def export(self, batch: Sequence[T_contra]) -> None:
        """Make ``batch`` durable; return only once it is, or raise (then nothing of it may
        be assumed kept, and the receiver answers "retry later" or does not commit)."""
        ...

    def shutdown(self) -> None:
        """Deliver what is still pending and release what it holds; called once, last."""
        ...


class BestEffortExporter(Protocol[T_contra]):
    """Gets what the durable exporter kept, without ever blocking or failing the chain."""

    def submit(self, batch: Sequence[T_contra]) -> None:
        """Take ``batch`` for later delivery; never blocks, never raises."""
        ...

    def shutdown(self) -> None:
        """Deliver what it can within a bounded time; called once, before the durable
        exporter's shutdown."""
        ...


class ChainContext:
    """What the components of one chain share where it runs: its store, opened once, and
    the OTLP forwarding counters (shared memory the role's process reads for health).

    With ``store_url`` the store is opened on first use, without migrating (the role did),
    and closed by `close`; a ``store`` given open is the caller's to close.
    """

    def __init__(
        self,
        store_url: str | None = None,
        *,
        store: Store | None = None,
        forward_counters: ForwardCounters | None = None,
    ) -> None:
        self._store_url = store_url
        self._store = store
        self._owns_store = False
        self.forward_counters = forward_counters

    @property
    def has_store(self) -> bool:
        """Whether the chain has a store (given, or a URL to open)."""
        return self._store is not None or self._store_url is not None

    @property
    def store(self) -> Store:
        """The chain's store; `RuntimeError` when it has none."""
        if self._store is None:
            if self._store_url is None:
                raise RuntimeError("this chain has no store")
            from oracle_monitor.store import open_store

            self._store = open_store(self._store_url, migrate=False)
            self._owns_store = True
        return self._store

    def close(self) -> None:
        """Close the store if this context opened it. Idempotent."""
        if self._owns_store and self._store is not None:
            self._owns_store = False
            self._store.close()


@dataclass(frozen=True, slots=True)
class Factory(Generic[C, Made]):
    """How one kind of component is made (each component module's ``FACTORY``).

    ``config`` reads the settings once, in the role's process, into a picklable value (it
    raises `ValueError` for a bad setting, so start-up fails rather than a worker); ``None``
    means the settings leave the component out. ``create`` builds the component from that
    value where the chain runs.
    """

    config: Callable[[Settings], C | None]
    create: Callable[[C, ChainContext], Made]
