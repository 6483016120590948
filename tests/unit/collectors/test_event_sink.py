"""The event sink takes events at once and stores them in batches, the rest at shutdown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from oracle_monitor.collectors.event_sink import StoreEventSink
from oracle_monitor.model import InfraEvent
from oracle_monitor.store import EventQuery, open_store


class FlakyWriter:
    """Fails its first write, then records batches."""

    def __init__(self) -> None:
        self.batches: list[list[InfraEvent]] = []
        self.calls = 0

    def write_events(self, events: Sequence[InfraEvent]) -> None:
        self.calls += 1
        if self.calls == 1:
            raise OSError("disk full")
        self.batches.append(list(events))


def events(count: int, start: int = 0) -> list[InfraEvent]:
    return [InfraEvent(start + i, "kafka", "lag_spike", f"partition/t/{i}") for i in range(count)]


async def test_batches_reach_the_store_and_shutdown_flushes(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/events.db")
    sink = StoreEventSink(store, interval_s=0.05)
    await sink.start()
    sink(events(3))
    deadline = time.monotonic() + 5
    while sink.written < 3 and time.monotonic() < deadline:  # noqa: ASYNC110 (a thread sets it)
        await asyncio.sleep(0.01)
    assert sink.written == 3
    sink(events(2, start=100))
    await sink.shutdown()
    assert sink.written == 5
    assert len(store.find_events(EventQuery(limit=10))) == 5
    store.close()


async def test_a_failed_write_is_counted_and_the_sink_keeps_going() -> None:
    writer = FlakyWriter()
    sink = StoreEventSink(writer, interval_s=0.01)
    await sink.start()
    sink(events(1))
    while writer.calls < 1:  # noqa: ASYNC110 (a thread sets it)
        await asyncio.sleep(0.01)
    sink(events(2, start=10))
    await sink.shutdown()
    assert sink.failures == 1
    assert [len(batch) for batch in writer.batches] == [2]
