"""The SQL of `TraceQuery`'s span conditions for the SQLite store (operation, tags, durations).

All conditions go into one ``EXISTS`` over the spans of the candidate trace, so they must hold
on one span (see `oracle_monitor.store.base.TraceQuery`). The store walks ``traces`` newest
first by its start-time index and probes each trace's spans by ``(trace_key, span_id)``, so
a search stops as soon as it has ``limit`` traces.

Tag values are compared as text: ``json_each`` gives each stored attribute's JSON type, and
booleans are spelled ``true``/``false``, numbers by SQLite's text conversion (``500``,
``0.25``), strings as they are.
"""

from __future__ import annotations

from typing import Any, Final

from oracle_monitor.model import SpanKind, StatusCode
from oracle_monitor.store.base import TraceQuery

__all__ = ["span_conditions"]

_AS_TEXT: Final = (
    "CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(j.value AS TEXT) END"
)
_ATTRIBUTE: Final = (
    f"EXISTS (SELECT 1 FROM json_each(s.attributes) AS j WHERE j.key = ? AND {_AS_TEXT} = ?)"
    " OR EXISTS (SELECT 1 FROM json_each(r.attributes) AS j"
    f" WHERE j.key = ? AND {_AS_TEXT} = ?)"
)
_KINDS: Final = {kind.name.lower(): int(kind) for kind in SpanKind if kind != SpanKind.UNSPECIFIED}
_STATUSES: Final = {code.name: int(code) for code in StatusCode}


def _derived_tag(key: str, value: str) -> tuple[str, list[Any]] | None:
    """The condition of a tag Jaeger derives from the span's status or kind, if ``key`` is one."""
    if key == "error" and value in ("true", "false"):
        return ("s.status_code = ?" if value == "true" else "s.status_code <> ?"), [2]
    if key == "span.kind":
        return "s.kind = ?", [_KINDS.get(value, -1)]
    if key == "otel.status_code":
        return "s.status_code = ?", [_STATUSES.get(value, -1)]
    return None


def span_conditions(query: TraceQuery) -> tuple[str, list[Any]]:
    """An SQL condition on ``traces`` (and its parameters) for the span conditions of
    ``query``; ``("1", [])`` when it has none."""
    if not query.has_span_conditions:
        return "1", []
    where: list[str] = ["s.trace_key = traces.trace_key"]
    params: list[Any] = []
    if query.service is not None:
        where.append("s.service_name = ?")
        params.append(query.service)
    if query.operation is not None:
        where.append("s.name = ?")
        params.append(query.operation)
    if query.min_duration_ns is not None:
        where.append("s.end_time_ns - s.start_time_ns >= ?")
        params.append(query.min_duration_ns)
    if query.max_duration_ns is not None:
        where.append("s.end_time_ns - s.start_time_ns <= ?")
        params.append(query.max_duration_ns)
    for key, value in query.tags:
        condition = f"({_ATTRIBUTE})"
        tag_params: list[Any] = [key, value, key, value]
        derived = _derived_tag(key, value)
        if derived is not None:
            condition = f"({derived[0]} OR {_ATTRIBUTE})"
            tag_params = [*derived[1], *tag_params]
        where.append(condition)
        params += tag_params
    sql = (
        "EXISTS (SELECT 1 FROM spans AS s JOIN resources AS r ON r.id = s.resource_id"
        f" WHERE {' AND '.join(where)})"
    )
    return sql, params
