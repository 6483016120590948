"""A contender for snapshot leadership, run as its own process by test_leadership.py.

    python -m tests.integration.leader_worker STORE_URL HOLDER INTERVAL_S

Runs `Leadership` with the real `LeaderDuties` (snapshot loop, retention, alert engine; no
collectors) on the PostgreSQL store and prints one JSON line per fact on stdout, each with
the wall time ``t``: ``{"term": "start"|"end", "holder"}`` when its duties start and stop,
``{"snapshot": timestamp_ns, "holder"}`` for each snapshot it stored. SIGTERM stops it
cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from oracle_monitor.aggregator.leader_duties import leader_duties
from oracle_monitor.aggregator.leadership import Leadership, LeadershipConfig
from oracle_monitor.config import Settings, SnapshotSettings, StoreSettings
from oracle_monitor.store import open_store


def say(**fact: Any) -> None:
    sys.stdout.write(orjson.dumps({**fact, "t": time.time()}).decode() + "\n")
    sys.stdout.flush()


async def main(url: str, holder: str, interval_s: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    settings = Settings(
        store=StoreSettings(url=url), snapshots=SnapshotSettings(interval_seconds=interval_s)
    )
    store = open_store(url)
    duties = leader_duties(
        settings,
        store,
        collectors=False,
        on_snapshot=lambda ts, _snapshot: say(snapshot=ts, holder=holder),
    )

    @contextlib.asynccontextmanager
    async def term() -> AsyncIterator[None]:
        say(term="start", holder=holder)
        try:
            async with duties():
                yield
        finally:
            say(term="end", holder=holder)

    leadership = Leadership(
        LeadershipConfig(
            store_url=url, retry_s=interval_s, check_s=interval_s / 2, holder=holder,
            keepalive_s=2.0,
        )
    )  # fmt: skip
    say(ready=leadership.key, holder=holder)
    try:
        await leadership.run(term, stop)
    finally:
        store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
