"""`StorePoller` over a real SQLite store: the first poll only takes note, later polls publish
what is new (a newer snapshot, new or changed alerts, unseen events) once each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from oracle_monitor.aggregator.live import LiveHub
from oracle_monitor.api.live_poll import LOOKBACK_NS, StorePoller
from oracle_monitor.model import Alert, InfraEvent
from oracle_monitor.store import open_store
from oracle_monitor.store.base import Store

S = 1_000_000_000
T0 = 1_800_000_000 * S


class Hub(LiveHub):
    """A hub that records what is published instead of delivering it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, Any]] = []

    def publish_snapshot(self, timestamp_ns: int, snapshot: dict[str, Any]) -> None:
        super().publish_snapshot(timestamp_ns, snapshot)
        self.sent.append(("snapshot", timestamp_ns))

    def publish_alert(self, alert: dict[str, Any]) -> None:
        self.sent.append(("alert", (alert["id"], alert["count"])))

    def publish_events(self, events: list[dict[str, Any]]) -> None:
        self.sent.extend(("event", e["kind"]) for e in events)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'o.db'}")
    yield opened
    opened.close()


def alert(count: int, last_s: float) -> Alert:
    last = T0 + int(last_s * S)
    return Alert("a1", "oom_killed", "critical", T0, last, "pod/x", "s", count=count)


def test_first_poll_notes_later_polls_publish_once(store: Store) -> None:
    hub = Hub()
    poller = StorePoller(store, hub, 1.0)
    store.write_snapshot(T0, {"n": 1})
    store.write_alerts([alert(1, 0)])
    store.write_events([InfraEvent(T0, "k8s", "oom_killed", "pod/x")])
    poller.poll_once(T0 + S)
    assert hub.sent == [("snapshot", T0)]  # the latest, for new clients; nothing announced
    assert hub.latest_snapshot is not None and orjson.loads(hub.latest_snapshot)["snapshot"]
    assert poller.stats()["published"] == {"snapshots": 0, "alerts": 0, "events": 0}

    hub.sent.clear()
    poller.poll_once(T0 + 2 * S)
    assert hub.sent == []  # nothing new

    store.write_snapshot(T0 + 2 * S, {"n": 2})
    store.write_snapshot(T0 + 3 * S, {"n": 3})
    store.write_alerts([alert(2, 3)])
    store.write_events([InfraEvent(T0 + 3 * S, "kafka", "lag_spike", "group/g/topic/t")])
    poller.poll_once(T0 + 4 * S)
    assert hub.sent == [("snapshot", T0 + 3 * S), ("alert", ("a1", 2)), ("event", "lag_spike")]
    assert poller.stats()["published"] == {"snapshots": 1, "alerts": 1, "events": 1}
    assert poller.polls == 3


def test_what_left_the_lookback_is_forgotten(store: Store) -> None:
    hub = Hub()
    poller = StorePoller(store, hub, 1.0)
    store.write_events([InfraEvent(T0, "k8s", "oom_killed", "pod/x")])
    poller.poll_once(T0 + S)
    assert poller._events  # noted
    poller.poll_once(T0 + LOOKBACK_NS + 2 * S)
    assert not poller._events and hub.sent == []  # out of the window: neither kept nor sent


async def test_a_store_that_fails_is_counted_not_raised(store: Store) -> None:
    poller = StorePoller(store, Hub(), 1.0)
    store.close()
    await poller._round()  # logged, not raised: the next poll tries again
    assert poller.last_error and poller.polls == 0
