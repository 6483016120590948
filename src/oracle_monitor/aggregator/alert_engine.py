"""`AlertEngine`: raises, deduplicates, stores and announces alerts.

Three ways in, each safe to call from any thread:

* `on_events` — the infrastructure events the sink has stored (`signal_from_event`). A
  process dying or its pod going away (`links.POD_GONE`) also schedules an orphan check for
  ``orphan_timeout`` later.
  A consumer group's stall is held until it has lasted `STALL_CONFIRM_NS` (a change back to
  OK before then cancels it), so a status that flaps for one poll raises nothing.
* `tick` — called by the snapshot loop: raises the stalls that have lasted, and runs the
  orphan checks that are due (`check_orphans`): the tasks whose spans ran on that pod (or
  node), and the traces with a span on it (a trace naming no task is its own task), go
  through the causal engine; a ``task_orphaned`` link raises ``task_orphaned`` (critical,
  linked to the task, or to the trace).
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

from oracle_monitor.aggregator.alerts import (
    SEVERITY_RANK,
    STALL_CONFIRM_NS,
    AlertBook,
    Signal,
    alert_json,
    recovered_group,
    signal_from_event,
)
from oracle_monitor.aggregator.causal import build_causal_chain
from oracle_monitor.aggregator.correlate import ChainConfig, event_pods, stored_evidence
from oracle_monitor.aggregator.links import POD_GONE
from oracle_monitor.model import Alert, InfraEvent, Span
from oracle_monitor.store.base import (
    AgentActivityReader,
    AlertQuery,
    AlertReader,
    AlertWriter,
    EventQuery,
    EventReader,
    SpanReader,
    TraceQuery,
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
        self._stalls: dict[str, Signal] = {}  # consumer group entity -> unconfirmed stall

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
        """Alerts for stored infrastructure events; holds stalls, schedules orphan checks."""
        signals: list[Signal] = []
        with self._lock:
            for event in sorted(events, key=lambda e: e.time_ns):
                group = recovered_group(event)
                held = self._stalls.get(group or "")
                if held is not None and event.time_ns >= held.at_ns:
                    del self._stalls[held.entity]
                    if event.time_ns - held.at_ns >= STALL_CONFIRM_NS:
                        signals.append(held)  # it lasted: raised late, at its own time
                signal = signal_from_event(event)
                if signal is not None and signal.kind == "consumer_stalled":
                    self._hold(signal)
                elif signal is not None:
                    signals.append(signal)
                if event.kind in POD_GONE:
                    due = event.time_ns + self._config.orphan_timeout_ns
                    self._orphan_checks.append((due, event))
        return self.raise_signals(signals)

    def _hold(self, stall: Signal) -> None:
        """Hold a stall until it lasts (lock held); a worse one keeps the first one's time."""
        held = self._stalls.get(stall.entity)
        if held is None:
            self._stalls[stall.entity] = stall
        elif SEVERITY_RANK[stall.severity] > SEVERITY_RANK[held.severity]:
            self._stalls[stall.entity] = dataclasses.replace(stall, at_ns=held.at_ns)

    def confirm_stalls(self, now_ns: int) -> list[Alert]:
        """Raise the held stalls that have lasted `STALL_CONFIRM_NS` by ``now_ns``."""
        with self._lock:
            lasted = [s for s in self._stalls.values() if now_ns - s.at_ns >= STALL_CONFIRM_NS]
            for signal in lasted:
                del self._stalls[signal.entity]
        return self.raise_signals(lasted)

    def tick(self, now_ns: int) -> list[Alert]:
        """What the snapshot loop runs each round: `confirm_stalls`, then `check_orphans`."""
        return [*self.confirm_stalls(now_ns), *self.check_orphans(now_ns)]

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
            tasks: set[str] = set()
            traces = self._traces_on_pods(event)
            for trace_id in sorted(traces - checked):
                checked.add(trace_id)
                spans = self._store.get_trace(trace_id)
                named = next((s.task_id for s in spans if s.task_id), None)
                if named is None:  # no task id anywhere: the trace is the task
                    signals += self._orphaned(spans, None, now_ns)
                else:
                    tasks.add(named)
            for task_id in sorted(tasks - checked):
                checked.add(task_id)
                signals += self._orphaned(self._store.get_task(task_id), task_id, now_ns)
        return self.raise_signals(signals)

    def _traces_on_pods(self, event: InfraEvent) -> set[str]:
        """The traces that ran on the event's pods (a span of theirs, or its resource, names
        the pod) in the causal window before it; their tasks are the work the pods held."""
        names = {pod.name for pod in event_pods(event)} or self._pods_on_node(event)
        since = event.time_ns - self._config.causal_window_ns
        traces: set[str] = set()
        for name in sorted(names):
            query = TraceQuery(start_ns=since, end_ns=event.time_ns,
                               tags=(("k8s.pod.name", name),), limit=500)  # fmt: skip
            traces |= {summary.trace_id for summary in self._store.find_traces(query)}
        return traces

    def _pods_on_node(self, event: InfraEvent) -> set[str]:
        """The pods scheduled on the node of a node event (from the last schedulings)."""
        kind, _, node = event.entity.partition("/")
        if kind != "node":
            return set()
        query = EventQuery(source="k8s", kind="pod_scheduled", end_ns=event.time_ns, limit=5000)
        return {
            str(e.attributes.get("k8s.pod.name"))
            for e in self._store.find_events(query)
            if e.attributes.get("k8s.node.name") == node
        }

    def _orphaned(self, spans: list[Span], task_id: str | None, now_ns: int) -> list[Signal]:
        """``task_orphaned`` for the task (or, without a task id, the trace) of ``spans``, if
        the causal engine finds it orphaned."""
        if not spans:
            return []
        found = stored_evidence(self._store, spans, now_ns=now_ns, config=self._config)
        chain = build_causal_chain(
            spans, found.events, now_ns=now_ns, config=self._config, consumers=found.consumers
        )
        link = next((c for c in chain.chain if c.kind == "task_orphaned"), None)
        if link is None:
            return []
        what = f"task {task_id}" if task_id else f"trace {spans[0].trace_id}"
        return [
            Signal(
                "task_orphaned", "critical", link.at_ns, link.entity,
                f"{what} orphaned: {link.summary}", spans[0].trace_id, task_id,
                f"task_orphaned\x1f{task_id or spans[0].trace_id}",
            )
        ]  # fmt: skip

    def active(self, at_ns: int) -> list[dict[str, Any]]:
        """The alerts active at ``at_ns`` as JSON, newest first (the snapshot's ``alerts``)."""
        with self._lock:
            return [alert_json(a) for a in self._book.active(at_ns)]
