"""`StorePoller`: feeds the live stream from the store, for an API that writes nothing itself.

In the scale-out topology ``oracle-monitor api`` serves clients while the snapshot leader (an
aggregator, another process) stores the snapshots, alerts and events. Every ``interval_s`` the
poller reads what is new and publishes it to the `LiveHub`, as the leader's own loop would:

* the newest snapshot, when it is newer than the last one sent;
* alerts whose ``last_at`` falls in the last `LOOKBACK_NS` and that are new or changed (count,
  last time, severity) since the previous poll;
* events in the last `LOOKBACK_NS` not sent before (by ``event_id``).

The first poll only takes note of what is there (clients get the latest snapshot on connect,
and ``?since=`` replays alerts), so nothing old is announced as new. An event or alert stored
with a time older than the lookback is not announced (it is still in the REST API).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from oracle_monitor.aggregator.alerts import alert_json
from oracle_monitor.aggregator.live import LiveHub
from oracle_monitor.aggregator.periodic import PeriodicTask
from oracle_monitor.api.serialize import event_json
from oracle_monitor.store.base import AlertQuery, EventQuery, Store

logger = logging.getLogger(__name__)
LOOKBACK_NS = 600 * 1_000_000_000
MAX_PER_POLL = 1000


class StorePoller(PeriodicTask):
    """Publishes what other processes stored to ``hub`` (see the module docstring)."""

    def __init__(self, store: Store, hub: LiveHub, interval_s: float) -> None:
        super().__init__(interval_s, "live store poller")
        self._store = store
        self._hub = hub
        self._primed = False
        self._snapshot_ns = -1
        self._alerts: dict[str, tuple[int, int, str]] = {}  # id -> (last_at, count, severity)
        self._events: dict[str, int] = {}  # id -> time
        self.polls = 0
        self.published = {"snapshots": 0, "alerts": 0, "events": 0}
        self.last_error = ""

    def poll_once(self, now_ns: int | None = None) -> None:
        """One poll (blocking): publish what is new since the previous one."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        since = now_ns - LOOKBACK_NS
        latest = self._store.latest_snapshot()
        if latest is not None and latest[0] > self._snapshot_ns:
            self._snapshot_ns = latest[0]
            self._hub.publish_snapshot(*latest)  # also what a new client is greeted with
            self.published["snapshots"] += self._primed
        alerts = self._store.find_alerts(AlertQuery(start_ns=since, limit=MAX_PER_POLL))
        for alert in reversed(alerts):  # oldest first
            seen = (alert.last_at_ns, alert.count, alert.severity)
            if self._alerts.get(alert.alert_id) != seen:
                self._alerts[alert.alert_id] = seen
                if self._primed:
                    self._hub.publish_alert(alert_json(alert))
                    self.published["alerts"] += 1
        events = self._store.find_events(EventQuery(start_ns=since, limit=MAX_PER_POLL))
        fresh = [e for e in reversed(events) if e.event_id not in self._events]
        for event in fresh:
            self._events[event.event_id] = event.time_ns
        if self._primed and fresh:
            self._hub.publish_events([event_json(e) for e in fresh])
            self.published["events"] += len(fresh)
        self._forget(since)
        self._primed = True
        self.polls += 1

    def _forget(self, before_ns: int) -> None:
        self._alerts = {k: v for k, v in self._alerts.items() if v[0] >= before_ns}
        self._events = {k: t for k, t in self._events.items() if t >= before_ns}

    async def _round(self) -> None:
        try:
            await asyncio.to_thread(self.poll_once)
        except Exception as error:  # the store is away: say so, poll again
            if str(error) != self.last_error:
                logger.exception("polling the store for the live stream failed")
            self.last_error = str(error)

    def stats(self) -> dict[str, Any]:
        """Counters for ``/health``."""
        return {
            "interval_seconds": self._interval_s,
            "polls": self.polls,
            "published": dict(self.published),
            "last_error": self.last_error,
        }
