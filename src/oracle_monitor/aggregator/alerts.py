"""Alerts: which infrastructure events and span patterns raise one, and deduplication. Pure.

`signal_from_event` maps a stored `InfraEvent` to an alert occurrence (`Signal`) by `RULES`
(event kind → alert kind and severity); events of other kinds raise nothing. A consumer group
whose status changes to STALL, STOP or ERR raises ``consumer_stalled``; a lag spike is
reported per consumer group and topic (``group/<g>/topic/<t>``), not per partition. The
aggregator adds ``task_orphaned`` (the causal engine's orphan rule) and ``invalid_snapshot``.
A stall counts once it has lasted `STALL_CONFIRM_NS` (the engine holds it until then; a
change back to OK before that cancels it).

`AlertBook` folds occurrences into alerts: an occurrence of the same kind on the same entity
within ``dedupe_ns`` of the alert's last one is the same alert (``count`` + 1, ``last_at``
moves on, the worse severity wins); otherwise a new alert opens. An alert is *active* at ``t``
when it opened at or before ``t`` and last happened within ``active_ns`` before ``t``.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from oracle_monitor.model import Alert, InfraEvent
from oracle_monitor.timestamps import rfc3339

SECOND_NS: Final = 1_000_000_000
SEVERITY_RANK: Final = {"info": 0, "warning": 1, "critical": 2}
#: Event kind -> (alert kind, severity).
RULES: Final = {
    "oom_killed": ("oom_killed", "critical"),
    "crash_loop": ("crash_loop", "critical"),
    "pod_evicted": ("pod_evicted", "warning"),
    "failed_scheduling": ("failed_scheduling", "warning"),
    "image_pull_backoff": ("image_pull_backoff", "warning"),
    "config_error": ("config_error", "warning"),
    "memory_pressure": ("memory_pressure", "warning"),
    "api_unreachable": ("api_unreachable", "critical"),
    "node_not_ready": ("node_not_ready", "critical"),
    "node_unreachable": ("node_unreachable", "critical"),
    "node_deleted": ("node_deleted", "warning"),
    "lag_spike": ("lag_spike", "warning"),
    "dlq_growth": ("dlq_growth", "warning"),
    "broker_unreachable": ("broker_unreachable", "critical"),
    "rate_limit_burst": ("rate_limit_burst", "warning"),
    "quota_exhausted": ("quota_exhausted", "critical"),
    "cost_over_budget": ("cost_over_budget", "warning"),
}
#: Consumer-group statuses that raise ``consumer_stalled``, with its severity.
STALLED: Final = {"STALL": "warning", "STOP": "critical", "ERR": "critical"}
#: A stall raises its alert only once it has lasted this long without the group going back
#: to OK: Burrow-style statuses flap for a poll or two under bursty load.
STALL_CONFIRM_NS: Final = 5 * SECOND_NS
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class Signal:
    """One occurrence of a problem, before deduplication."""

    kind: str
    severity: str
    at_ns: int
    entity: str
    summary: str
    trace_id: str | None = None
    task_id: str | None = None
    source_id: str = ""  # the event (or check) it comes from: a repeat of it is ignored


def recovered_group(event: InfraEvent) -> str | None:
    """The consumer group whose status went back to OK in ``event``, else ``None``."""
    status = event.attributes.get("oracle.kafka.status")
    if event.kind == "consumer_status_changed" and status == "OK":
        return event.entity
    return None


def signal_from_event(event: InfraEvent) -> Signal | None:
    """The alert occurrence an infrastructure event raises, or ``None``."""
    attrs = event.attributes
    if event.kind == "consumer_status_changed":
        status = str(attrs.get("oracle.kafka.status") or "")
        if status not in STALLED:
            return None
        kind, severity = "consumer_stalled", STALLED[status]
    elif event.kind in RULES:
        kind, severity = RULES[event.kind]
    else:
        return None
    entity = event.entity
    group, topic = (
        attrs.get("messaging.kafka.consumer.group"),
        attrs.get("messaging.destination.name"),
    )
    if event.kind == "lag_spike" and isinstance(group, str) and isinstance(topic, str):
        entity = f"group/{group}/topic/{topic}"
    trace_id = attrs.get("trace_id")
    return Signal(
        kind,
        severity,
        event.time_ns,
        entity,
        event.summary or f"{event.kind} on {event.entity}",
        trace_id if isinstance(trace_id, str) and _TRACE_ID.match(trace_id) else None,
        None,
        event.event_id,
    )


def alert_link(alert: Alert) -> str:
    """The dashboard path that shows the alert: its task, its trace, else its entity."""
    if alert.task_id:
        return f"/tasks/{quote(alert.task_id, safe='')}"
    if alert.trace_id:
        return f"/traces/{alert.trace_id}"
    return f"/infra?entity={quote(alert.entity, safe='/')}"


def alert_json(alert: Alert) -> dict[str, Any]:
    """An alert in the shape of the API, the live stream and the snapshot's ``alerts``."""
    return {
        "id": alert.alert_id,
        "kind": alert.kind,
        "severity": alert.severity,
        "first_at": rfc3339(alert.first_at_ns),
        "last_at": rfc3339(alert.last_at_ns),
        "count": alert.count,
        "entity": alert.entity,
        "summary": alert.summary,
        "trace_id": alert.trace_id,
        "task_id": alert.task_id,
        "link": alert_link(alert),
    }


def alert_id(kind: str, entity: str, first_at_ns: int) -> str:
    """The stable id of an alert opened by ``kind`` on ``entity`` at ``first_at_ns``."""
    key = f"{kind}\x1f{entity}\x1f{first_at_ns}"
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


class AlertBook:
    """The alerts still open for deduplication, by (kind, entity). Not thread-safe."""

    def __init__(self, dedupe_ns: int = 600 * SECOND_NS, active_ns: int = 300 * SECOND_NS) -> None:
        self.dedupe_ns = dedupe_ns
        self.active_ns = active_ns
        #: (kind, entity) -> its alerts (several when far apart in time)
        self._open: dict[tuple[str, str], list[Alert]] = {}
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()

    def load(self, alerts: list[Alert]) -> None:
        """Take up alerts stored before (a restart), oldest ``last_at`` first."""
        for alert in sorted(alerts, key=lambda a: a.last_at_ns):
            self._open.setdefault((alert.kind, alert.entity), []).append(alert)

    def add(self, signal: Signal) -> Alert | None:
        """Fold ``signal`` in; the alert it opened or updated (``None``: a repeat, ignored)."""
        if signal.source_id:
            if signal.source_id in self._seen:
                return None
            self._seen.add(signal.source_id)
            self._seen_order.append(signal.source_id)
            if len(self._seen_order) > 10_000:
                self._seen.discard(self._seen_order.popleft())
        same = self._open.setdefault((signal.kind, signal.entity), [])
        alert = next(
            (
                a
                for a in same
                if a.first_at_ns - self.dedupe_ns <= signal.at_ns <= a.last_at_ns + self.dedupe_ns
            ),
            None,
        )
        if alert is not None:
            alert.count += 1
            alert.first_at_ns = min(alert.first_at_ns, signal.at_ns)
            if signal.at_ns >= alert.last_at_ns:
                alert.last_at_ns = signal.at_ns
                alert.summary = signal.summary
            if SEVERITY_RANK.get(signal.severity, 0) > SEVERITY_RANK.get(alert.severity, 0):
                alert.severity = signal.severity
            alert.trace_id = alert.trace_id or signal.trace_id
            alert.task_id = alert.task_id or signal.task_id
            return alert
        alert = Alert(
            alert_id(signal.kind, signal.entity, signal.at_ns), signal.kind, signal.severity,
            signal.at_ns, signal.at_ns, signal.entity, signal.summary, 1,
            signal.trace_id, signal.task_id,
        )  # fmt: skip
        same.append(alert)
        return alert

    def active(self, at_ns: int) -> list[Alert]:
        """The alerts active at ``at_ns``, newest ``last_at`` first."""
        found = [
            a
            for same in self._open.values()
            for a in same
            if a.first_at_ns <= at_ns and a.last_at_ns >= at_ns - self.active_ns
        ]
        return sorted(found, key=lambda a: (-a.last_at_ns, a.alert_id))

    def prune(self, now_ns: int) -> None:
        """Forget alerts too old to be repeated or active at ``now_ns``."""
        horizon = now_ns - max(self.dedupe_ns, self.active_ns)
        kept = {k: [a for a in same if a.last_at_ns >= horizon] for k, same in self._open.items()}
        self._open = {k: same for k, same in kept.items() if same}
