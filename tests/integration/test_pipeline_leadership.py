"""Snapshot leadership among real `oracle-monitor aggregator` processes (real broker, real
PostgreSQL): one takes the snapshots, and when it is killed another takes over."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from oracle_monitor.store import open_store
from tests.integration.pipeline_processes import Pipeline, PipelineProcess, pipeline, store_url
from tests.waiting import wait_for

pytestmark = pytest.mark.integration
__all__ = ["pipeline", "store_url"]

FAST = {
    "snapshot_interval_seconds": "0.5",
    "leader_retry_seconds": "0.5",
    "leader_check_seconds": "0.5",
}


def role(process: PipelineProcess) -> str | None:
    leadership: Any = process.health().get("leadership")
    return None if leadership is None else str(leadership["role"])


def latest_snapshot_ns(url: str) -> int:
    store = open_store(url, migrate=False)
    try:
        latest = store.latest_snapshot()
        return 0 if latest is None else latest[0]
    finally:
        store.close()


def test_one_aggregator_takes_snapshots_and_another_takes_over(
    pipeline: Pipeline, store_url: str
) -> None:
    first = pipeline.aggregator(store_url, **FAST)
    second = pipeline.aggregator(store_url, **FAST)
    aggregators = [first, second]
    wait_for(
        lambda: sorted(str(role(a)) for a in aggregators) == ["follower", "leader"],
        20,
        "no single leader: " + " | ".join(a.log()[-2000:] for a in aggregators),
    )
    (leader,) = [a for a in aggregators if role(a) == "leader"]
    (follower,) = [a for a in aggregators if a is not leader]
    seen = latest_snapshot_ns(store_url)
    wait_for(lambda: latest_snapshot_ns(store_url) > seen, 5, "the leader takes no snapshots")
    snapshots = leader.health()["leader_duties"]["snapshots"]
    assert snapshots["stored_snapshots"] >= 1, snapshots
    assert follower.health()["leader_duties"]["snapshots"] is None  # never led

    leader.stop(signal.SIGKILL)
    killed_ns = time.time_ns()
    started = time.monotonic()
    wait_for(lambda: role(follower) == "leader", 10, follower.log()[-3000:])
    took_over = time.monotonic() - started
    wait_for(lambda: latest_snapshot_ns(store_url) > killed_ns, 5, "no snapshot after takeover")
    resumed = time.monotonic() - started - took_over
    print(f"takeover after {took_over:.2f} s, next snapshot {resumed:.2f} s later")
    # PostgreSQL releases a dead session's lock at once; the follower retries every 0.5 s.
    assert took_over + resumed < 3.0, (took_over, resumed)
    assert follower.health()["leadership"]["terms"] == 1
    assert follower.stop(signal.SIGTERM) == 0
