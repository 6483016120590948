"""The live hub: a slow client holds the latest snapshot only and a bounded queue."""

from __future__ import annotations

import asyncio
import threading

import orjson

from oracle_monitor.aggregator.live import LiveHub


async def test_a_slow_client_gets_the_latest_snapshot_not_a_backlog() -> None:
    hub = LiveHub(max_items=5)
    slow = hub.subscribe()
    for n in range(100):
        hub.publish_snapshot(n, {"n": n})
    for n in range(12):
        hub.publish_alert({"id": str(n)})
    await asyncio.sleep(0.01)  # deliveries run on the loop
    texts = await slow.get()
    messages = [orjson.loads(t) for t in texts]
    assert [m["alert"]["id"] for m in messages[:-1]] == ["7", "8", "9", "10", "11"]
    assert messages[-1]["type"] == "snapshot" and messages[-1]["snapshot"] == {"n": 99}
    assert slow.dropped == 99 + 7
    assert slow.pending == 0
    assert orjson.loads(hub.latest_snapshot or "")["timestamp_unix_nano"] == 99


async def test_publishers_in_other_threads_wake_the_client() -> None:
    hub = LiveHub()
    subscriber = hub.subscribe()
    thread = threading.Thread(target=hub.publish_events, args=([{"kind": "oom_killed"}],))
    thread.start()
    texts = await asyncio.wait_for(subscriber.get(), 5)
    thread.join()
    assert [orjson.loads(t) for t in texts] == [{"type": "event", "event": {"kind": "oom_killed"}}]
    hub.unsubscribe(subscriber)
    hub.publish_alert({"id": "x"})
    await asyncio.sleep(0.01)
    assert subscriber.pending == 0 and hub.subscribers == 0


async def test_close_releases_waiting_clients() -> None:
    hub = LiveHub()
    subscriber = hub.subscribe()
    waiting = asyncio.create_task(subscriber.get())
    await asyncio.sleep(0.01)
    hub.close()
    assert await asyncio.wait_for(waiting, 5) == []
