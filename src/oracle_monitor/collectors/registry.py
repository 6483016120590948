"""The collectors `serve` knows, keyed by name, and which of them the settings turn on.

Each entry names a module with ``create(settings, sink, *, store) -> Collector | None``
(``store`` is the server's, for collectors that read what was stored); the factory
returns ``None`` when its collector is not configured (no kubeconfig and not in a pod, no
Kafka bootstrap address). Names must be unique: registering one twice is an error.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from oracle_monitor.collectors.base import Collector, EventSink
from oracle_monitor.config import Settings
from oracle_monitor.store.base import Store


class Factory(Protocol):
    """A collector module's ``create``."""

    def __call__(
        self, settings: Settings, sink: EventSink, *, store: Store | None = None
    ) -> Collector | None: ...


#: name -> module that holds its ``create`` factory.
COLLECTORS: dict[str, str] = {
    "k8s": "oracle_monitor.collectors.k8s",
    "kafka": "oracle_monitor.collectors.kafka",
    "llm": "oracle_monitor.collectors.llm",
}


def register(name: str, module: str) -> None:
    """Add a collector; refuses a name that is taken."""
    if name in COLLECTORS:
        raise ValueError(f"a collector named {name!r} is already registered")
    COLLECTORS[name] = module


def create_collectors(settings: Settings, sink: EventSink, store: Store) -> list[Collector]:
    """The collectors the settings turn on, created but not started."""
    collectors: list[Collector] = []
    for module in COLLECTORS.values():
        factory: Factory = importlib.import_module(module).create
        collector = factory(settings, sink, store=store)
        if collector is not None:
            collectors.append(collector)
    return collectors
