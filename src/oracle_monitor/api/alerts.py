"""``/api/v1/alerts``: stored alerts, deduplicated (see `oracle_monitor.aggregator.alerts`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, HTTPException, Query, Request

from oracle_monitor.aggregator.alerts import SEVERITY_RANK, alert_json
from oracle_monitor.api.contract.base import error_answers
from oracle_monitor.api.contract.snapshots import AlertList
from oracle_monitor.api.responses import OrjsonResponse
from oracle_monitor.api.traces import unix_ns
from oracle_monitor.store.base import AlertQuery, AlertReader

router = APIRouter(prefix="/api/v1", tags=["alerts"], responses=error_answers(400, 401))
MAX_ALERTS: Final = 1000
_SEVERITY = "critical, warning or info; several comma-separated"


def parse_severities(text: str | None) -> tuple[str, ...] | None:
    """``critical,warning`` as a tuple; ValueError naming an unknown severity."""
    if text is None:
        return None
    found = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",")))
    unknown = [s for s in found if s not in SEVERITY_RANK]
    if unknown or not found:
        raise ValueError(f"unknown severity {', '.join(unknown) or text!r}: use {_SEVERITY}")
    return found


@router.get("/alerts", response_class=OrjsonResponse, response_model=AlertList)
def alerts(
    request: Request,
    start: Annotated[
        datetime | None, Query(description="RFC 3339: last happened at or after")
    ] = None,
    end: Annotated[datetime | None, Query(description="RFC 3339: opened at or before")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ALERTS)] = 100,
    severity: Annotated[str | None, Query(max_length=64, description=_SEVERITY)] = None,
) -> OrjsonResponse:
    """Alerts overlapping [start, end], newest ``last_at`` first."""
    start_ns, end_ns = unix_ns(start), unix_ns(end)
    if start_ns is not None and end_ns is not None and start_ns > end_ns:
        raise HTTPException(400, "start must not be after end")
    try:
        severities = parse_severities(severity)
    except ValueError as error:
        raise HTTPException(400, f"severity: {error}") from None
    reader: AlertReader = request.app.state.reader
    found = reader.find_alerts(AlertQuery(start_ns, end_ns, severities, limit))
    return OrjsonResponse({"alerts": [alert_json(a) for a in found]})
