"""What the long-running roles do alike: stop on a signal, serve ASGI apps inside their loop,
open the store of their settings.

Each role composes its parts with one `AsyncExitStack` and waits on an `asyncio.Event`;
`stop_on_signals` sets it on SIGINT or SIGTERM, and the stack then stops the parts in reverse.
`start_uvicorn` serves an app (the API, OTLP/HTTP, a ``/health`` route) in the role's own
event loop, stopped by that stack; `start_api` serves the API app that way.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Generator
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import uvicorn
from starlette.types import ASGIApp

from oracle_monitor.aggregator.correlate import chain_config
from oracle_monitor.config import Settings
from oracle_monitor.store import Store, StoreOpenError, open_store

__all__ = [
    "freeze_start_up_objects",
    "open_settings_store",
    "redacted",
    "start_api",
    "start_uvicorn",
    "stop_on_signals",
]

logger = logging.getLogger("oracle_monitor")


def freeze_start_up_objects() -> None:
    """Keep what start-up built (modules, the application and its response models, the
    store) out of the garbage collector's full scans: it lives as long as the process, and
    scanning it again in every full collection cost a large answer about a quarter of its CPU
    (the 5,000-span trace: ~200 ms, ~150 ms with it frozen). Call once, just before serving."""
    gc.collect()
    gc.freeze()


def redacted(url: str) -> str:
    """A store URL without its password, for the log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def open_settings_store(settings: Settings) -> Store:
    """Open (and migrate) the store of ``settings``; any failure becomes `StoreOpenError`
    with the store's redacted URL and the reason, which the command prints in one line."""
    try:
        return open_store(settings.store.url, migrate=settings.store.migrate)
    except Exception as error:
        logger.debug("opening the store failed", exc_info=True)
        raise StoreOpenError(
            f"cannot open the store {redacted(settings.store.url)}: {error}"
        ) from error


def stop_on_signals(stop: asyncio.Event | None) -> asyncio.Event:
    """``stop`` (a new event if ``None``), set by SIGINT and SIGTERM from now on.

    Call from the role's running loop; where signals cannot be handled (not the main
    thread, Windows), only setting the event stops the role.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


class _EmbeddedUvicorn(uvicorn.Server):
    """A uvicorn server that leaves signal handling to us."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def start_uvicorn(
    stack: AsyncExitStack, app: ASGIApp, host: str, port: int, timeout_s: float
) -> None:
    """Serve ``app`` on ``host:port`` once listening; ``stack`` stops it (in-flight requests
    get ``timeout_s``). Raises `OSError` when it cannot listen."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=int(timeout_s),
    )
    server = _EmbeddedUvicorn(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises why it could not start
            raise OSError(f"cannot listen on {host}:{port}")
        await asyncio.sleep(0.01)

    async def stop() -> None:
        server.should_exit = True
        await task

    stack.push_async_callback(stop)


async def start_api(stack: AsyncExitStack, settings: Settings, app: Any) -> None:
    """Serve the API app (`oracle_monitor.api.app.create_app`) on the settings' host and API
    port, with the configured causal-chain rules, until ``stack`` closes; what start-up built
    is frozen first (`freeze_start_up_objects`)."""
    app.state.chain_config = chain_config(settings)
    freeze_start_up_objects()
    await start_uvicorn(
        stack,
        app,
        settings.server.host,
        settings.api.port,
        settings.server.shutdown_timeout_seconds,
    )
