"""``WS /api/v1/live``: snapshots, alerts and infrastructure events as they happen.

On connect the client gets ``hello``, the latest snapshot (if any) and, with
``?since=<RFC 3339>``, the stored alerts whose ``last_at`` is after it (oldest first); then
every new snapshot, alert and event (`oracle_monitor.aggregator.live.LiveHub`). The bearer
token, when one is required, is checked by `oracle_monitor.api.auth_middleware` (``?token=``
or the ``Authorization`` header). A bad ``since`` gets an ``error`` message and close code
1008.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from oracle_monitor import __version__
from oracle_monitor.aggregator.alerts import alert_json
from oracle_monitor.aggregator.live import LiveHub, Subscriber, snapshot_message
from oracle_monitor.api.snapshots import parse_rfc3339_ns
from oracle_monitor.store.base import AlertQuery, Store
from oracle_monitor.timestamps import rfc3339

router = APIRouter(tags=["live"])
REPLAY_LIMIT = 1000
POLICY_VIOLATION = 1008


async def _send_all(websocket: WebSocket, subscriber: Subscriber) -> None:
    while texts := await subscriber.get():
        for text in texts:
            await websocket.send_text(text)


async def _until_disconnect(websocket: WebSocket) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass  # clients have nothing to say; what they send is ignored


async def _greet(websocket: WebSocket, hub: LiveHub, since_ns: int | None) -> None:
    store: Store = websocket.app.state.reader
    hello = {"type": "hello", "server_time": rfc3339(time.time_ns()), "version": __version__}
    await websocket.send_text(orjson.dumps(hello).decode())
    latest = hub.latest_snapshot
    if latest is None:
        found = await asyncio.to_thread(store.latest_snapshot)
        latest = snapshot_message(*found) if found is not None else None
    if latest is not None:
        await websocket.send_text(latest)
    if since_ns is not None:
        query = AlertQuery(start_ns=since_ns + 1, limit=REPLAY_LIMIT)
        replayed = await asyncio.to_thread(store.find_alerts, query)
        for alert in reversed(replayed):
            text = orjson.dumps({"type": "alert", "alert": alert_json(alert)}).decode()
            await websocket.send_text(text)


@router.websocket("/api/v1/live")
async def live(websocket: WebSocket) -> None:
    """The live stream; see the module docstring."""
    await websocket.accept()
    since = websocket.query_params.get("since")
    try:
        since_ns = parse_rfc3339_ns(since) if since is not None else None
    except ValueError as error:
        await websocket.send_text(
            orjson.dumps({"type": "error", "detail": f"since: {error}"}).decode()
        )
        await websocket.close(POLICY_VIOLATION, "bad since")
        return
    hub: LiveHub = websocket.app.state.live
    subscriber = hub.subscribe()  # before the greeting: nothing published meanwhile is lost
    tasks: list[asyncio.Task[None]] = []
    try:
        await _greet(websocket, hub, since_ns)
        tasks = [
            asyncio.create_task(_send_all(websocket, subscriber)),
            asyncio.create_task(_until_disconnect(websocket)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client went away
    finally:
        hub.unsubscribe(subscriber)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(
                asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError
            ):
                await task
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await websocket.close()  # already closed when the client left first
