"""The API's bearer-token gate, for HTTP requests and WebSockets alike.

Guarded: everything under ``/api/`` (REST and ``WS /api/v1/live``), ``/jaeger/`` (the
Jaeger-compatible API) and ``/metrics``. Open: ``/api/v1/health`` (probes), the OpenAPI
document and its page (they describe the routes, not the data), and the UI's static files
(the UI must load before it can ask for the token). A WebSocket may send the token as
``Authorization: Bearer`` or as ``?token=``, since browsers cannot set headers on one.

A refused HTTP request gets 401 with ``WWW-Authenticate: Bearer`` and a body that says only
that authentication is required; a refused WebSocket gets the same 401 when the server
supports the ASGI denial-response extension, else it is closed (policy violation) before
being accepted.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from oracle_monitor.auth import REFUSED_MESSAGE, BearerAuth

OPEN_PATHS = frozenset({"/api/v1/health", "/api/docs", "/api/openapi.json"})
GUARDED_PREFIXES = ("/api/", "/jaeger/")
GUARDED_PATHS = frozenset({"/metrics", "/jaeger"})
_BODY = orjson.dumps({"detail": REFUSED_MESSAGE})
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"www-authenticate", b"Bearer"),
    (b"content-length", str(len(_BODY)).encode()),
]
_POLICY_VIOLATION = 1008


def is_guarded(path: str) -> bool:
    """Whether ``path`` needs the API token."""
    if path in OPEN_PATHS:
        return False
    return path in GUARDED_PATHS or path.startswith(GUARDED_PREFIXES)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


class BearerTokenMiddleware:
    """Pure ASGI middleware (so it sees WebSockets too) that enforces one `BearerAuth`."""

    def __init__(self, app: ASGIApp, auth: BearerAuth) -> None:
        self._app = app
        self._auth = auth

    def _allowed(self, scope: Scope) -> bool:
        if self._auth.allows(_header(scope, b"authorization")):
            return True
        if scope["type"] == "websocket":
            query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
            return any(self._auth.allows_token(token) for token in query.get("token", ())[:1])
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not is_guarded(scope["path"]):
            await self._app(scope, receive, send)
            return
        if self._allowed(scope):
            await self._app(scope, receive, send)
            return
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 401, "headers": _HEADERS})
            await send({"type": "http.response.body", "body": _BODY})
            return
        await receive()  # websocket.connect
        if "websocket.http.response" in scope.get("extensions", {}):
            await send(
                {"type": "websocket.http.response.start", "status": 401, "headers": _HEADERS}
            )
            await send({"type": "websocket.http.response.body", "body": _BODY})
        else:
            await send({"type": "websocket.close", "code": _POLICY_VIOLATION})
