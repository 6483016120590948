"""The FastAPI application: REST API under ``/api/v1``, Jaeger's query API under ``/jaeger/api``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from oracle_monitor import __version__
from oracle_monitor.aggregator.correlate import ChainConfig
from oracle_monitor.aggregator.live import LiveHub
from oracle_monitor.api import (
    alerts,
    causal,
    costs,
    infra,
    jaeger,
    live,
    metrics,
    snapshots,
    traces,
)
from oracle_monitor.api.auth_middleware import BearerTokenMiddleware
from oracle_monitor.api.contract.health import HealthAnswer
from oracle_monitor.api.openapi import OracleApi
from oracle_monitor.api.responses import OrjsonResponse
from oracle_monitor.api.ui import mount_ui
from oracle_monitor.auth import BearerAuth
from oracle_monitor.collectors.base import Collector
from oracle_monitor.store.base import Store

StatusSource = Callable[[], dict[str, Any]]


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "query")
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _bad_request(request: Request, error: Exception) -> OrjsonResponse:
    assert isinstance(error, RequestValidationError)
    return OrjsonResponse({"detail": _validation_message(error)}, status_code=400)


def create_app(
    reader: Store,
    status: StatusSource,
    auth: BearerAuth | None = None,
    collectors: Sequence[Collector] = (),
    live_hub: LiveHub | None = None,
) -> FastAPI:
    """The API over ``reader``; ``status`` supplies the receiver's counters for health;
    ``live_hub`` feeds ``WS /api/v1/live`` (default: a hub nobody publishes to).

    With an enabled ``auth``, the API, Jaeger API, ``/metrics`` and WebSockets need the bearer
    token (`oracle_monitor.api.auth_middleware` says what stays open).
    """
    app = OracleApi(
        title="Oracle Monitor",
        version=__version__,
        default_response_class=OrjsonResponse,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.reader = reader
    app.state.chain_config = ChainConfig()  # the caller sets the configured one
    app.state.collectors = list(collectors)
    app.state.live = live_hub if live_hub is not None else LiveHub()
    app.add_exception_handler(RequestValidationError, _bad_request)
    if auth is not None and auth.enabled:
        app.add_middleware(BearerTokenMiddleware, auth=auth)

    @app.get("/api/v1/health", tags=["health"], response_model=HealthAnswer)
    def health() -> OrjsonResponse:
        """Liveness plus the receiver's counters."""
        return OrjsonResponse({"status": "ok", "version": __version__, **status()})

    app.include_router(traces.router)
    app.include_router(costs.router)
    app.include_router(infra.router)
    app.include_router(causal.router)
    app.include_router(snapshots.router)
    app.include_router(jaeger.router)
    app.include_router(alerts.router)
    app.include_router(live.router)
    app.state.metrics = metrics.registry(reader, status, app.state.collectors)
    app.include_router(metrics.router)
    mount_ui(app)  # the dashboard at /, and its routes' deep links
    return app
