"""`oracle-monitor receiver`: a stateless OTLP receiver that publishes to the pipeline topic.

The same OTLP/gRPC and OTLP/HTTP endpoints, authentication and limits as ``serve``
(`oracle_monitor.receiver`), and the same ingest worker processes; only their chain's end
differs (`oracle_monitor.pipeline.factories.kafka_chain`): each request's valid spans go to
Kafka, one message per trace id (`oracle_monitor.exporters.kafka_publisher`), and the exporter
is answered once the brokers acknowledged all of them. The chain has no processors: the
aggregators run them, after decoding. ``GET /health`` on the OTLP/HTTP port answers with the
counters.

Start-up: topics checked (created when missing) → workers → OTLP/gRPC → OTLP/HTTP. Shutdown,
backwards: the receivers stop taking requests and finish those in flight; the workers publish
what they hold and exit. Nothing acknowledged is lost: it is on the brokers.
"""

from __future__ import annotations

import asyncio
import logging
import os
from contextlib import AsyncExitStack
from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse

from oracle_monitor.auth import BearerAuth, exposure_warnings
from oracle_monitor.config import Settings
from oracle_monitor.exporters.otlp_forward import ForwardConfig
from oracle_monitor.pipeline.clients import ensure_topics, pipeline_url
from oracle_monitor.pipeline.factories import kafka_chain
from oracle_monitor.receiver.grpc_server import start_grpc_server
from oracle_monitor.receiver.http_server import HttpTraceReceiver, create_http_app
from oracle_monitor.receiver.worker_process import WorkerConfig
from oracle_monitor.receiver.workers import IngestWorkerPool
from oracle_monitor.roles.lifecycle import start_uvicorn, stop_on_signals

__all__ = ["run_receiver"]

logger = logging.getLogger("oracle_monitor.receiver")


def worker_config(settings: Settings) -> WorkerConfig:
    """The ingest workers' configuration: publish to the pipeline topic."""
    return WorkerConfig(
        chain=kafka_chain(settings),
        batch_max_spans=settings.ingest.write_batch_max_spans,
        log_level=settings.server.log_level,
    )


async def run_receiver(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set, or SIGINT/SIGTERM arrives; then shut down cleanly."""
    stop = stop_on_signals(stop)
    url = pipeline_url(settings)
    otlp_auth = BearerAuth(settings.auth.otlp_bearer_token())
    for warning in exposure_warnings(
        settings.server.host, api_token=True, otlp_token=otlp_auth.enabled
    ):
        logger.warning("%s", warning)
    if ForwardConfig.from_settings(settings) is not None:
        logger.warning(
            "ORACLE_FORWARD_OTLP_ENDPOINTS is ignored by receivers: with the Kafka pipeline, "
            "the aggregators forward what they write; set it on them"
        )

    async with AsyncExitStack() as stack:
        await asyncio.to_thread(ensure_topics, settings)
        ingest = IngestWorkerPool(
            worker_config(settings),
            workers=settings.ingest.workers or os.cpu_count() or 1,
            max_queued_bytes=settings.ingest.queue_max_bytes,
            retry_after_s=settings.ingest.retry_after_seconds,
        )
        await ingest.start()
        stack.push_async_callback(ingest.shutdown)  # publishes what it holds, after receivers

        grpc_port = await start_grpc_server(stack, ingest, otlp_auth, settings)

        app = create_http_app(
            HttpTraceReceiver(ingest, settings.receiver.max_request_bytes, otlp_auth)
        )

        async def health(_request: Request) -> JSONResponse:
            return JSONResponse(
                {
                    "status": "ok",
                    "pipeline": {"topic": url.topic, "brokers": url.bootstrap_servers},
                    "receiver": {
                        **asdict(ingest.stats),
                        "queued_bytes": ingest.queued_bytes,
                        "queued_requests": ingest.queued_requests,
                        "publish_latency_seconds": ingest.write_latency.as_json(),
                    },
                }
            )

        app.add_route("/health", health, methods=["GET"])
        await start_uvicorn(
            stack,
            app,
            settings.server.host,
            settings.receiver.otlp_http_port,
            settings.server.shutdown_timeout_seconds,
        )
        logger.info(
            "receiver listening: OTLP/gRPC %s:%d, OTLP/HTTP http://%s:%d/v1/traces; "
            "publishing to topic %s on %s; bearer token %s",
            settings.server.host,
            grpc_port,
            settings.server.host,
            settings.receiver.otlp_http_port,
            url.topic,
            url.bootstrap_servers,
            "required" if otlp_auth.enabled else "not required",
        )
        await stop.wait()
        logger.info("shutting down: finishing in-flight requests and publishing queued spans")
    logger.info("stopped; %d spans published since start-up", ingest.stats.accepted_spans)
