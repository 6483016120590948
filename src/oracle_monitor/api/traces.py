"""``/api/v1/traces``: search traces and fetch one trace's spans.

A trace comes with the infrastructure events that correlate with its spans
(`oracle_monitor.aggregator.correlate`: its pods' OOM kills and evictions, lag on its topics,
rate-limit bursts of its models), each with the spans it touches and through which key.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request

from oracle_monitor.aggregator.correlate import ChainConfig, EvidenceReader, correlate_stored
from oracle_monitor.api.contract.base import error_answers
from oracle_monitor.api.contract.traces import TraceDetail, TraceList
from oracle_monitor.api.responses import OrjsonResponse
from oracle_monitor.api.serialize import event_json, span_json, summary_json
from oracle_monitor.model import Span
from oracle_monitor.store.base import SpanReader, TraceQuery

router = APIRouter(prefix="/api/v1", tags=["traces"], responses=error_answers(400, 401))

TRACE_ID_PATTERN = re.compile(r"^[0-9a-fA-F]{32}$")
MAX_LIMIT = 1000
_START = "RFC 3339: traces that start at or after this moment"
_END = "RFC 3339: traces that start at or before this moment"


def _reader(request: Request) -> SpanReader:
    reader: SpanReader = request.app.state.reader
    return reader


def unix_ns(moment: datetime | None) -> int | None:
    """Unix nanoseconds of an RFC 3339 query parameter (``None`` stays ``None``)."""
    if moment is None:
        return None
    if moment.tzinfo is None:  # RFC 3339 requires an offset; read a bare time as UTC
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


@router.get("/traces", response_class=OrjsonResponse, response_model=TraceList)
def find_traces(
    request: Request,
    service: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    agent: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    status: Literal["ok", "error"] | None = None,
    start: Annotated[
        datetime | None, Query(description="RFC 3339; traces starting at or after")
    ] = None,
    end: Annotated[
        datetime | None, Query(description="RFC 3339; traces starting at or before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
) -> OrjsonResponse:
    """Trace summaries matching the filters, newest first."""
    start_ns, end_ns = unix_ns(start), unix_ns(end)
    if start_ns is not None and end_ns is not None and start_ns > end_ns:
        raise HTTPException(400, "start must not be after end")
    query = TraceQuery(
        service=service, agent=agent, status=status, start_ns=start_ns, end_ns=end_ns, limit=limit
    )
    summaries = _reader(request).find_traces(query)
    return OrjsonResponse({"traces": [summary_json(s) for s in summaries], "limit": limit})


@router.get(
    "/traces/{trace_id}",
    response_class=OrjsonResponse,
    response_model=TraceDetail,
    responses=error_answers(404),
)
def get_trace(
    request: Request,
    trace_id: Annotated[str, Path(description="32 hex digits")],
) -> OrjsonResponse:
    """All spans of one trace, flat, each with its parent id."""
    if not TRACE_ID_PATTERN.match(trace_id):
        raise HTTPException(400, f"invalid trace id {trace_id[:64]!r}: expected 32 hex digits")
    trace_id = trace_id.lower()
    spans = _reader(request).get_trace(trace_id)
    if not spans:
        raise HTTPException(404, f"trace {trace_id} not found")
    config: ChainConfig = request.app.state.chain_config
    events = correlated_events(request.app.state.reader, spans, time.time_ns(), config)
    return OrjsonResponse(
        {"trace_id": trace_id, "spans": [span_json(span) for span in spans], "events": events}
    )


def correlated_events(
    store: EvidenceReader, spans: list[Span], now_ns: int, config: ChainConfig
) -> list[dict[str, Any]]:
    """The stored events that correlate with ``spans``, oldest first, each with
    ``span_ids`` (the spans it touches) and ``via`` (``pod``, ``kafka``, ``llm``)."""
    found = correlate_stored(store, spans, now_ns=now_ns, config=config)
    result = []
    for event in sorted(found.events.values(), key=lambda e: (e.time_ns, e.event_id)):
        matches = found.by_event[event.event_id]
        result.append(
            {
                **event_json(event),
                "span_ids": sorted({m.span_id for m in matches}),
                "via": sorted({m.via for m in matches}),
            }
        )
    return result
