"""The PostgreSQL store's alerts and snapshot retention (`PostgresStore` delegates here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import psycopg

from oracle_monitor.model import Alert
from oracle_monitor.store.base import AgentActivity, AlertQuery
from oracle_monitor.store.codec import activity_row

Conn = psycopg.Connection[Any]
COLUMNS: Final = (
    "alert_id, kind, severity, first_at_ns, last_at_ns, entity, summary, count, trace_id, task_id"
)
#: A repeat keeps the widest times, the highest count, the worse severity, the latest summary.
_UPSERT: Final = f"""
    INSERT INTO alerts (tenant_id, {COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (alert_id) DO UPDATE SET
        first_at_ns = least(alerts.first_at_ns, excluded.first_at_ns),
        summary = CASE WHEN excluded.last_at_ns >= alerts.last_at_ns
                       THEN excluded.summary ELSE alerts.summary END,
        last_at_ns = greatest(alerts.last_at_ns, excluded.last_at_ns),
        count = greatest(alerts.count, excluded.count),
        severity = CASE WHEN excluded.severity = 'critical' OR alerts.severity = 'info'
                        THEN excluded.severity ELSE alerts.severity END,
        trace_id = coalesce(alerts.trace_id, excluded.trace_id),
        task_id = coalesce(alerts.task_id, excluded.task_id)
"""
_THIN: Final = """
    DELETE FROM system_snapshots WHERE timestamp_ns >= %(start)s AND timestamp_ns < %(end)s
    AND timestamp_ns NOT IN (
        SELECT max(timestamp_ns) FROM system_snapshots
        WHERE timestamp_ns >= %(start)s AND timestamp_ns < %(end)s
        GROUP BY timestamp_ns / %(step)s)
"""


def write_alerts(conn: Conn, tenant: str, alerts: Sequence[Alert]) -> None:
    """Insert or update ``alerts`` by id, in one transaction."""
    rows = [
        (tenant, a.alert_id, a.kind, a.severity, a.first_at_ns, a.last_at_ns, a.entity,
         a.summary, a.count, a.trace_id, a.task_id)
        for a in alerts
    ]  # fmt: skip
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(_UPSERT, rows)


def find_alerts(conn: Conn, query: AlertQuery) -> list[Alert]:
    """Alerts overlapping [start, end] of the given severities, newest last_at first."""
    if query.limit <= 0:
        return []
    params: list[Any] = [
        -(2**63) if query.start_ns is None else query.start_ns,
        2**63 - 1 if query.end_ns is None else query.end_ns,
    ]
    where = "last_at_ns >= %s AND first_at_ns <= %s"
    if query.severities is not None:
        where += " AND severity = ANY(%s)"
        params.append(list(query.severities))
    sql = f"SELECT {COLUMNS} FROM alerts WHERE {where} ORDER BY last_at_ns DESC, alert_id LIMIT %s"
    rows = conn.execute(sql, [*params, query.limit]).fetchall()
    return [
        Alert(alert_id=r[0], kind=r[1], severity=r[2], first_at_ns=r[3], last_at_ns=r[4],
              entity=r[5], summary=r[6], count=r[7], trace_id=r[8], task_id=r[9])
        for r in rows
    ]  # fmt: skip


def delete(conn: Conn, sql: str, params: dict[str, Any] | tuple[Any, ...]) -> int:
    """Run one DELETE in its own transaction; the rows deleted."""
    with conn.transaction():
        return max(conn.execute(sql, params).rowcount, 0)


def thin_snapshots(conn: Conn, start_ns: int, end_ns: int, step_ns: int) -> int:
    """Keep only the last snapshot of each ``step_ns`` bucket of [start, end)."""
    if step_ns <= 0:
        raise ValueError("step_ns must be positive")
    return delete(conn, _THIN, {"start": start_ns, "end": end_ns, "step": step_ns})


#: `AgentActivity` columns of a ``spans`` row (`codec.activity_row` reads them).
ACTIVITY_COLUMNS: Final = """
    agent_name, encode(span_id, 'hex'), start_time_ns, end_time_ns, status_code = 2,
    task_id, pod_name, input_tokens, output_tokens, cost_usd,
    attributes->>'gen_ai.operation.name', attributes->>'gen_ai.agent.id',
    attributes->>'oracle.agent.reasoning',
    CASE WHEN jsonb_typeof(attributes->'oracle.agent.tools_planned') = 'array'
         THEN (attributes->'oracle.agent.tools_planned')::text END,
    agent_from IS NOT NULL, encode(trace_id, 'hex')
"""
_AGENT_ACTIVITY: Final = f"""
    SELECT {ACTIVITY_COLUMNS}
    FROM spans WHERE agent_name IS NOT NULL AND start_time_ns >= %s
    ORDER BY start_time_ns DESC, span_id DESC LIMIT %s
"""


def recent_agent_activity(conn: Conn, since_ns: int, limit: int) -> list[AgentActivity]:
    """Agents' spans since ``since_ns`` as lean rows, newest first (attributes kept as text
    because they hold a NUL character are not read: those rows have no attributes)."""
    if limit <= 0:
        return []
    return [activity_row(row) for row in conn.execute(_AGENT_ACTIVITY, (since_ns, limit))]
