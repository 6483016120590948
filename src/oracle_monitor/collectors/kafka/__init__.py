"""Kafka collector: consumer lag (messages and seconds), Burrow-style status, DLQs, broker health.

`create` builds it from the server settings; it is off unless ``kafka.bootstrap`` is set.
"""

from __future__ import annotations

from oracle_monitor.collectors.base import Collector, EventSink
from oracle_monitor.collectors.kafka.config import KafkaCollectorConfig
from oracle_monitor.collectors.kafka.watcher import KafkaWatcher
from oracle_monitor.config import Settings
from oracle_monitor.store.base import Store

__all__ = ["KafkaCollectorConfig", "KafkaWatcher", "create"]


def create(settings: Settings, sink: EventSink, *, store: Store | None = None) -> Collector | None:
    """The Kafka collector for these settings, or ``None`` when no bootstrap is configured.

    ``store`` is part of the factory signature; this collector does not read the store.
    """
    if not settings.kafka.bootstrap:
        return None
    return KafkaWatcher(KafkaCollectorConfig.from_settings(settings), sink)
