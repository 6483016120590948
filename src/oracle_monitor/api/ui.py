"""The dashboard: the built single-page app (``frontend/`` → ``api/static/``) served at ``/``.

Files under ``static/assets/`` are content-hashed by the build and cached for a year. Any
other GET that no route answers and that is not the API's (``/api``, ``/jaeger``,
``/metrics``) gets ``index.html``, so the app's own routes (``/traces/<id>``, ``/?at=…``)
work as deep links. The fallback is a 404 handler rather than a catch-all route, so routes
added after it are never shadowed. Without a build (a checkout where ``make ui`` has not
run) ``/`` says how to build it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles

STATIC_DIR: Final = Path(__file__).parent / "static"
#: Paths never answered with the dashboard (a miss there is a real 404).
NOT_UI_PREFIXES: Final = ("/api/", "/jaeger/", "/metrics")
_NO_BUILD: Final = """<!doctype html><meta charset="utf-8"><title>Oracle Monitor</title>
<body style="font-family:sans-serif;background:#070b14;color:#e2e8f0;padding:2rem">
<h1>Oracle Monitor</h1><p>The dashboard is not built in this installation: run
<code>make ui</code> in the repository (Node 20.19+). The API is at
<a style="color:#38bdf8" href="/api/docs">/api/docs</a>.</p></body>"""


def is_ui_path(path: str) -> bool:
    """Whether ``path`` is the dashboard's (its files and routes), not the API's."""
    return path not in ("/api", "/jaeger") and not path.startswith(NOT_UI_PREFIXES)


class _ImmutableFiles(StaticFiles):
    """Hashed build assets: cacheable forever."""

    def file_response(self, *args: object, **kwargs: object) -> Response:
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def mount_ui(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    """Serve the built dashboard at ``/``: its assets, and ``index.html`` for its routes."""
    index = static_dir / "index.html"
    assets = static_dir / "assets"
    if assets.is_dir():
        app.mount("/assets", _ImmutableFiles(directory=assets), name="ui-assets")

    async def not_found(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        path = request.url.path
        if error.status_code != 404 or request.method not in ("GET", "HEAD"):
            return await http_exception_handler(request, error)
        if not is_ui_path(path) or path.startswith("/assets/"):  # a missing file stays a 404
            return await http_exception_handler(request, error)
        if not index.is_file():
            return HTMLResponse(_NO_BUILD)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.add_exception_handler(HTTPException, not_found)
