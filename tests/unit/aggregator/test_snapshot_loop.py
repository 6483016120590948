"""`SnapshotLoop`: stores valid snapshots, counts invalid ones and failures, keeps going."""

from __future__ import annotations

import asyncio
from typing import Any

from oracle_monitor.aggregator.snapshot import validate_snapshot
from oracle_monitor.aggregator.snapshot_loop import SnapshotLoop
from oracle_monitor.store.base import AgentSecondsRead, SecondsCursor
from tests.unit.aggregator.snapshot_sample import FakeCollector, collectors


class MemoryStore:
    """Keeps snapshots in a dict; fails the writes it is told to."""

    def __init__(self, fail_writes: int = 0) -> None:
        self.snapshots: dict[int, dict[str, Any]] = {}
        self.fail_writes = fail_writes

    def agent_seconds(self, since_ns: int, cursor: SecondsCursor | None = None) -> AgentSecondsRead:
        return AgentSecondsRead([], SecondsCursor("memory", 0), full=cursor is None)

    def write_snapshot(self, timestamp_ns: int, snapshot: dict[str, Any]) -> None:
        if self.fail_writes:
            self.fail_writes -= 1
            raise OSError("disk full")
        self.snapshots[timestamp_ns] = snapshot


async def _run_until(loop: SnapshotLoop, done: Any) -> None:
    await loop.start()
    for _ in range(500):
        if done():
            break
        await asyncio.sleep(0.01)
    await loop.shutdown()
    await loop.shutdown()  # idempotent


def test_valid_snapshots_are_stored_every_interval() -> None:
    store = MemoryStore()
    loop = SnapshotLoop(store, collectors(), interval_s=0.02)
    asyncio.run(_run_until(loop, lambda: len(store.snapshots) >= 3))
    assert len(store.snapshots) >= 3
    assert all(validate_snapshot(s) == [] for s in store.snapshots.values())
    assert loop.stats()["stored_snapshots"] == len(store.snapshots)
    assert loop.invalid_snapshots == 0 and loop.last_error == ""


def test_invalid_snapshots_are_counted_not_stored_and_the_loop_goes_on() -> None:
    store = MemoryStore()
    broken = FakeCollector("k8s", {"pods": [{"name": "no-other-fields"}]})
    loop = SnapshotLoop(store, [broken], interval_s=0.01)
    asyncio.run(_run_until(loop, lambda: loop.invalid_snapshots >= 3))
    assert loop.invalid_snapshots >= 3
    assert store.snapshots == {}
    assert "$.kubernetes.pods[0]" in loop.last_error


def test_a_failing_store_does_not_stop_the_loop() -> None:
    store = MemoryStore(fail_writes=2)
    loop = SnapshotLoop(store, [], interval_s=0.01)
    asyncio.run(_run_until(loop, lambda: len(store.snapshots) >= 2))
    assert loop.failed_snapshots == 2
    assert loop.last_error == "disk full"
    assert len(store.snapshots) >= 2
