"""An ASGI app served by uvicorn inside our own event loop, stopped by an `AsyncExitStack`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from contextlib import AsyncExitStack

import uvicorn
from starlette.types import ASGIApp

__all__ = ["start_uvicorn"]


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
