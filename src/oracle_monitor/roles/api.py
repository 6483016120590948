"""`oracle-monitor api`: the REST, WebSocket, Jaeger and metrics API alone, over a shared store.

For the scale-out topology: receivers and aggregators (other processes) write the store; this
process only reads it, so it runs no OTLP receiver, no collectors and no snapshot loop, and
any number of replicas can run behind one Service. Live clients are fed by a `StorePoller`
(every ``ORACLE_LIVE_POLL_SECONDS``). ``/api/v1/health`` says ``"role": "api"``; ``/infra``
has no collectors to show (the snapshots carry their state).

Start-up: store (migrated unless ``--no-migrate``) → live hub and poller → API. Shutdown runs
backwards: the API stops (live clients get close code 1012), the poller stops, the store
closes.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import Any

from oracle_monitor.aggregator.live import LiveHub
from oracle_monitor.api import create_app
from oracle_monitor.api.live_poll import StorePoller
from oracle_monitor.auth import BearerAuth, exposure_warnings
from oracle_monitor.config import Settings
from oracle_monitor.roles.lifecycle import (
    open_settings_store,
    redacted,
    start_api,
    stop_on_signals,
)

logger = logging.getLogger("oracle_monitor")
ROLE = "api"


async def serve_api(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set, or SIGINT/SIGTERM arrives; then shut down cleanly."""
    stop = stop_on_signals(stop)
    api_auth = BearerAuth(settings.auth.api_bearer_token())
    for warning in exposure_warnings(
        settings.server.host, api_token=api_auth.enabled, otlp_token=True
    ):
        logger.warning("%s", warning)

    async with AsyncExitStack() as stack:
        store = await asyncio.to_thread(open_settings_store, settings)
        stack.callback(store.close)  # closed last
        hub = LiveHub()
        hub.bind(asyncio.get_running_loop())
        stack.callback(hub.close)
        poller = StorePoller(store, hub, settings.api.live_poll_seconds)
        await poller.start()
        stack.push_async_callback(poller.shutdown)

        def status() -> dict[str, Any]:
            return {"role": ROLE, "live": {"clients": hub.subscribers, "poll": poller.stats()}}

        app = create_app(store, status, api_auth, (), hub)
        await start_api(stack, settings, app)
        logger.info(
            "API http://%s:%d/api/v1 over %s; bearer token %s",
            settings.server.host,
            settings.api.port,
            redacted(settings.store.url),
            "required" if api_auth.enabled else "not required",
        )
        await stop.wait()
        logger.info("shutting down")
    logger.info("stopped")
