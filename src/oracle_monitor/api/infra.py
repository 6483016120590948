"""``/api/v1/infra`` (collectors' current state) and ``/api/v1/events`` (what they saw)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from oracle_monitor.api.contract.base import error_answers
from oracle_monitor.api.contract.infra import InfraAnswer
from oracle_monitor.api.contract.traces import EventList
from oracle_monitor.api.responses import OrjsonResponse
from oracle_monitor.api.serialize import event_json
from oracle_monitor.api.traces import unix_ns
from oracle_monitor.collectors.base import Collector
from oracle_monitor.store.base import EventQuery, EventReader

__all__ = ["event_json", "router"]

router = APIRouter(prefix="/api/v1", tags=["infrastructure"], responses=error_answers(401))
MAX_EVENTS = 1000


@router.get("/infra", response_class=OrjsonResponse, response_model=InfraAnswer)
def infra(request: Request) -> OrjsonResponse:
    """Each running collector's health and current state."""
    collectors: list[Collector] = request.app.state.collectors
    return OrjsonResponse(
        {
            "collectors": {
                collector.name: {
                    "health": collector.health().as_json(),
                    "state": collector.state(),
                }
                for collector in collectors
            }
        }
    )


@router.get(
    "/events",
    response_class=OrjsonResponse,
    response_model=EventList,
    responses=error_answers(400),
)
def events(
    request: Request,
    source: Annotated[str | None, Query(pattern="^(k8s|kafka|llm)$")] = None,
    kind: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    entity: Annotated[
        str | None, Query(min_length=1, max_length=512, description="exact, or prefix*")
    ] = None,
    start: Annotated[datetime | None, Query(description="RFC 3339")] = None,
    end: Annotated[datetime | None, Query(description="RFC 3339")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 100,
) -> OrjsonResponse:
    """Stored infrastructure events, newest first."""
    start_ns, end_ns = unix_ns(start), unix_ns(end)
    if start_ns is not None and end_ns is not None and start_ns > end_ns:
        raise HTTPException(400, "start must not be after end")
    reader: EventReader = request.app.state.reader
    query = EventQuery(source, kind, entity, start_ns, end_ns, limit)
    return OrjsonResponse({"events": [event_json(e) for e in reader.find_events(query)]})
