"""`SnapshotLoop`: every interval, build a system snapshot, validate it, store it.

One lifecycle, like the collectors: ``await start()`` returns at once (the loop runs in a
task), ``await shutdown()`` stops it and is idempotent. The store calls (reading the agents'
activity, writing the snapshot) run in a thread. The agents' views come from an
`AgentTracker`: the first round reads what the store keeps per agent and second of the
window, each later one only the agent seconds it changed since, so a round costs the same
however many spans the window holds or arrived since. With an `AlertEngine`, each round first
runs its `tick` (stalls that lasted, orphan checks that are due), and the snapshot's
``alerts`` are the alerts active then. A snapshot that fails validation is not stored but
counted (`invalid_snapshots`, `last_error`) and raises an ``invalid_snapshot`` alert; neither
that nor a failing store call stops the loop. Each stored snapshot goes to ``on_snapshot``
(the live stream).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from oracle_monitor.aggregator.agent_tracker import AgentTracker
from oracle_monitor.aggregator.alert_engine import AlertEngine
from oracle_monitor.aggregator.periodic import PeriodicTask
from oracle_monitor.aggregator.snapshot import build_snapshot, validate_snapshot
from oracle_monitor.collectors.base import Collector
from oracle_monitor.store.base import AgentSecondsFeed, SnapshotWriter

logger = logging.getLogger(__name__)


class SnapshotStore(AgentSecondsFeed, SnapshotWriter, Protocol):
    """What the loop needs of a store."""


def take_snapshot(
    agents: AgentTracker,
    collectors: Sequence[Collector],
    now_ns: int,
    alerts: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A snapshot at ``now_ns``: the agents' views (brought up to date from the store), the
    collectors' states, the active ``alerts``."""
    return build_snapshot(now_ns, collectors, agents.views(now_ns), alerts)


class SnapshotLoop(PeriodicTask):
    """Takes a snapshot every ``interval_s`` seconds and stores the valid ones."""

    def __init__(
        self,
        store: SnapshotStore,
        collectors: Sequence[Collector],
        interval_s: float,
        *,
        alerts: AlertEngine | None = None,
        on_snapshot: Callable[[int, dict[str, Any]], None] | None = None,
    ) -> None:
        super().__init__(interval_s, "snapshot loop")
        self._store = store
        self._agents = AgentTracker(store)
        self._collectors = list(collectors)
        self._alerts = alerts
        self._on_snapshot = on_snapshot
        self.stored_snapshots = 0
        self.invalid_snapshots = 0
        self.failed_snapshots = 0  # building or storing raised
        self.last_error = ""

    def snapshot_once(self, now_ns: int | None = None) -> None:
        """Take, validate and store one snapshot at ``now_ns`` (default now), blocking."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        active: list[dict[str, Any]] = []
        if self._alerts is not None:
            try:
                self._alerts.tick(now_ns)
            except Exception:  # the snapshot matters more than one check
                logger.exception("confirming stalls or checking for orphaned tasks failed")
            active = self._alerts.active(now_ns)
        snapshot = take_snapshot(self._agents, self._collectors, now_ns, active)
        errors = validate_snapshot(snapshot)
        if errors:
            self.invalid_snapshots += 1
            message = "; ".join(errors[:5])
            if message != self.last_error:  # once per distinct problem, not every interval
                logger.warning("invalid snapshot not stored: %s", message)
            self.last_error = message
            if self._alerts is not None:
                self._alerts.invalid_snapshot(now_ns, message)
            return
        self._store.write_snapshot(now_ns, snapshot)
        self.stored_snapshots += 1
        if self._on_snapshot is not None:
            self._on_snapshot(now_ns, snapshot)

    async def run_once(self) -> None:
        """Take, validate and store one snapshot (in a thread); never raises but on cancel."""
        try:
            await asyncio.to_thread(self.snapshot_once)
        except Exception as error:  # a store hiccup must not stop the loop
            self.failed_snapshots += 1
            self.last_error = str(error)
            logger.exception("taking a snapshot failed")

    async def _round(self) -> None:
        await self.run_once()

    def stats(self) -> dict[str, Any]:
        """Counters for the health endpoint."""
        return {
            "stored_snapshots": self.stored_snapshots,
            "invalid_snapshots": self.invalid_snapshots,
            "failed_snapshots": self.failed_snapshots,
            "last_error": self.last_error,
        }
