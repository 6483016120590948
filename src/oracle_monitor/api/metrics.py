"""``GET /metrics``: Prometheus' text format, read from the live state at each scrape
(`oracle_monitor.api.prometheus` says what is in it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.responses import Response

from oracle_monitor.api.prometheus import OracleMetrics
from oracle_monitor.collectors.base import Collector
from oracle_monitor.store.base import Store

router = APIRouter(tags=["metrics"])


def registry(
    store: Store, status: Callable[[], dict[str, Any]], collectors: Sequence[Collector]
) -> CollectorRegistry:
    """A registry of this server's metrics only (not the process-global default one)."""
    found = CollectorRegistry(auto_describe=False)
    found.register(OracleMetrics(store, status, collectors))
    return found


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Every metric family, in Prometheus' text exposition format."""
    body = generate_latest(request.app.state.metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
