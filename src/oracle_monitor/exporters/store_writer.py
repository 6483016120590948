"""The ``store`` exporter: each batch written to the store in one transaction.

`Store.write_spans` is durable when it returns and idempotent on ``(trace_id, span_id)``, so
a batch written again (an exporter's retry, a Kafka message delivered again) stores nothing
twice. Agent and task attribution by trace hierarchy (`oracle_monitor.store.attribution`)
runs inside that transaction: it reads the stored ancestors of the batch's spans and writes
the spans still waiting for one, which another writer must not slip between.

The store is the chain's (`ChainContext.store`): the OTLP forwarder reads the correlated
infrastructure events from it too.
"""

from __future__ import annotations

from collections.abc import Sequence

from oracle_monitor.config import Settings
from oracle_monitor.model import Span
from oracle_monitor.pipeline.components import ChainContext, Factory
from oracle_monitor.store import SpanWriter

__all__ = ["FACTORY", "StoreWriter"]


class StoreWriter:
    """Writes each batch of spans with one `SpanWriter.write_spans`."""

    def __init__(self, store: SpanWriter) -> None:
        self._store = store

    def export(self, batch: Sequence[Span]) -> None:
        """Write ``batch`` in one transaction; durable when this returns."""
        self._store.write_spans(batch)

    def shutdown(self) -> None:
        """Nothing is pending between batches (the store is closed by its owner)."""


def _config(_settings: Settings) -> tuple[()]:
    return ()  # the store is the chain's (`ChainSpec.store_url`)


def _create(_config: tuple[()], context: ChainContext) -> StoreWriter:
    return StoreWriter(context.store)


FACTORY = Factory(_config, _create)
