"""``/jaeger/api/…``: Jaeger's query API, so Grafana's Jaeger data source and Jaeger UI work.

Point a client at ``http://HOST:8000/jaeger``. Routes and bodies follow Jaeger's query
service: every answer is the envelope ``{data, total, limit, offset, errors}``; errors are
that envelope with ``data: null`` and ``errors: [{code, msg}]`` (400 for a bad parameter,
404 ``trace not found``). Traces are in Jaeger's JSON model (`jaeger_model`), with the
infrastructure events that correlate with each span added as its logs.

Search (``/traces``) needs ``service``, ``tags`` or ``traceID`` parameters (Jaeger insists on
``service``; tags alone let a dashboard link find an agent's traces in every service).
``start``/``end`` (unix µs) default to the last two days, ``limit`` to 100; all of
``operation``, ``tags``, ``minDuration`` and ``maxDuration`` must hold on one span.
``/dependencies`` counts the calls between services in the traces that started within
``lookback`` ms (default 24 h) before ``endTs`` (unix ms, default now).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import Response

from oracle_monitor.aggregator.correlate import ChainConfig, correlate_stored
from oracle_monitor.api.contract import jaeger as contract
from oracle_monitor.api.contract.base import error_answers
from oracle_monitor.api.jaeger_model import kind_name, trace_json
from oracle_monitor.api.jaeger_params import (
    ParamError,
    parse_duration,
    parse_int,
    parse_tags,
    parse_trace_id,
)
from oracle_monitor.api.responses import OrjsonResponse
from oracle_monitor.model import Span, SpanKind
from oracle_monitor.store.base import Store, TraceQuery

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1500
TRACE_LOOKBACK_US: Final = 2 * 24 * 3600 * 1_000_000
DEPENDENCY_LOOKBACK_MS: Final = 24 * 3600 * 1000
_KINDS: Final = {kind_name(kind): kind for kind in SpanKind}


def envelope(
    data: Any, total: int = 0, errors: list[dict[str, Any]] | None = None
) -> OrjsonResponse:
    """Jaeger's ``structuredResponse``."""
    body = {"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors}
    return OrjsonResponse(body)


def error_response(status: int, message: str) -> OrjsonResponse:
    """Jaeger's error body: the envelope with no data and one ``{code, msg}``."""
    body = {"data": None, "total": 0, "limit": 0, "offset": 0,
            "errors": [{"code": status, "msg": message}]}  # fmt: skip
    return OrjsonResponse(body, status_code=status)


class _JaegerRoute(APIRoute):
    """Answers bad parameters with Jaeger's 400 body instead of FastAPI's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ParamError as error:
                return error_response(400, str(error))
            except RequestValidationError as error:
                return error_response(400, "; ".join(str(e.get("msg")) for e in error.errors()))

        return handle


router = APIRouter(
    prefix="/jaeger/api",
    tags=["jaeger"],
    route_class=_JaegerRoute,
    responses=error_answers(401),
)
_REFUSED = error_answers(400, model=contract.JaegerErrorAnswer)


def _store(request: Request) -> Store:
    store: Store = request.app.state.reader
    return store


def _one(request: Request, name: str) -> str:
    return request.query_params.get(name, "")


def _with_logs(
    store: Store, spans: Sequence[Span], now_ns: int, config: ChainConfig
) -> dict[str, Any]:
    """The trace's JSON, with the infrastructure events that correlate as logs."""
    found = correlate_stored(store, spans, now_ns=now_ns, config=config)
    if not found.events:
        return trace_json(spans)
    return trace_json(spans, found.by_span, found.events)


@router.get("/services", response_model=contract.JaegerServices)
def services(request: Request) -> OrjsonResponse:
    """Every service that sent a span."""
    names = _store(request).services()
    return envelope(names, len(names))


@router.get("/services/{service:path}/operations", response_model=contract.JaegerOperationNames)
def service_operations(request: Request, service: str) -> OrjsonResponse:
    """The span names of one service (Jaeger's legacy route: names only)."""
    names = sorted({operation.name for operation in _store(request).operations(service)})
    return envelope(names, len(names))


@router.get(
    "/operations",
    response_model=contract.JaegerOperations,
    responses=_REFUSED,
    openapi_extra=contract.OPERATIONS_PARAMETERS,
)
def operations(request: Request) -> OrjsonResponse:
    """``[{name, spanKind}]`` of ``service``, of one ``spanKind`` when given."""
    service, kind_text = _one(request, "service"), _one(request, "spanKind")
    if not service:
        raise ParamError("parameter 'service' is required")
    if kind_text and kind_text not in _KINDS:
        known = ", ".join(sorted(k for k in _KINDS if k))
        raise ParamError(f"unsupported span kind: {kind_text[:64]!r} (one of {known})")
    found = _store(request).operations(service, _KINDS[kind_text] if kind_text else None)
    data = [{"name": op.name, "spanKind": kind_name(op.kind)} for op in found]
    return envelope(data, len(data))


def _search_query(request: Request, now_us: int) -> TraceQuery:
    params = request.query_params
    service = _one(request, "service")
    tags = parse_tags(params.getlist("tag"), params.getlist("tags"))
    if not service and not tags:  # Jaeger always wants a service; tags alone suffice here
        raise ParamError("parameter 'service' is required")
    end_us = parse_int("end", params["end"]) if params.get("end") else now_us
    start_us = (
        parse_int("start", params["start"]) if params.get("start") else end_us - TRACE_LOOKBACK_US
    )
    limit = parse_int("limit", params["limit"], maximum=MAX_LIMIT) if params.get("limit") else 0
    durations = {
        name: parse_duration(name, params[name]) if params.get(name) else None
        for name in ("minDuration", "maxDuration")
    }
    low, high = durations["minDuration"], durations["maxDuration"]
    if low and high and high < low:
        raise ParamError("'maxDuration' should be greater than 'minDuration'")
    return TraceQuery(
        service=service or None,
        operation=_one(request, "operation") or None,
        tags=tags,
        min_duration_ns=low or None,
        max_duration_ns=high or None,
        start_ns=start_us * 1000,
        end_ns=end_us * 1000,
        limit=limit or DEFAULT_LIMIT,
    )


@router.get(
    "/traces",
    response_model=contract.JaegerTraces,
    responses=_REFUSED,
    openapi_extra=contract.TRACES_PARAMETERS,
)
def find_traces(request: Request) -> OrjsonResponse:
    """Traces of ``service`` matching the filters, newest first; or those named by ``traceID``."""
    store, now_ns = _store(request), time.time_ns()
    ids = [parse_trace_id(text) for text in request.query_params.getlist("traceID")]
    errors: list[dict[str, Any]] = []
    data = []
    if ids:
        for trace_id in ids:
            spans = store.get_trace(trace_id)
            if spans:
                data.append(_with_logs(store, spans, now_ns, request.app.state.chain_config))
            else:
                errors.append({"msg": "trace not found", "traceID": trace_id})
        return envelope(data, errors=errors or None)
    for summary in store.find_traces(_search_query(request, now_ns // 1000)):
        spans = store.get_trace(summary.trace_id)
        if spans:
            data.append(_with_logs(store, spans, now_ns, request.app.state.chain_config))
    return envelope(data)


@router.get(
    "/traces/{trace_id}",
    response_model=contract.JaegerTraces,
    responses={**_REFUSED, **error_answers(404, model=contract.JaegerErrorAnswer)},
)
def get_trace(request: Request, trace_id: str) -> OrjsonResponse:
    """One trace (a list of one), or Jaeger's 404 ``trace not found``."""
    store = _store(request)
    spans = store.get_trace(parse_trace_id(trace_id))
    if not spans:
        return error_response(404, "trace not found")
    return envelope([_with_logs(store, spans, time.time_ns(), request.app.state.chain_config)])


@router.get(
    "/dependencies",
    response_model=contract.JaegerDependencies,
    responses=_REFUSED,
    openapi_extra=contract.DEPENDENCIES_PARAMETERS,
)
def dependencies(request: Request) -> OrjsonResponse:
    """``[{parent, child, callCount}]`` between services over ``lookback`` before ``endTs``."""
    params = request.query_params
    end_ms = parse_int("endTs", params["endTs"]) if params.get("endTs") else time.time_ns() // 10**6
    lookback = params.get("lookback")
    lookback_ms = parse_int("lookback", lookback) if lookback else DEPENDENCY_LOOKBACK_MS
    links = _store(request).service_dependencies((end_ms - lookback_ms) * 10**6, end_ms * 10**6)
    data = [{"parent": d.parent, "child": d.child, "callCount": d.call_count} for d in links]
    service = params.get("service")
    if service:  # Jaeger's filter: the links that touch this service
        data = [d for d in data if service in (d["parent"], d["child"])]
    return envelope(data)
