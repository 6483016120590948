"""The PostgreSQL store's readers behind the Jaeger API: services, operations, dependencies,
and the SQL of `TraceQuery`'s span conditions (operation, tags, durations on one span).

Services and operations come from ``operations``, the distinct (service, name, kind) triples
the writer keeps (migration 4); dependencies join each span
to its parent within the traces that start in the window. The span conditions are one
``EXISTS`` over the candidate trace's spans (its primary key starts with ``trace_id``).
Tag values are compared as text, as `oracle_monitor.store.base.TraceQuery` says: strings as
they are, JSON's spelling for booleans and numbers. A tag key or value with a NUL character
matches nothing here (PostgreSQL text cannot hold one).
"""

from __future__ import annotations

from typing import Any, Final

import psycopg

from oracle_monitor.model import SpanKind, StatusCode
from oracle_monitor.store.base import Operation, ServiceDependency, TraceQuery

Conn = psycopg.Connection[Any]

_SERVICES: Final = "SELECT DISTINCT service_name FROM operations ORDER BY service_name"
_OPERATIONS: Final = (
    "SELECT DISTINCT name, kind FROM operations WHERE service_name = %s"
    " AND (%s::int IS NULL OR kind = %s::int) ORDER BY name, kind"
)
_DEPENDENCIES: Final = """
    SELECT p.service_name, c.service_name, count(*)
    FROM traces AS t
    JOIN spans AS c ON c.trace_id = t.trace_id
        AND c.start_time_ns >= t.start_time_ns AND c.start_time_ns <= t.end_time_ns
    JOIN spans AS p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
        AND p.start_time_ns >= t.start_time_ns AND p.start_time_ns <= t.end_time_ns
    WHERE t.start_time_ns >= %s AND t.start_time_ns <= %s AND p.service_name <> c.service_name
    GROUP BY p.service_name, c.service_name
    ORDER BY p.service_name, c.service_name
"""
_KINDS: Final = {kind.name.lower(): int(kind) for kind in SpanKind if kind != SpanKind.UNSPECIFIED}
_STATUSES: Final = {code.name: int(code) for code in StatusCode}


def services(conn: Conn) -> list[str]:
    """Every service name of a stored span, sorted."""
    return [row[0] for row in conn.execute(_SERVICES).fetchall()]


def operations(conn: Conn, service: str, kind: SpanKind | None) -> list[Operation]:
    """``service``'s (span name, kind) pairs, by name then kind."""
    value = None if kind is None else int(kind)
    rows = conn.execute(_OPERATIONS, (service, value, value)).fetchall()
    return [Operation(name, SpanKind(number)) for name, number in rows]


def service_dependencies(conn: Conn, start_ns: int, end_ns: int) -> list[ServiceDependency]:
    """Parent -> child service calls in the traces starting in [start, end]."""
    rows = conn.execute(_DEPENDENCIES, (start_ns, end_ns)).fetchall()
    return [ServiceDependency(parent, child, int(count)) for parent, child, count in rows]


def _as_text(value: str) -> str:
    """SQL for a jsonb value as the text tags compare; ``value`` (with its placeholder)
    appears once."""
    text = (
        "CASE jsonb_typeof(v) WHEN 'string' THEN v #>> '{}' WHEN 'null' THEN NULL ELSE v::text END"
    )
    return f"(SELECT {text} FROM (SELECT {value} AS v) AS x)"


def _attribute(alias: str) -> str:
    """SQL: attribute ``%s`` of ``alias`` (spans or resources) has the text ``%s``.

    Attributes kept as text hold an escaped NUL somewhere, which PostgreSQL cannot turn into
    text even to look at another key: the escape is swapped for U+FFFD before reading them.
    """
    document = (
        f"coalesce({alias}.attributes,"
        f" replace({alias}.attributes_text, '\\u0000', '\\ufffd')::jsonb)"
    )
    return f"{_as_text(f'{document} -> %s::text')} = %s::text"


def _derived(key: str, value: str) -> tuple[str, list[Any]] | None:
    if key == "error" and value in ("true", "false"):
        return ("s.status_code = 2" if value == "true" else "s.status_code <> 2"), []
    if key == "span.kind":
        return "s.kind = %s", [_KINDS.get(value, -1)]
    if key == "otel.status_code":
        return "s.status_code = %s", [_STATUSES.get(value, -1)]
    return None


def span_conditions(query: TraceQuery) -> tuple[str, list[Any]]:
    """An SQL condition on ``traces`` and its parameters; ``("true", [])`` when none."""
    if not query.has_span_conditions:
        return "true", []
    where = [
        "s.trace_id = traces.trace_id",
        "s.start_time_ns >= traces.start_time_ns AND s.start_time_ns <= traces.end_time_ns",
    ]
    params: list[Any] = []
    for condition, value in (
        ("s.service_name = %s", query.service),
        ("s.name = %s", query.operation),
        ("s.end_time_ns - s.start_time_ns >= %s", query.min_duration_ns),
        ("s.end_time_ns - s.start_time_ns <= %s", query.max_duration_ns),
    ):
        if value is not None:
            where.append(condition)
            params.append(value)
    for key, value in query.tags:
        if "\x00" in key or "\x00" in value:  # PostgreSQL text cannot hold one: no match
            where.append("false")
            continue
        terms = [_attribute("s"), _attribute("r")]
        tag_params: list[Any] = [key, value, key, value]
        derived = _derived(key, value)
        if derived is not None:
            terms.insert(0, derived[0])
            tag_params = [*derived[1], *tag_params]
        where.append("(" + " OR ".join(terms) + ")")
        params += tag_params
    sql = (
        "EXISTS (SELECT 1 FROM spans AS s JOIN resources AS r ON r.id = s.resource_id"
        f" WHERE {' AND '.join(where)})"
    )
    return sql, params
