"""The LLM usage collector: rolling windows of tokens, cost and failures, from stored spans.

Every ``poll_s`` it asks the store for the LLM calls of the last ``window_s`` (per agent, model
and provider: requests, rate-limited requests, tokens by kind, cost), the last hour's spending
and the total of every call to date, keeps that as its state, and hands the evaluator's events
(rate-limit bursts, exhausted quotas, spending over budget) to the sink. It reads the spans the
receivers stored, the LLM proxy's included, and never touches the providers.

All figures of one state are read for one instant ``polled_at_ns`` over nested ranges (the
window, the hour, all time), so a total is never less than a part of it. The total to date is
the calls before a checkpoint (read again when the checkpoint is `PREFIX_STALE_NS` older than
an hour ago) plus those since it (read every poll): a call stored late still counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from typing import Any

from oracle_monitor.collectors.base import CollectorHealth, EventSink
from oracle_monitor.collectors.llm.usage import UsageConfig, UsageEvaluator
from oracle_monitor.store.base import CostGroup, CostGrouping, Store

logger = logging.getLogger(__name__)
HOUR_NS = 3600 * 1_000_000_000
PREFIX_STALE_NS = 600 * 1_000_000_000
_GROUPINGS: tuple[CostGrouping, ...] = ("agent", "model", "provider")


class LLMUsageCollector:
    """See the module docstring."""

    name = "llm"

    def __init__(
        self,
        store: Store,
        sink: EventSink,
        config: UsageConfig,
        *,
        window_s: float,
        poll_s: float = 5.0,
        owns_store: bool = False,
    ) -> None:
        self._store = store
        self._sink = sink
        self._evaluator = UsageEvaluator(config)
        self._config = config
        self._window_ns = int(window_s * 1e9)
        self._poll_s = poll_s
        self._owns_store = owns_store
        self._task: asyncio.Task[None] | None = None
        self._state: dict[str, Any] = {}
        self._prefix: tuple[int, list[CostGroup]] | None = None  # (checkpoint, calls before it)
        self._health = CollectorHealth("starting", since_ns=time.time_ns())

    async def start(self) -> None:
        """Start polling."""
        self._task = asyncio.create_task(self._run(), name="llm-usage")

    async def shutdown(self) -> None:
        """Stop polling; idempotent."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            if self._owns_store:
                self._store.close()
        self._health = CollectorHealth("stopped", since_ns=time.time_ns())

    def health(self) -> CollectorHealth:
        """``ok`` once the store has been read, ``degraded`` while reading it fails."""
        return self._health

    def state(self) -> dict[str, Any]:
        """Usage per agent, model and provider over the window, and the hour's spending."""
        return self._state

    async def poll_once(self) -> None:
        """Read the store, update the state, hand new events to the sink."""
        now = time.time_ns()
        start = now - self._window_ns
        groups = {
            grouping: await asyncio.to_thread(self._store.llm_costs, grouping, start, now)
            for grouping in _GROUPINGS
        }
        hour = await asyncio.to_thread(self._store.llm_costs, "provider", now - HOUR_NS, now)
        problems = await asyncio.to_thread(
            self._store.llm_problems, min(start, now - 2 * 60_000_000_000), now
        )
        cost_last_hour = sum(group.cost_usd for group in hour)
        to_date = await self._to_date(now, hour)
        events = self._evaluator.evaluate(now, problems, cost_last_hour)
        if events:
            self._sink(events)
        self._state = {
            "window_seconds": self._window_ns / 1e9,
            **{
                f"by_{grouping}": [dataclasses.asdict(group) for group in found]
                for grouping, found in groups.items()
            },
            "cost_last_hour_usd": cost_last_hour,
            "to_date": to_date,
            "polled_at_ns": now,
            "budget_usd_per_hour": self._config.budget_usd_per_hour,
            "rate_limit_bursts": self._evaluator.active_bursts,
        }

    async def _to_date(self, now: int, hour: list[CostGroup]) -> list[dict[str, Any]]:
        """Every call up to ``now``, per provider: those before the checkpoint (cached), those
        from it to the last hour (at most `PREFIX_STALE_NS` of them), and the last ``hour``."""
        hour_start = now - HOUR_NS
        if self._prefix is None or self._prefix[0] < hour_start - PREFIX_STALE_NS:
            before = await asyncio.to_thread(
                self._store.llm_costs, "provider", None, hour_start - 1
            )
            self._prefix = (hour_start, before)
        checkpoint, before = self._prefix
        between: list[CostGroup] = []
        if checkpoint < hour_start:
            between = await asyncio.to_thread(
                self._store.llm_costs, "provider", checkpoint, hour_start - 1
            )
        return [dataclasses.asdict(group) for group in (*before, *between, *hour)]

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
                if self._health.status != "ok":
                    self._health = CollectorHealth("ok", since_ns=time.time_ns())
            except Exception as error:  # a store hiccup must not stop the collector
                logger.exception("reading LLM usage failed")
                self._health = CollectorHealth("degraded", str(error), time.time_ns())
            await asyncio.sleep(self._poll_s)
