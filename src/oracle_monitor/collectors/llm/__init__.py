"""LLM usage: the collector of the LLM calls the server stores (429 bursts, quota, budget)."""

from __future__ import annotations

from oracle_monitor.collectors.base import Collector, EventSink
from oracle_monitor.config import Settings
from oracle_monitor.store.base import Store


def create(settings: Settings, sink: EventSink, *, store: Store | None = None) -> Collector | None:
    """The LLM usage collector; always on, since it reads the spans the server stores.

    It reads ``store`` (the server's); without one it opens ``settings.store.url`` itself.
    """
    from oracle_monitor.collectors.llm.usage import UsageConfig
    from oracle_monitor.collectors.llm.usage_collector import LLMUsageCollector
    from oracle_monitor.store import open_store

    config = UsageConfig(settings.llm.rate_limit_burst, settings.llm.budget_usd_per_hour)
    return LLMUsageCollector(
        store if store is not None else open_store(settings.store.url),
        sink,
        config,
        window_s=settings.llm.window_seconds,
        poll_s=settings.llm.poll_seconds,
        owns_store=store is None,
    )
