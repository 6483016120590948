"""`LiveHub`: fans snapshots, alerts and infrastructure events out to live-stream clients.

Producers (the snapshot loop's thread, the event sink's thread, the alert engine) call the
``publish_*`` methods from any thread; each message is serialised once and handed to every
subscriber on the event loop the hub is bound to. A subscriber never grows without bound:
it holds the *latest* snapshot only (a newer one replaces an unsent older one) and at most
``max_items`` alerts and events (the oldest are dropped first); `Subscriber.dropped` counts
what a slow client missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

from oracle_monitor.timestamps import rfc3339


def snapshot_message(timestamp_ns: int, snapshot: dict[str, Any]) -> str:
    """The live stream's ``snapshot`` message."""
    return orjson.dumps(
        {
            "type": "snapshot",
            "timestamp": rfc3339(timestamp_ns),
            "timestamp_unix_nano": timestamp_ns,
            "snapshot": snapshot,
        }
    ).decode()


class Subscriber:
    """One client's pending messages (see the module docstring)."""

    def __init__(self, max_items: int) -> None:
        self._snapshot: str | None = None
        self._items: deque[str] = deque(maxlen=max_items)
        self._wake = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def put_snapshot(self, text: str) -> None:
        """Replace the pending snapshot (an unsent older one is dropped)."""
        if self._snapshot is not None:
            self.dropped += 1
        self._snapshot = text
        self._wake.set()

    def put(self, text: str) -> None:
        """Queue an alert or event message (the oldest goes when the queue is full)."""
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(text)
        self._wake.set()

    def close(self) -> None:
        """Wake the client's sender for good; `get` returns [] from now on."""
        self.closed = True
        self._wake.set()

    @property
    def pending(self) -> int:
        """Messages waiting to be sent."""
        return len(self._items) + (self._snapshot is not None)

    async def get(self) -> list[str]:
        """Wait for messages and take them all: alerts and events in order, then the snapshot.
        Returns [] once closed."""
        while not self.closed and not self.pending:
            self._wake.clear()
            await self._wake.wait()
        if self.closed:
            return []
        taken = list(self._items)
        self._items.clear()
        if self._snapshot is not None:
            taken.append(self._snapshot)
            self._snapshot = None
        return taken


class LiveHub:
    """Subscribers on one event loop; publishers anywhere."""

    def __init__(self, max_items: int = 1000) -> None:
        self.max_items = max_items
        self._subscribers: set[Subscriber] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.latest_snapshot: str | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop`` (where the clients' handlers run)."""
        self._loop = loop

    def subscribe(self) -> Subscriber:
        """A new subscriber (call on the hub's loop)."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        subscriber = Subscriber(self.max_items)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop delivering to ``subscriber``."""
        self._subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        """How many clients are connected."""
        return len(self._subscribers)

    def _deliver(self, put: Callable[[Subscriber], None]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def run() -> None:
            for subscriber in list(self._subscribers):
                put(subscriber)

        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutdown)
            loop.call_soon_threadsafe(run)

    def publish_snapshot(self, timestamp_ns: int, snapshot: dict[str, Any]) -> None:
        """A new snapshot was stored."""
        text = snapshot_message(timestamp_ns, snapshot)
        self.latest_snapshot = text
        self._deliver(lambda s: s.put_snapshot(text))

    def publish_alert(self, alert: dict[str, Any]) -> None:
        """An alert opened or repeated."""
        text = orjson.dumps({"type": "alert", "alert": alert}).decode()
        self._deliver(lambda s: s.put(text))

    def publish_events(self, events: list[dict[str, Any]]) -> None:
        """Infrastructure events were stored (each in the shape of ``/api/v1/events``)."""
        texts = [orjson.dumps({"type": "event", "event": e}).decode() for e in events]

        def put(subscriber: Subscriber) -> None:
            for text in texts:
                subscriber.put(text)

        if texts:
            self._deliver(put)

    def close(self) -> None:
        """Release every client (shutdown)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._close_all)

    def _close_all(self) -> None:
        for subscriber in list(self._subscribers):
            subscriber.close()
