"""Daily partitions of ``spans``: created before a write needs them, dropped by retention.

A partition holds the spans starting in one UTC day, ``[day, day + 1)`` in unix nanoseconds,
and is named ``spans_pYYYYMMDD``. Retention drops the partitions whose whole day lies before
the window, which costs no row deletes, no vacuum and no index bloat. ``traces`` is one row
per trace rather than per span and is not partitioned: retention deletes its old rows, and
those of the LLM calls' sums per second (``llm_seconds``, ``llm_problem_calls``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["DAY_NS", "drop_before", "ensure_partitions", "partition_name", "span_partitions"]

DAY_NS = 86_400 * 10**9
_NAME = re.compile(r"^spans_p(\d{8})$")
#: pg_advisory_xact_lock key of partition maintenance ("oracle-p").
_LOCK_KEY = 0x6F7261636C652D70


def partition_name(day: int) -> str:
    """The partition of the day ``day`` (days since the unix epoch)."""
    return "spans_p" + (dt.date(1970, 1, 1) + dt.timedelta(days=day)).strftime("%Y%m%d")


def _day_of(name: str) -> int | None:
    match = _NAME.match(name)
    if match is None:
        return None
    date = dt.datetime.strptime(match[1], "%Y%m%d").date()
    return (date - dt.date(1970, 1, 1)).days


def span_partitions(conn: psycopg.Connection[Any]) -> dict[int, str]:
    """The existing partitions of ``spans`` in the current schema, by day."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = to_regclass('spans')"
    ).fetchall()
    found = {}
    for (name,) in rows:
        day = _day_of(name)
        if day is not None:
            found[day] = name
    return found


def ensure_partitions(conn: psycopg.Connection[Any], days: Iterable[int]) -> None:
    """Create the partitions of ``days`` that are missing, in one committed transaction.

    Several processes may call it at once: an advisory lock makes them take turns.
    """
    wanted = sorted(set(days))
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        existing = span_partitions(conn)
        for day in wanted:
            if day not in existing:
                name = sql.Identifier(partition_name(day))
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE {} PARTITION OF spans FOR VALUES FROM ({}) TO ({})"
                    ).format(name, sql.Literal(day * DAY_NS), sql.Literal((day + 1) * DAY_NS))
                )
                # Named directly, a partition skips the parent's policies: with row-level
                # security and no policy, only the owner reads it (migration 7).
                conn.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(name))


def drop_before(conn: psycopg.Connection[Any], cutoff_ns: int) -> list[str]:
    """Drop the partitions of days that end at or before ``cutoff_ns``, the summaries of
    traces that ended before those days did, the attribution rows of the spans dropped
    with them (waiting for an ancestor that can no longer matter), and the sums and problem
    index of the LLM calls among them; returns the partitions dropped, oldest first."""
    boundary = cutoff_ns - cutoff_ns % DAY_NS
    dropped = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        for day, name in sorted(span_partitions(conn).items()):
            if (day + 1) * DAY_NS <= boundary:
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
                dropped.append(name)
        conn.execute("DELETE FROM traces WHERE end_time_ns < %s", (boundary,))
        conn.execute("DELETE FROM llm_seconds WHERE second < %s", (boundary // 10**9,))
        conn.execute("DELETE FROM llm_problem_calls WHERE start_time_ns < %s", (boundary,))
        if dropped:
            conn.execute(
                "DELETE FROM attribution_pending AS p WHERE NOT EXISTS"
                " (SELECT 1 FROM spans AS s WHERE s.trace_id = p.trace_id"
                " AND s.span_id = p.span_id)"
            )
    return dropped
