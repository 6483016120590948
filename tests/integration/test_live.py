"""``WS /api/v1/live`` with a real WebSocket client (``websockets``) against the real server:
auth, hello, snapshots, collector events and alerts as they happen, ``since`` replay."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from oracle_monitor import __version__
from oracle_monitor.api import create_app
from oracle_monitor.store import open_store
from tests.integration.conftest import StartServer
from tests.integration.oracle_server import OracleServer
from tests.integration.test_alerts_api import rate_limited_calls

TOKEN = "live-s3cret"


def url(server: OracleServer, query: str = "") -> str:
    return f"ws://127.0.0.1:{server.api_port}/api/v1/live{query}"


def receive(ws: Connection, timeout_s: float = 5) -> dict[str, Any]:
    message: dict[str, Any] = orjson.loads(ws.recv(timeout=timeout_s))
    return message


def until(ws: Connection, kind: str, timeout_s: float = 20) -> dict[str, Any]:
    """The next message of type ``kind`` (others are skipped)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = receive(ws, max(0.1, deadline - time.monotonic()))
        if message["type"] == kind:
            return message
    raise TimeoutError(kind)


@pytest.mark.integration
def test_live_stream_end_to_end(start_server: StartServer) -> None:
    server = start_server(
        auth_token=TOKEN, snapshot_interval_seconds="0.2", llm_poll_seconds="0.2",
        llm_rate_limit_burst="2",
    )  # fmt: skip
    with pytest.raises(InvalidStatus) as refused:
        connect(url(server), open_timeout=5).close()
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus):
        connect(url(server, "?token=wrong"), open_timeout=5).close()

    with connect(url(server, f"?token={TOKEN}"), open_timeout=5) as ws:
        hello = receive(ws)
        assert hello["type"] == "hello" and hello["version"] == __version__
        first = until(ws, "snapshot")
        assert first["snapshot"]["timestamp"] == first["timestamp"]
        later = until(ws, "snapshot")
        assert later["timestamp_unix_nano"] > first["timestamp_unix_nano"]

        rate_limited_calls(server, 2, TOKEN)
        event = until(ws, "event")["event"]
        assert (event["source"], event["kind"]) == ("llm", "rate_limit_burst")
        alert = until(ws, "alert")["alert"]
        assert (alert["kind"], alert["entity"]) == ("rate_limit_burst", "model/openai/gpt-4o")
        snapshot = until(ws, "snapshot")  # the next snapshot lists it as active
        assert alert["id"] in [a["id"] for a in snapshot["snapshot"]["alerts"]]

    header = {"Authorization": f"Bearer {TOKEN}"}
    since = "2000-01-01T00:00:00Z"
    with connect(url(server, f"?since={since}"), additional_headers=header) as ws:
        assert receive(ws)["type"] == "hello"
        assert receive(ws)["type"] == "snapshot"  # the latest, at once
        replayed = receive(ws)
        assert replayed == {"type": "alert", "alert": alert}
    with connect(url(server, f"?since={alert['last_at']}"), additional_headers=header) as ws:
        types = [receive(ws)["type"], receive(ws)["type"]]
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            types.append(receive(ws)["type"])
        assert types[:2] == ["hello", "snapshot"] and "alert" not in types
    assert server.health()["live"]["clients"] == 0


def test_a_bad_since_gets_an_error_and_close_1008(tmp_path: Any) -> None:
    store = open_store(f"sqlite:///{tmp_path}/live.db")
    client = TestClient(create_app(store, dict))
    with client.websocket_connect("/api/v1/live?since=yesterday") as ws:
        message = ws.receive_json()
        assert message["type"] == "error" and "since" in message["detail"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1008
    with client.websocket_connect("/api/v1/live") as ws:  # an empty store: hello only
        assert ws.receive_json()["type"] == "hello"
    store.close()


@pytest.mark.integration
def test_shutdown_closes_live_clients_and_exits_cleanly(start_server: StartServer) -> None:
    server = start_server(snapshot_interval_seconds="0.2")
    with connect(url(server), open_timeout=5) as ws:
        assert receive(ws)["type"] == "hello"
        until(ws, "snapshot")
        started = time.monotonic()
        assert server.stop() == 0
        assert time.monotonic() - started < 15

        def drain() -> None:
            while True:
                ws.recv(timeout=5)

        with pytest.raises(ConnectionClosed) as closed:
            drain()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
