"""The sink of ``oracle-monitor serve``: decode, price LLM calls, write to the store.

Each batch is one store transaction (`Store.write_spans`, idempotent on
``(trace_id, span_id)``). Once the batch is answered, its spans go to the worker's forwarder,
if any (`oracle_monitor.exporters.otlp_forward`), which never blocks the worker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from oracle_monitor.exporters.otlp_forward import ForwardConfig, ForwardCounters, Forwarder
from oracle_monitor.model import Span
from oracle_monitor.processing.pricing import PriceTable, load_prices, price_spans
from oracle_monitor.receiver.decode import DecodedBatch, DecodeLimits, decode_protobuf
from oracle_monitor.receiver.otlp_json import decode_json
from oracle_monitor.receiver.sink import Prepared
from oracle_monitor.store import Store, open_store

__all__ = ["StoreSink", "StoreSinkConfig"]

#: Decoders by the worker protocol's encoding byte (0 protobuf, 1 JSON).
DECODERS: Final[dict[int, Callable[[bytes, DecodeLimits], DecodedBatch]]] = {
    0: decode_protobuf,
    1: decode_json,
}


@dataclass(frozen=True, slots=True)
class StoreSinkConfig:
    """The store a worker writes to, and how it decodes."""

    store_url: str
    limits: DecodeLimits
    pricing_file: str | None = None

    def open(self, forward: ForwardConfig | None, counters: ForwardCounters | None) -> StoreSink:
        """Open the store (already migrated by the server) in the worker process."""
        prices = load_prices(Path(self.pricing_file) if self.pricing_file else None)
        store = open_store(self.store_url, migrate=False)
        forwarder = None
        if forward is not None and counters is not None:
            forwarder = Forwarder(forward, counters, store)
        return StoreSink(store, prices, self.limits, forwarder)


class StoreSink:
    """Decodes requests into spans and writes each batch in one store transaction."""

    def __init__(
        self, store: Store, prices: PriceTable, limits: DecodeLimits, forwarder: Forwarder | None
    ) -> None:
        self._store = store
        self._prices = prices
        self._limits = limits
        self._forwarder = forwarder

    def prepare(self, encoding: int, body: bytes) -> Prepared:
        """Decode and price one request; raises `MalformedRequest`."""
        batch = DECODERS[encoding](body, self._limits)
        price_spans(batch.spans, self._prices)
        return Prepared(len(batch.spans), batch.rejected_spans, batch.error_message, batch.spans)

    def commit(self, batch: Sequence[Prepared]) -> None:
        """Write every span of ``batch`` in one transaction."""
        spans: list[Span] = []
        for prepared in batch:
            spans.extend(prepared.payload)
        self._store.write_spans(spans)

    def committed(self, batch: Sequence[Prepared]) -> None:
        """Hand the stored spans to the forwarder."""
        if self._forwarder is not None:
            spans: list[Span] = []
            for prepared in batch:
                spans.extend(prepared.payload)
            self._forwarder.submit(spans)

    def close(self) -> None:
        """Stop the forwarder (it flushes), close the store."""
        try:
            if self._forwarder is not None:
                self._forwarder.shutdown()
        finally:
            self._store.close()
