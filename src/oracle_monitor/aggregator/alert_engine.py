"""`AlertEngine`: raises, deduplicates, stores and announces alerts.

Three ways in, each safe to call from any thread:

* `on_events` — the infrastructure events the sink has stored (`signal_from_event`). A pod
  going away (``oom_killed``, ``pod_evicted``, ``pod_deleted``, ``pod_rescheduled``) also
  schedules an orphan check for ``orphan_timeout`` later.
* `check_orphans` — called by the snapshot loop: for each due check, the tasks whose spans ran
  on that pod are run through the causal engine; a ``task_orphaned`` link raises
  ``task_orphaned`` (critical, linked to the task).
* `invalid_snapshot` — the snapshot loop found a snapshot that does not match the schema.

Every alert opened or updated is written to the store (so ``/alerts`` survives a restart and
deduplication picks up where it was) and handed to ``publish`` (the live stream) as JSON.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from oracle_monitor.aggregator.alerts import AlertBook, Signal, alert_json, signal_from_event
from oracle_monitor.aggregator.causal import build_causal_chain
from oracle_monitor.aggregator.correlate import ChainConfig, event_pods
from oracle_monitor.aggregator.links import POD_GONE
from oracle_monitor.model import Alert, InfraEvent
from oracle_monitor.store.base import (
    AgentActivityReader,
    AlertQuery,
    AlertReader,
    AlertWriter,
    EventQuery,
    EventReader,
    SpanReader,
)

logger = logging.getLogger(__name__)
Publish = Callable[[dict[str, Any]], None]


class AlertStore(AlertWriter, AlertReader, AgentActivityReader, SpanReader, EventReader, Protocol):
    """What the engine needs of a store."""


class AlertEngine:
    """Alerts from events and span patterns; see the module docstring."""

    def __init__(
        self,
        store: AlertStore,
        *,
        book: AlertBook | None = None,
        config: ChainConfig = ChainConfig(),  # noqa: B008 - frozen, shared safely
        publish: Publish | None = None,
    ) -> None:
        self._store = store
        self._book = book or AlertBook()
        self._config = config
        self._publish = publish
        self._lock = threading.Lock()
        self._orphan_checks: list[tuple[int, InfraEvent]] = []  # (due, pod-gone event)

    def restore(self, now_ns: int) -> None:
        """After a restart: take up the stored alerts that may still repeat or be active, and
        the orphan checks of pods that went away recently."""
        horizon = now_ns - max(self._book.dedupe_ns, self._book.active_ns)
        stored = self._store.find_alerts(AlertQuery(start_ns=horizon, limit=10_000))
        since = now_ns - self._config.orphan_timeout_ns - self._book.dedupe_ns
        gone = [
            event
            for kind in sorted(POD_GONE)
            for event in self._store.find_events(EventQuery(kind=kind, start_ns=since, limit=1000))
        ]
        with self._lock:
            self._book.load(stored)
            due = self._config.orphan_timeout_ns
            self._orphan_checks.extend((e.time_ns + due, e) for e in gone)

    def set_publisher(self, publish: Publish | None) -> None:
        """Where alerts go as they open or repeat (the live stream)."""
        self._publish = publish

    def raise_signals(self, signals: Sequence[Signal]) -> list[Alert]:
        """Fold ``signals`` in; store and publish the alerts they opened or updated."""
        changed: dict[str, Alert] = {}
        with self._lock:
            for signal in signals:
                alert = self._book.add(signal)
                if alert is not None:
                    changed[alert.alert_id] = dataclasses.replace(alert)
        alerts = list(changed.values())
        if alerts:
            self._store.write_alerts(alerts)
            if self._publish is not None:
                for alert in alerts:
                    self._publish(alert_json(alert))
        return alerts

    def on_events(self, events: Sequence[InfraEvent]) -> list[Alert]:
        """Alerts for stored infrastructure events; schedules orphan checks."""
        signals = [s for s in map(signal_from_event, events) if s is not None]
        gone = [e for e in events if e.kind in POD_GONE]
        if gone:
            with self._lock:
                due = self._config.orphan_timeout_ns
                self._orphan_checks.extend((e.time_ns + due, e) for e in gone)
        return self.raise_signals(signals)

    def invalid_snapshot(self, now_ns: int, message: str) -> list[Alert]:
        """An alert saying the snapshot at ``now_ns`` failed validation (and was not stored)."""
        summary = f"snapshot not stored, it does not match the schema: {message}"[:1000]
        signal = Signal("invalid_snapshot", "warning", now_ns, "oracle/snapshots", summary)
        return self.raise_signals([signal])

    def check_orphans(self, now_ns: int) -> list[Alert]:
        """Run the orphan checks due by ``now_ns``; alerts for the orphaned tasks found."""
        with self._lock:
            self._book.prune(now_ns)
            due = [e for at, e in self._orphan_checks if at <= now_ns]
            self._orphan_checks = [(at, e) for at, e in self._orphan_checks if at > now_ns]
        signals: list[Signal] = []
        checked: set[str] = set()
        for event in due:
            for task_id in self._tasks_on_pod(event) - checked:
                checked.add(task_id)
                signal = self._orphan_signal(task_id, now_ns)
                if signal is not None:
                    signals.append(signal)
        return self.raise_signals(signals)

    def _tasks_on_pod(self, event: InfraEvent) -> set[str]:
        names = {pod.name for pod in event_pods(event)}
        since = event.time_ns - self._config.causal_window_ns
        rows = self._store.recent_agent_activity(since)
        return {r.task_id for r in rows if r.task_id and r.pod_name in names}

    def _orphan_signal(self, task_id: str, now_ns: int) -> Signal | None:
        spans = self._store.get_task(task_id)
        if not spans:
            return None
        start = min(s.start_time_ns for s in spans) - self._config.causal_window_ns
        events = self._store.find_events(EventQuery(start_ns=start, end_ns=now_ns, limit=20_000))
        chain = build_causal_chain(spans, events, now_ns=now_ns, config=self._config)
        link = next((c for c in chain.chain if c.kind == "task_orphaned"), None)
        if link is None:
            return None
        return Signal(
            "task_orphaned", "critical", link.at_ns, link.entity,
            f"task {task_id} orphaned: {link.summary}", spans[0].trace_id, task_id,
            f"task_orphaned\x1f{task_id}",
        )  # fmt: skip

    def active(self, at_ns: int) -> list[dict[str, Any]]:
        """The alerts active at ``at_ns`` as JSON, newest first (the snapshot's ``alerts``)."""
        with self._lock:
            return [alert_json(a) for a in self._book.active(at_ns)]
