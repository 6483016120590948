"""Queries of the PostgreSQL store: the reader calls of the `Store` protocol, one function
each, given a connection from the pool (see `oracle_monitor.store.postgres`; the LLM calls'
are in `llm`, the search's in `search`, the timeline's in `timeline`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson
import psycopg

from oracle_monitor.model import InfraEvent, Severity, Span, SpanKind, StatusCode
from oracle_monitor.store import codec
from oracle_monitor.store.base import EventQuery, TraceQuery, TraceSummary
from oracle_monitor.store.postgres import search

Conn = psycopg.Connection[Any]

#: `Span` fields after the ids, resource, attributes, events and links, in select order.
_FIELDS: Final = (
    "kind", "status_code", "name", "start_time_ns", "end_time_ns", "status_message",
    "trace_state", "flags", "dropped_attributes_count", "dropped_events_count",
    "dropped_links_count", "scope_name", "scope_version", "service_name", "agent_name",
    "provider", "model", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_creation_tokens", "reasoning_tokens", "pod_name", "namespace", "task_id",
    "cost_usd", "rate_limited", "agent_from",
)  # fmt: skip
_SPAN_SELECT: Final = (
    "SELECT s.trace_id, s.span_id, s.parent_span_id,"
    " coalesce(r.attributes::text, r.attributes_text),"
    " coalesce(s.attributes::text, s.attributes_text), s.events, s.links, "
    + ", ".join(f"s.{c}" for c in _FIELDS)
    + " FROM spans AS s JOIN resources AS r ON r.id = s.resource_id"
)
#: The trace's own time range bounds its spans' start times, so only the partitions of those
#: days are searched (run-time partition pruning).
_TRACE_SPANS: Final = (
    _SPAN_SELECT + " WHERE s.trace_id = %(t)s"
    " AND s.start_time_ns >= (SELECT start_time_ns FROM traces WHERE trace_id = %(t)s)"
    " AND s.start_time_ns <= (SELECT end_time_ns FROM traces WHERE trace_id = %(t)s)"
    " ORDER BY s.start_time_ns, s.span_id"
)
_AGENT_SPANS: Final = (
    _SPAN_SELECT + " WHERE s.agent_name IS NOT NULL AND s.start_time_ns >= %s"
    " ORDER BY s.start_time_ns DESC, s.span_id DESC LIMIT %s"
)
_TRACE_COLUMNS: Final = (
    "trace_id, start_time_ns, end_time_ns, root_name, root_service, span_count,"
    " error_count, input_tokens, output_tokens, services, agents"
)
_EVENT_COLUMNS: Final = (
    "event_id, time_ns, source, kind, entity, severity, summary,"
    " coalesce(attributes::text, attributes_text)"
)
_SNAPSHOT_SERIES: Final = """
    SELECT s.timestamp_ns, s.snapshot::text FROM system_snapshots AS s
    JOIN (SELECT max(timestamp_ns) AS last FROM system_snapshots
          WHERE timestamp_ns >= %s AND timestamp_ns <= %s GROUP BY timestamp_ns / %s) AS b
        ON s.timestamp_ns = b.last
    ORDER BY s.timestamp_ns
"""


def _span(row: Sequence[Any]) -> Span:
    fields = dict(zip(_FIELDS, row[7:], strict=True))
    fields["kind"] = SpanKind(fields["kind"])
    fields["status_code"] = StatusCode(fields["status_code"])
    return Span(
        trace_id=row[0].hex(),
        span_id=row[1].hex(),
        parent_span_id=row[2].hex() if row[2] else "",
        resource=codec.decode_attributes(row[3]),
        attributes=codec.decode_attributes(row[4]),
        events=codec.decode_events(row[5]),
        links=codec.decode_links(row[6]),
        **fields,
    )


def get_trace(conn: Conn, trace_id: str) -> list[Span]:
    """All spans of the trace, by start time then span id; [] when unknown."""
    try:
        key = bytes.fromhex(trace_id)
    except ValueError:
        return []
    return [_span(row) for row in conn.execute(_TRACE_SPANS, {"t": key}).fetchall()]


def get_task(conn: Conn, task_id: str) -> list[Span]:
    """All spans of the traces in which a span carries ``task_id``."""
    sql = "SELECT DISTINCT trace_id FROM spans WHERE task_id = %s"
    traces = conn.execute(sql, (task_id,)).fetchall()
    spans = [span for (trace,) in traces for span in get_trace(conn, trace.hex())]
    return sorted(spans, key=lambda span: (span.start_time_ns, span.span_id))


def find_traces(conn: Conn, query: TraceQuery) -> list[TraceSummary]:
    """Summaries of matching traces, newest start first, at most ``query.limit``."""
    if query.limit <= 0:
        return []
    where = ["true"]
    params: list[Any] = []
    for column, name in (("services", query.service), ("agents", query.agent)):
        if name is not None:
            where.append(f"%s = ANY({column})")
            params.append(name)
    if query.status is not None:
        where.append("error_count > 0" if query.status == "error" else "error_count = 0")
    for bound, op in ((query.start_ns, ">="), (query.end_ns, "<=")):
        if bound is not None:
            where.append(f"start_time_ns {op} %s")
            params.append(bound)
    condition, condition_params = search.span_conditions(query)  # operation, tags, durations
    where.append(condition)
    params += condition_params
    sql = (
        f"SELECT {_TRACE_COLUMNS} FROM traces WHERE {' AND '.join(where)}"
        " ORDER BY start_time_ns DESC, trace_id DESC LIMIT %s"
    )
    return [
        TraceSummary(
            trace_id=r[0].hex(), start_time_ns=r[1], end_time_ns=r[2], root_name=r[3],
            root_service=r[4], span_count=r[5], error_count=r[6], input_tokens=r[7],
            output_tokens=r[8], services=tuple(r[9]), agents=tuple(r[10]),
        )
        for r in conn.execute(sql.encode(), [*params, query.limit]).fetchall()
    ]  # fmt: skip


def count_spans(conn: Conn) -> int:
    """How many spans are stored."""
    row = conn.execute("SELECT count(*) FROM spans").fetchone()
    return int(row[0]) if row else 0


def find_events(conn: Conn, query: EventQuery) -> list[InfraEvent]:
    """Events matching ``query``, newest first, at most ``query.limit``."""
    if query.limit <= 0:
        return []
    where = ["true"]
    params: list[Any] = []
    for column, value in (("source", query.source), ("kind", query.kind)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if query.entity is not None:
        if query.entity.endswith("*"):
            prefix = query.entity[:-1]
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("entity LIKE %s")
            params.append(escaped + "%")
        else:
            where.append("entity = %s")
            params.append(query.entity)
    for bound, op in ((query.start_ns, ">="), (query.end_ns, "<=")):
        if bound is not None:
            where.append(f"time_ns {op} %s")
            params.append(bound)
    sql = (
        f"SELECT {_EVENT_COLUMNS} FROM infra_events WHERE {' AND '.join(where)}"
        ' ORDER BY time_ns DESC, event_id COLLATE "C" LIMIT %s'
    )
    return [
        InfraEvent(
            event_id=r[0], time_ns=r[1], source=r[2], kind=r[3], entity=r[4],
            severity=Severity(r[5]), summary=r[6], attributes=codec.decode_attributes(r[7]),
        )
        for r in conn.execute(sql.encode(), [*params, query.limit]).fetchall()
    ]  # fmt: skip


def recent_agent_spans(conn: Conn, since_ns: int, limit: int) -> list[Span]:
    """Agents' spans started at or after ``since_ns``, newest first, at most ``limit``."""
    if limit <= 0:
        return []
    return [_span(row) for row in conn.execute(_AGENT_SPANS, (since_ns, limit)).fetchall()]


def latest_snapshot(conn: Conn) -> tuple[int, dict[str, Any]] | None:
    """The newest snapshot, or None."""
    row = conn.execute(
        "SELECT timestamp_ns, snapshot::text FROM system_snapshots"
        " ORDER BY timestamp_ns DESC LIMIT 1"
    ).fetchone()
    return None if row is None else (row[0], orjson.loads(row[1]))


def snapshot_at(conn: Conn, timestamp_ns: int) -> tuple[int, dict[str, Any]] | None:
    """The last snapshot at or before ``timestamp_ns``, or None."""
    row = conn.execute(
        "SELECT timestamp_ns, snapshot::text FROM system_snapshots WHERE timestamp_ns <= %s"
        " ORDER BY timestamp_ns DESC LIMIT 1",
        (timestamp_ns,),
    ).fetchone()
    return None if row is None else (row[0], orjson.loads(row[1]))


def snapshot_series(
    conn: Conn, start_ns: int, end_ns: int, step_ns: int
) -> list[tuple[int, dict[str, Any]]]:
    """The last snapshot of each ``step_ns`` bucket of [start, end], oldest first."""
    rows = snapshot_series_text(conn, start_ns, end_ns, step_ns)
    return [(ts, orjson.loads(text)) for ts, text in rows]


def snapshot_series_text(
    conn: Conn, start_ns: int, end_ns: int, step_ns: int
) -> list[tuple[int, str]]:
    """`snapshot_series`, each snapshot as JSON text."""
    rows = conn.execute(_SNAPSHOT_SERIES, (start_ns, end_ns, step_ns)).fetchall()
    return [(row[0], row[1]) for row in rows]
