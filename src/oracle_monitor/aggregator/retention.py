"""Snapshot and alert retention: full resolution for a while, then thinned, then dropped.

Snapshots younger than ``full_resolution_ns`` are all kept; older ones are thinned to the last
of each ``thinned_step_ns`` bucket (aligned on the unix epoch, like ``/snapshots?step=``, so a
series at that step reads the same before and after thinning); those older than
``retention_ns`` are deleted, and so are alerts that last happened before then.
`apply_retention` does one pass, an hour of snapshots per transaction so the writer is never
held long; `RetentionLoop` runs it at start-up and then every ``interval_s``, in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from oracle_monitor.aggregator.periodic import PeriodicTask
from oracle_monitor.config import Settings
from oracle_monitor.store.base import Retention

logger = logging.getLogger(__name__)
SECOND_NS = 1_000_000_000
HOUR_NS = 3600 * SECOND_NS


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long snapshots are kept at which resolution, and how often that is enforced."""

    full_resolution_ns: int = 24 * HOUR_NS
    thinned_step_ns: int = 60 * SECOND_NS
    retention_ns: int = 30 * 24 * HOUR_NS
    interval_s: float = 600.0
    chunk_ns: int = HOUR_NS  # snapshots thinned per transaction

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        """The policy of ``ORACLE_SNAPSHOT_*`` settings."""
        return cls(
            full_resolution_ns=round(settings.snapshots.full_resolution_hours * HOUR_NS),
            thinned_step_ns=max(1, round(settings.snapshots.thinned_step_seconds * SECOND_NS)),
            retention_ns=round(settings.snapshots.retention_days * 24 * HOUR_NS),
        )


@dataclass(slots=True)
class RetentionResult:
    """What one pass deleted, and up to where snapshots are thinned now."""

    dropped_snapshots: int
    thinned_snapshots: int
    dropped_alerts: int
    thinned_until_ns: int


def apply_retention(
    store: Retention, policy: RetentionPolicy, now_ns: int, thinned_until_ns: int | None = None
) -> RetentionResult:
    """One pass at ``now_ns``. ``thinned_until_ns``: where the previous pass stopped (its
    result), so only newer snapshots are looked at; ``None`` looks at the whole range."""
    drop_before = now_ns - policy.retention_ns
    full_from = now_ns - policy.full_resolution_ns
    step = policy.thinned_step_ns
    dropped = store.delete_snapshots_before(drop_before)
    alerts = store.delete_alerts_before(drop_before)
    # The bucket the previous pass ended in may have been cut short: look at it again.
    start = drop_before if thinned_until_ns is None else max(drop_before, thinned_until_ns - step)
    start -= start % step
    chunk = step * max(1, policy.chunk_ns // step)
    thinned = 0
    while start < full_from:
        end = min(start + chunk, full_from)
        thinned += store.thin_snapshots(start, end, step)
        start = end
    return RetentionResult(dropped, thinned, alerts, max(full_from, drop_before))


class RetentionLoop(PeriodicTask):
    """Runs `apply_retention` at start and every ``policy.interval_s``; never raises."""

    def __init__(self, store: Retention, policy: RetentionPolicy) -> None:
        super().__init__(policy.interval_s, "retention")
        self._store = store
        self._policy = policy
        self._thinned_until: int | None = None
        self.passes = 0
        self.deleted = 0
        self.last_error = ""

    def run_once(self, now_ns: int | None = None) -> RetentionResult:
        """One pass (blocking)."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        result = apply_retention(self._store, self._policy, now_ns, self._thinned_until)
        self._thinned_until = result.thinned_until_ns
        self.passes += 1
        self.deleted += result.dropped_snapshots + result.thinned_snapshots
        return result

    async def _round(self) -> None:
        """A pass in a thread; a failure is logged and retried at the next interval."""
        try:
            await asyncio.to_thread(self.run_once)
        except Exception as error:
            self.last_error = str(error)
            logger.exception("applying snapshot retention failed")

    def stats(self) -> dict[str, Any]:
        """Counters for the health endpoint."""
        return {
            "passes": self.passes,
            "deleted_snapshots": self.deleted,
            "last_error": self.last_error,
        }
