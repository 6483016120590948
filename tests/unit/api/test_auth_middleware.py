"""The API's token gate on a small ASGI app: guarded and open paths, HTTP and WebSocket."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket

from oracle_monitor.api.auth_middleware import BearerTokenMiddleware, is_guarded
from oracle_monitor.auth import BearerAuth

TOKEN = "s3cret-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def _ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def _live(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


@pytest.fixture
def client() -> TestClient:
    paths = ["/api/v1/health", "/api/v1/traces", "/jaeger/api/services", "/metrics", "/"]
    app = Starlette(
        routes=[Route(path, _ok) for path in paths] + [WebSocketRoute("/api/v1/live", _live)]
    )
    return TestClient(BearerTokenMiddleware(app, BearerAuth(TOKEN)))


@pytest.mark.parametrize(
    ("path", "guarded"),
    [
        ("/api/v1/traces", True),
        ("/api/v1/live", True),
        ("/jaeger/api/services", True),
        ("/jaeger", True),
        ("/metrics", True),
        ("/api/v1/health", False),
        ("/api/openapi.json", False),
        ("/api/docs", False),
        ("/", False),
        ("/traces/abc", False),  # the UI's routes: static files
        ("/assets/index.js", False),
    ],
)
def test_which_paths_are_guarded(path: str, guarded: bool) -> None:
    assert is_guarded(path) is guarded


@pytest.mark.parametrize("path", ["/api/v1/traces", "/jaeger/api/services", "/metrics"])
def test_guarded_http(client: TestClient, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = client.get(path, headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.json() == {"detail": "authentication required"}  # same for every case
    assert client.get(path, headers=BEARER).text == "ok"


@pytest.mark.parametrize("path", ["/api/v1/health", "/"])
def test_open_http(client: TestClient, path: str) -> None:
    assert client.get(path).text == "ok"


def test_websocket_with_header_or_query_token(client: TestClient) -> None:
    with client.websocket_connect("/api/v1/live", headers=BEARER) as socket:
        assert socket.receive_text() == "hello"
    with client.websocket_connect(f"/api/v1/live?token={TOKEN}") as socket:
        assert socket.receive_text() == "hello"


@pytest.mark.parametrize("query", ["", "?token=wrong", "?token="])
def test_websocket_refused_with_401(client: TestClient, query: str) -> None:
    with (
        pytest.raises(WebSocketDenialResponse) as denied,
        client.websocket_connect(f"/api/v1/live{query}"),
    ):
        pass
    assert denied.value.status_code == 401
