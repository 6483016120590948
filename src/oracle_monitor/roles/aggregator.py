"""`oracle-monitor aggregator`: one consumer of the pipeline's group, writing to the store.

Its span path is ``serve``'s chain (`oracle_monitor.pipeline.factories.store_chain`: GenAI
fields, pricing, the store, and OTLP forwarding when ``ORACLE_FORWARD_OTLP_ENDPOINTS`` names
targets) behind a Kafka receiver (`oracle_monitor.receiver.kafka.KafkaReceiver`).

Composition, in start-up order: the chain described from the settings → store (schema
migrated unless ``--no-migrate``) → topics checked → the chain built over that store → the
Kafka receiver, in a thread of its own → the health endpoint (``GET /health`` on
``ORACLE_PIPELINE_HEALTH_PORT``, when set) → the duties that only one aggregator of the group
runs at a time, which start in ``duties``, the `AsyncExitStack` handed to ``extra_duties``. By
default that is `snapshot_leadership`: on a PostgreSQL store every aggregator contends for the
snapshot leadership (an advisory lock, `oracle_monitor.aggregator.leadership`) and the one
holding it runs the alert engine, the collectors, the snapshot loop and retention
(`oracle_monitor.aggregator.leader_duties`); another takes over within one retry interval if
it dies. On another store (one aggregator on one machine) it runs them without contending.
Shutdown (SIGTERM/SIGINT) runs the stack backwards: those duties stop, the health endpoint
stops, the receiver finishes the batch in hand (written, then committed), leaves the group so
the others take its partitions at once, the chain shuts down (the forwarder exports what it
holds, for at most five seconds), and the store closes last.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import asdict
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from oracle_monitor.aggregator.leader_duties import leader_duties, run_leadership
from oracle_monitor.config import Settings
from oracle_monitor.pipeline.clients import (
    consumer_config,
    ensure_topics,
    pipeline_url,
    producer_config,
)
from oracle_monitor.pipeline.components import ChainContext
from oracle_monitor.pipeline.factories import build_chain, store_chain
from oracle_monitor.receiver.kafka import KafkaReceiver, KafkaReceiverConfig
from oracle_monitor.roles.lifecycle import start_uvicorn, stop_on_signals
from oracle_monitor.store import Store, open_store

__all__ = ["ExtraDuties", "kafka_receiver_config", "run_aggregator", "snapshot_leadership"]

logger = logging.getLogger("oracle_monitor.aggregator")

#: Starts further duties of an aggregator on the stack (which stops them first at shutdown).
ExtraDuties = Callable[[AsyncExitStack, Settings, Store], Awaitable[None]]
#: What the aggregator's ``/health`` shows of its duties: name -> function returning stats.
DutyStats = dict[str, Callable[[], dict[str, Any]]]


def _is_postgresql(url: str) -> bool:
    return url.partition("://")[0].lower() in ("postgresql", "postgres")


def snapshot_leadership(health: DutyStats) -> ExtraDuties:
    """The default duties: contend for snapshot leadership and lead while holding it.

    ``health`` receives the leadership's and the term's stats for ``GET /health``.
    """

    async def start(stack: AsyncExitStack, settings: Settings, store: Store) -> None:
        if not _is_postgresql(settings.store.url):
            logger.warning(
                "store is not PostgreSQL: this aggregator takes the snapshots without "
                "contending; run only one aggregator on it"
            )
            duties = leader_duties(settings, store)
            health["leader_duties"] = duties.stats
            await stack.enter_async_context(duties())
            return
        leaving = asyncio.Event()

        def started(leadership: Any, duties: Any) -> None:
            health["leadership"] = leadership.stats
            health["leader_duties"] = duties.stats

        task = asyncio.create_task(run_leadership(settings, store, leaving, on_start=started))

        async def stop() -> None:
            leaving.set()
            await task

        stack.push_async_callback(stop)

    return start


def kafka_receiver_config(settings: Settings) -> KafkaReceiverConfig:
    """The Kafka receiver's configuration from the settings."""
    url = pipeline_url(settings)
    return KafkaReceiverConfig(
        topic=url.topic,
        dead_letter_topic=url.dead_letter_topic,
        consumer=consumer_config(settings),
        producer=producer_config(settings),
        batch_messages=settings.pipeline.consume_batch_messages,
        stats_interval_s=settings.pipeline.stats_interval_seconds,
    )


async def run_aggregator(
    settings: Settings,
    stop: asyncio.Event | None = None,
    extra_duties: ExtraDuties | None = None,
) -> None:
    """Run until ``stop`` is set, or SIGINT/SIGTERM arrives; then shut down cleanly.

    ``extra_duties`` default to `snapshot_leadership`.
    """
    stop = stop_on_signals(stop)
    config = kafka_receiver_config(settings)
    duty_stats: DutyStats = {}
    if extra_duties is None:
        extra_duties = snapshot_leadership(duty_stats)
    spec = store_chain(settings)  # a bad pricing file stops start-up here

    async with AsyncExitStack() as stack:
        store = await asyncio.to_thread(
            open_store, settings.store.url, migrate=settings.store.migrate
        )
        stack.callback(store.close)  # closed last
        await asyncio.to_thread(ensure_topics, settings)
        counters = spec.forward_counters(multiprocessing.get_context())
        chain = build_chain(spec, ChainContext(store=store, forward_counters=counters))
        stack.callback(chain.shutdown)  # after the receiver stops, before the store

        receiver = KafkaReceiver(config, chain)
        halt = threading.Event()
        loop_task = asyncio.create_task(asyncio.to_thread(receiver.run, halt))

        async def stop_consumer() -> None:
            halt.set()
            await loop_task

        stack.push_async_callback(stop_consumer)
        loop_task.add_done_callback(lambda _task: stop.set())  # a crashed loop stops us

        if settings.pipeline.health_port is not None:

            async def health(_request: Request) -> JSONResponse:
                alive = not loop_task.done()
                body = {
                    "status": "ok" if alive else "stopped",
                    "pipeline": {"topic": config.topic, "group": settings.pipeline.group_id},
                    "aggregator": asdict(receiver.stats),
                    **{name: stats() for name, stats in duty_stats.items()},
                    "forward": {"endpoints": counters.snapshot() if counters else []},
                }
                return JSONResponse(body, status_code=200 if alive else 503)

            app = Starlette(routes=[Route("/health", health, methods=["GET"])])
            await start_uvicorn(
                stack,
                app,
                settings.server.host,
                settings.pipeline.health_port,
                settings.server.shutdown_timeout_seconds,
            )

        # Duties of one aggregator of the group at a time start here, after the consumer,
        # and stop before it.
        duties = AsyncExitStack()
        await stack.enter_async_context(duties)
        await extra_duties(duties, settings, store)

        logger.info(
            "aggregator consuming %s as group %s into %s",
            config.topic,
            settings.pipeline.group_id,
            store.__class__.__name__,
        )
        await stop.wait()
        logger.info("shutting down: finishing the batch in hand, leaving the group")
    if loop_task.done() and not loop_task.cancelled() and loop_task.exception() is not None:
        raise RuntimeError("the consumer loop failed") from loop_task.exception()
    logger.info("stopped; %d spans written since start-up", receiver.stats.spans_written)
