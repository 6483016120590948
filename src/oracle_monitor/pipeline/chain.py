"""A chain: decoder → processors → durable exporter → best-effort exporters.

The receivers run one (`oracle_monitor.receiver.worker_process` for OTLP, one per ingest
worker process; `oracle_monitor.receiver.kafka` for the aggregator's Kafka topic) in this
order, for every batch:

1. `decode` each request as it comes (a malformed one is refused alone);
2. `process` the whole batch (every processor in turn, in place);
3. `export` it: durable when this returns, and only then does the receiver answer or commit;
4. `after_export`, once answered: the best-effort exporters take a copy.

`shutdown` stops the best-effort exporters first (they flush, and may still read the
store), then the durable exporter.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from oracle_monitor.pipeline.components import (
    BestEffortExporter,
    Decoded,
    Decoder,
    DurableExporter,
    Processor,
)

__all__ = ["Chain"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Chain(Generic[T]):
    """The components of one span path, in the order a batch goes through them."""

    decoder: Decoder[T]
    processors: tuple[Processor[T], ...]
    exporter: DurableExporter[T]
    best_effort: tuple[BestEffortExporter[T], ...] = ()

    def decode(self, encoding: int, body: bytes) -> Decoded[T]:
        """One request's items; raises `MalformedRequest`."""
        return self.decoder.decode(encoding, body)

    def process(self, batch: list[T]) -> None:
        """Run every processor over ``batch``, in order."""
        for processor in self.processors:
            processor.process(batch)

    def export(self, batch: Sequence[T]) -> None:
        """Make ``batch`` durable, or raise."""
        self.exporter.export(batch)

    def after_export(self, batch: Sequence[T]) -> None:
        """Hand what was made durable to the best-effort exporters."""
        for exporter in self.best_effort:
            exporter.submit(batch)

    def shutdown(self) -> None:
        """Flush the best-effort exporters, then shut the durable one down."""
        try:
            for exporter in self.best_effort:
                try:
                    exporter.shutdown()
                except Exception:  # the next ones and the durable exporter still stop
                    logger.exception("shutting down %s failed", type(exporter).__name__)
        finally:
            self.exporter.shutdown()
