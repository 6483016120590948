"""Where collectors' events go: a buffer written to the store in batches from one thread.

Collectors call the sink from their own threads and tasks and must not wait on the database;
the sink takes the events at once and a writer thread stores them as soon as they come (what
arrives while a batch is being written makes the next batch; at most ``interval_s`` between
looks), one transaction per batch. Once a batch is stored it goes to the listeners (the
alert engine, the live stream), in the writer thread. `shutdown` writes what is left.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence

from oracle_monitor.model import InfraEvent
from oracle_monitor.store.base import EventWriter

logger = logging.getLogger(__name__)
Listener = Callable[[Sequence[InfraEvent]], object]  # what it returns is ignored


class StoreEventSink:
    """An `EventSink` that stores events in batches."""

    def __init__(
        self, writer: EventWriter, *, interval_s: float = 0.5, max_batch: int = 1000
    ) -> None:
        self._writer = writer
        self._interval_s = interval_s
        self._max_batch = max_batch
        self._pending: list[InfraEvent] = []
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._listeners: list[Listener] = []
        self.written = 0
        self.failures = 0

    def __call__(self, events: Sequence[InfraEvent]) -> None:
        """Take ``events`` for storing; returns at once."""
        if not events:
            return
        with self._cond:
            self._pending.extend(events)
            self._cond.notify()

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` with each batch once it is stored (from the writer thread)."""
        self._listeners.append(listener)

    async def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="event-writer", daemon=True)
        self._thread.start()

    async def shutdown(self) -> None:
        """Write what is pending and stop; idempotent."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._closing and not self._pending:
                    self._cond.wait(self._interval_s)
                batch, self._pending = (
                    self._pending[: self._max_batch],
                    self._pending[self._max_batch :],
                )
                closing = self._closing
            if batch:
                try:
                    self._writer.write_events(batch)
                    self.written += len(batch)
                except Exception:  # keep collecting; the next batch may get through
                    self.failures += 1
                    logger.exception("storing %d infrastructure events failed", len(batch))
                else:
                    self._notify(batch)
            if closing and not self._pending_count():
                return

    def _pending_count(self) -> int:
        with self._cond:
            return len(self._pending)

    def _notify(self, batch: Sequence[InfraEvent]) -> None:
        for listener in self._listeners:
            try:
                listener(batch)
            except Exception:  # a listener's bug must not stop storing
                logger.exception("an event listener failed")
