"""What the snapshot leader does while it leads, and `run_leadership` to contend for it.

`LeaderDuties` is the ``duties`` of `Leadership.run`: each term (each time this process
becomes leader) it starts, in order, the alert engine (taking up the alerts stored by earlier
leaders), the event sink and the collectors (their events raise alerts), the snapshot loop
(snapshots from the collectors' states and the agents' activity in the store, the active
alerts) and retention; at the end of the term it stops them in reverse. Nothing of a term
outlives it: the next term, here or in another process, starts from what is stored.

With ``collectors=False`` (or when the settings turn none on) the snapshots hold the agents
and alerts only, with every collector's section ``stopped``. ``serve`` runs one term for its
whole life, with hooks that feed its live stream (``on_snapshot``, ``publish_alert``,
``on_events``).

For an aggregator command, one call::

    await run_leadership(settings, store, stop)   # until stop is set
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any

from oracle_monitor.aggregator.alert_engine import AlertEngine
from oracle_monitor.aggregator.alerts import AlertBook
from oracle_monitor.aggregator.correlate import chain_config
from oracle_monitor.aggregator.leadership import Leadership, LeadershipConfig
from oracle_monitor.aggregator.retention import RetentionLoop, RetentionPolicy
from oracle_monitor.aggregator.snapshot_loop import SnapshotLoop
from oracle_monitor.collectors.base import Collector
from oracle_monitor.collectors.event_sink import StoreEventSink
from oracle_monitor.collectors.registry import create_collectors
from oracle_monitor.config import Settings
from oracle_monitor.model import InfraEvent
from oracle_monitor.store.base import Store

logger = logging.getLogger(__name__)
OnSnapshot = Callable[[int, dict[str, Any]], None]
OnEvents = Callable[[Sequence[InfraEvent]], None]


class LeaderDuties:
    """Callable: ``duties()`` is the async context of one term (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        collectors: bool = True,
        on_snapshot: OnSnapshot | None = None,
        publish_alert: Callable[[dict[str, Any]], None] | None = None,
        on_events: OnEvents | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._with_collectors = collectors
        self._on_snapshot = on_snapshot
        self._publish_alert = publish_alert
        self._on_events = on_events
        self._snapshots: SnapshotLoop | None = None
        self._retention: RetentionLoop | None = None
        self.collectors: list[Collector] = []

    def __call__(self) -> AbstractAsyncContextManager[None]:
        return self._term()

    @contextlib.asynccontextmanager
    async def _term(self) -> AsyncIterator[None]:
        settings, store = self._settings, self._store
        async with AsyncExitStack() as stack:
            book = AlertBook(
                round(settings.alerts.dedupe_seconds * 1e9),
                round(settings.alerts.active_seconds * 1e9),
            )
            alerts = AlertEngine(
                store, book=book, config=chain_config(settings), publish=self._publish_alert
            )
            await asyncio.to_thread(alerts.restore, time.time_ns())
            # The sink stops after the collectors (the exit stack runs backwards).
            sink = StoreEventSink(store)
            if self._on_events is not None:
                sink.add_listener(self._on_events)
            sink.add_listener(alerts.on_events)
            await sink.start()
            stack.push_async_callback(sink.shutdown)
            collectors = create_collectors(settings, sink, store) if self._with_collectors else []
            for collector in collectors:
                await collector.start()
                stack.push_async_callback(collector.shutdown)
            self.collectors = collectors
            snapshots = SnapshotLoop(
                store,
                collectors,
                settings.snapshots.interval_seconds,
                alerts=alerts,
                on_snapshot=self._on_snapshot,
            )
            await snapshots.start()
            stack.push_async_callback(snapshots.shutdown)  # stops before the collectors
            retention = RetentionLoop(store, RetentionPolicy.from_settings(settings))
            await retention.start()
            stack.push_async_callback(retention.shutdown)
            self._snapshots, self._retention = snapshots, retention
            logger.info(
                "snapshots every %.3g s; collectors: %s",
                settings.snapshots.interval_seconds,
                ", ".join(c.name for c in collectors) or "none",
            )
            yield

    def stats(self) -> dict[str, Any]:
        """The current (or last) term's snapshot and retention counters."""
        return {
            "snapshots": self._snapshots.stats() if self._snapshots else None,
            "retention": self._retention.stats() if self._retention else None,
        }


def leader_duties(
    settings: Settings,
    store: Store,
    *,
    collectors: bool = True,
    on_snapshot: OnSnapshot | None = None,
) -> LeaderDuties:
    """The leader's duties over ``store`` as the settings say (see the module docstring)."""
    return LeaderDuties(settings, store, collectors=collectors, on_snapshot=on_snapshot)


def leadership_from_settings(settings: Settings) -> Leadership:
    """A `Leadership` on the settings' store with the ``ORACLE_LEADER_*`` settings."""
    if not settings.store.url.startswith(("postgresql://", "postgres://")):
        raise ValueError("snapshot leadership needs a postgresql:// store (ORACLE_STORE)")
    return Leadership(
        LeadershipConfig(
            store_url=settings.store.url,
            name=settings.leader.lock_name,
            retry_s=settings.leader.retry_seconds or settings.snapshots.interval_seconds,
            check_s=settings.leader.check_seconds,
            keepalive_s=settings.leader.keepalive_seconds,
        )
    )


async def run_leadership(
    settings: Settings,
    store: Store,
    stop: asyncio.Event,
    *,
    collectors: bool = True,
    on_start: Callable[[Leadership, LeaderDuties], None] | None = None,
) -> None:
    """Contend for snapshot leadership until ``stop``; lead (`LeaderDuties`) while holding it.

    ``on_start`` receives the two objects before contending, e.g. to show their ``stats()``
    in ``/health``.
    """
    leadership = leadership_from_settings(settings)
    duties = leader_duties(settings, store, collectors=collectors)
    if on_start is not None:
        on_start(leadership, duties)
    await leadership.run(duties, stop)
