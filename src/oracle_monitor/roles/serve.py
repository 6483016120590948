"""`oracle-monitor serve`: receivers, store, collectors and API composed in one process.

The span path is `oracle_monitor.pipeline.factories.store_chain` (decode → GenAI fields →
pricing → the store, then OTLP forwarding when targets are set), run by the ingest worker
processes behind the OTLP/gRPC and OTLP/HTTP receivers.

Start-up order: the chain described from the settings (a bad pricing file stops here) → store
(schema created or migrated, readers for the API) → ingest workers (processes that run the
chain) → OTLP/gRPC → OTLP/HTTP → live hub and alert engine
(stored alerts taken up again) → event sink (stored events go to alerts and live clients) →
collectors → snapshot loop → retention → API. Shutdown runs the `AsyncExitStack` backwards:
the API stops (live clients get close code 1012); retention stops; the snapshot loop
finishes the snapshot in progress; the collectors stop and the sink stores their last
events; the receivers stop taking requests and finish those in flight (their spans are
written and acknowledged); the workers write what they hold and exit; the store closes
last. Nothing that was acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
from contextlib import AsyncExitStack
from dataclasses import asdict
from typing import Any

from oracle_monitor.aggregator.leader_duties import LeaderDuties
from oracle_monitor.aggregator.live import LiveHub
from oracle_monitor.api import create_app
from oracle_monitor.api.serialize import event_json
from oracle_monitor.auth import BearerAuth, exposure_warnings
from oracle_monitor.config import Settings
from oracle_monitor.pipeline.factories import store_chain
from oracle_monitor.receiver.grpc_server import start_grpc_server
from oracle_monitor.receiver.http_server import HttpTraceReceiver, create_http_app
from oracle_monitor.receiver.worker_process import WorkerConfig
from oracle_monitor.receiver.workers import IngestWorkerPool
from oracle_monitor.roles.lifecycle import (
    open_settings_store,
    redacted,
    start_api,
    start_uvicorn,
    stop_on_signals,
)

logger = logging.getLogger("oracle_monitor")


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set, or SIGINT/SIGTERM arrives; then shut down cleanly."""
    stop = stop_on_signals(stop)

    otlp_auth = BearerAuth(settings.auth.otlp_bearer_token())
    api_auth = BearerAuth(settings.auth.api_bearer_token())
    for warning in exposure_warnings(
        settings.server.host, api_token=api_auth.enabled, otlp_token=otlp_auth.enabled
    ):
        logger.warning("%s", warning)

    async with AsyncExitStack() as stack:
        spec = store_chain(settings)  # a bad setting stops start-up, not a worker
        # Before the workers: it creates or migrates the schema.
        store = open_settings_store(settings)
        stack.callback(store.close)  # closed last
        ingest = IngestWorkerPool(
            WorkerConfig(
                chain=spec,
                batch_max_spans=settings.ingest.write_batch_max_spans,
                log_level=settings.server.log_level,
            ),
            workers=settings.ingest.workers or os.cpu_count() or 1,
            max_queued_bytes=settings.ingest.queue_max_bytes,
            retry_after_s=settings.ingest.retry_after_seconds,
        )
        await ingest.start()
        stack.push_async_callback(ingest.shutdown)  # drains after the receivers stop

        grpc_port = await start_grpc_server(stack, ingest, otlp_auth, settings)

        await start_uvicorn(
            stack,
            create_http_app(
                HttpTraceReceiver(ingest, settings.receiver.max_request_bytes, otlp_auth)
            ),
            settings.server.host,
            settings.receiver.otlp_http_port,
            settings.server.shutdown_timeout_seconds,
        )

        # The live stream: stored events, alerts and snapshots go to its clients.
        live_hub = LiveHub()
        live_hub.bind(asyncio.get_running_loop())
        stack.callback(live_hub.close)
        # Alerts, collectors (their events stored by a sink), snapshots and retention: the
        # leader's duties, for the server's whole life, feeding the live stream too.
        duties = LeaderDuties(
            settings,
            store,
            on_snapshot=live_hub.publish_snapshot,
            publish_alert=live_hub.publish_alert,
            on_events=lambda events: live_hub.publish_events([event_json(e) for e in events]),
        )
        await stack.enter_async_context(duties())
        collectors = duties.collectors

        def status() -> dict[str, Any]:
            return {
                "receiver": {
                    **asdict(ingest.stats),
                    "queued_bytes": ingest.queued_bytes,
                    "queued_requests": ingest.queued_requests,
                    "max_queued_bytes": settings.ingest.queue_max_bytes,
                    "write_latency_seconds": ingest.write_latency.as_json(),
                },
                **duties.stats(),
                "live": {"clients": live_hub.subscribers},
                "forward": {
                    "endpoints": ingest.forward_counters.snapshot()
                    if ingest.forward_counters
                    else []
                },
            }

        app = create_app(store, status, api_auth, collectors, live_hub)
        await start_api(stack, settings, app)
        logger.info(
            "listening: OTLP/gRPC %s:%d, OTLP/HTTP http://%s:%d/v1/traces, API http://%s:%d/api/v1",
            settings.server.host,
            grpc_port,
            settings.server.host,
            settings.receiver.otlp_http_port,
            settings.server.host,
            settings.api.port,
        )
        logger.info(
            "store: %s; bearer token %s for OTLP, %s for the API",
            redacted(settings.store.url),
            "required" if otlp_auth.enabled else "not required",
            "required" if api_auth.enabled else "not required",
        )
        await stop.wait()
        logger.info("shutting down: finishing in-flight requests and writing queued spans")
    logger.info("stopped; %d spans stored since start-up", ingest.stats.accepted_spans)
