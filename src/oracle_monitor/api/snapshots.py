"""``/api/v1/snapshots`` (time travel over stored system snapshots) and ``/api/v1/agents``.

A snapshot is served as ``{"timestamp_unix_nano": <int>, "snapshot": <oracle_state>}``;
the snapshot's shape is ``oracle_state.schema.json``.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import Response

from oracle_monitor.aggregator.agent_tracker import AgentTracker
from oracle_monitor.api.contract.base import error_answers
from oracle_monitor.api.contract.snapshots import AgentsAnswer, SnapshotSeries, StoredSnapshot
from oracle_monitor.api.responses import OrjsonResponse
from oracle_monitor.api.traces import unix_ns
from oracle_monitor.store.base import Store

router = APIRouter(prefix="/api/v1", tags=["snapshots"], responses=error_answers(401))
SECOND_NS: Final = 1_000_000_000
MAX_POINTS: Final = 10_000  # buckets a series may span
DEFAULT_RANGE_NS: Final = 3600 * SECOND_NS  # a series without start: the hour before end
FRESH_NS: Final = 60 * SECOND_NS  # /agents serves the latest snapshot if at most this old


def _one(found: tuple[int, dict[str, Any]] | None, missing: str) -> OrjsonResponse:
    if found is None:
        raise HTTPException(404, missing)
    return OrjsonResponse({"timestamp_unix_nano": found[0], "snapshot": found[1]})


@router.get(
    "/snapshots/latest",
    response_class=OrjsonResponse,
    response_model=StoredSnapshot,
    responses=error_answers(404),
)
def latest(request: Request) -> OrjsonResponse:
    """The newest stored snapshot; 404 when none is stored yet."""
    reader: Store = request.app.state.reader
    return _one(reader.latest_snapshot(), "no snapshot stored yet")


_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})?"
)


def parse_rfc3339_ns(text: str) -> int:
    """Unix nanoseconds of an RFC 3339 time, keeping all nine fractional digits (a time
    without an offset is read as UTC). Raises ValueError for anything else."""
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an RFC 3339 time")
    whole, fraction, offset = match.groups()
    moment = datetime.fromisoformat(whole.replace("t", "T").replace(" ", "T"))
    if offset and offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        moment = moment.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))
    else:
        moment = moment.replace(tzinfo=UTC)
    seconds = int(moment.timestamp())
    return seconds * SECOND_NS + int((fraction or "0").ljust(9, "0"))


@router.get(
    "/snapshots/at",
    response_class=OrjsonResponse,
    response_model=StoredSnapshot,
    responses=error_answers(400, 404),
)
def at(
    request: Request,
    ts: Annotated[str, Query(min_length=1, max_length=64, description="RFC 3339")],
) -> OrjsonResponse:
    """The last snapshot taken at or before ``ts`` (to the nanosecond); 404 when none."""
    try:
        moment = parse_rfc3339_ns(ts)
    except ValueError as error:
        raise HTTPException(400, f"ts: {error}") from None
    reader: Store = request.app.state.reader
    return _one(reader.snapshot_at(moment), "no snapshot at or before that time")


@router.get(
    "/snapshots",
    response_class=OrjsonResponse,
    response_model=SnapshotSeries,
    responses=error_answers(400),
)
def series(
    request: Request,
    start: Annotated[datetime | None, Query(description="RFC 3339; default end - 1 h")] = None,
    end: Annotated[datetime | None, Query(description="RFC 3339; default now")] = None,
    step: Annotated[float, Query(gt=0, le=86400 * 366, description="seconds")] = 60.0,
) -> Response:
    """Snapshots in [start, end], oldest first: the last of each ``step``-second bucket."""
    end_ns = unix_ns(end)
    if end_ns is None:
        end_ns = time.time_ns()
    start_ns = unix_ns(start)
    if start_ns is None:
        start_ns = end_ns - DEFAULT_RANGE_NS
    if start_ns > end_ns:
        raise HTTPException(400, "start must not be after end")
    step_ns = max(1, round(step * SECOND_NS))
    if (end_ns - start_ns) // step_ns >= MAX_POINTS:
        raise HTTPException(400, f"the range spans more than {MAX_POINTS} steps; raise step")
    reader: Store = request.app.state.reader
    found = reader.snapshot_series_text(start_ns, end_ns, step_ns)
    # The stored JSON goes out as it is: decoding and encoding again 1,440 snapshots of a day
    # cost more than the query.
    points = ",".join(f'{{"timestamp_unix_nano":{ts},"snapshot":{text}}}' for ts, text in found)
    head = orjson.dumps({"step_seconds": step}).decode()[:-1]
    return Response(f'{head},"snapshots":[{points}]}}', media_type="application/json")


@router.get("/agents", response_class=OrjsonResponse, response_model=AgentsAnswer)
def agents(request: Request) -> OrjsonResponse:
    """Each agent's latest view: from the latest snapshot when it is at most a minute old,
    else computed from the stored spans of the last five minutes."""
    reader: Store = request.app.state.reader
    now = time.time_ns()
    found = reader.latest_snapshot()
    if found is not None and found[0] >= now - FRESH_NS:
        return OrjsonResponse(
            {"source": "snapshot", "timestamp_unix_nano": found[0], "agents": found[1]["agents"]}
        )
    views = AgentTracker(reader).views(now)
    return OrjsonResponse({"source": "spans", "timestamp_unix_nano": now, "agents": views})
