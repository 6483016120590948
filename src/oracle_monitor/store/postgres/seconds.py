"""The PostgreSQL store's agent seconds (`AgentSecondsFeed`; `PostgresStore` reads, the span
writer writes).

Writers commit side by side, so each session keeps its own row per agent and second of start
time (``writer`` is its backend pid; no two live sessions share one, so no writer waits on
another's rows) and the reader merges them (`oracle_monitor.aggregator.agent_window`). In the
transaction of each span batch the writer folds the spans it stored with an agent, and the
stored spans it gave an agent or task by hierarchy (`oracle_monitor.store.agent_seconds`),
merges them into its rows and writes them back; ``written_xid`` becomes its transaction.

Neither a sequence nor a transaction id orders rows by when they became visible. A read runs
in one REPEATABLE READ snapshot and notes its *horizon*, the snapshot's xmin: every
transaction below it had ended. The next read takes the rows last written by a transaction at
or above it: those committed since, and again those of transactions that were running or had
just committed (a reader replaces what it had of a row, so reading one again changes
nothing). A transaction that holds an xid for long holds the horizon back: reads get bigger
(at most every row of the window) until it ends, never wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import psycopg

from oracle_monitor.store.agent_seconds import (
    SECOND_NS,
    Key,
    decode_latest,
    encode_latest,
    merge,
)
from oracle_monitor.store.base import (
    AgentSecond,
    AgentSecondsRead,
    SecondsCursor,
)

__all__ = ["SOURCE", "agent_seconds", "prune", "write_seconds"]

Conn = psycopg.Connection[Any]
SOURCE: Final = "postgresql"
KEPT_NS: Final = 3_600_000_000_000  # rows are pruned this long after their second
_COLUMNS: Final = (
    "second, agent_name, writer, spans, latest_start, input_tokens, output_tokens, cost_usd,"
    " errors, latest"
)
_HORIZON: Final = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text"
_SINCE: Final = f"SELECT {_COLUMNS} FROM agent_seconds WHERE second >= %s"
_CHANGED: Final = (
    f"SELECT {_COLUMNS} FROM agent_seconds WHERE written_xid >= %s::xid8 AND second >= %s"
)
_OWN: Final = f"""
    SELECT {_COLUMNS} FROM agent_seconds
    WHERE writer = pg_backend_pid() AND tenant_id = %s
        AND (second, agent_name) IN (SELECT * FROM unnest(%s::bigint[], %s::text[]))
"""
_UPSERT: Final = """
    INSERT INTO agent_seconds (tenant_id, second, agent_name, writer, spans, latest_start,
        input_tokens, output_tokens, cost_usd, errors, latest)
    VALUES (%s, %s, %s, pg_backend_pid(), %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (second, agent_name, writer, tenant_id) DO UPDATE SET
        spans = excluded.spans, latest_start = excluded.latest_start,
        input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
        cost_usd = excluded.cost_usd, errors = excluded.errors, latest = excluded.latest,
        written_xid = pg_current_xact_id()
"""
_PRUNE: Final = "DELETE FROM agent_seconds WHERE second < %s"


def _second(row: Sequence[Any]) -> AgentSecond:
    return AgentSecond(
        agent_name=row[1], second=row[0], writer=row[2], spans=row[3], latest_start=row[4],
        input_tokens=row[5], output_tokens=row[6], cost_usd=row[7], errors=row[8],
        latest=decode_latest(row[9]),
    )  # fmt: skip


def write_seconds(cur: psycopg.Cursor[Any], tenant: str, folded: dict[Key, AgentSecond]) -> None:
    """Merge a batch's agent seconds (`agent_seconds.fold_spans`, `fold_settled`) into this
    session's, in the writer's open transaction."""
    if not folded:
        return
    keys = sorted(folded)
    cur.execute(_OWN, (tenant, [k[1] for k in keys], [k[0] for k in keys]))
    for row in cur.fetchall():
        merge(folded[(row[1], row[0], 0)], _second(row))
    cur.executemany(
        _UPSERT,
        [
            (tenant, s.second, s.agent_name, s.spans, s.latest_start, s.input_tokens,
             s.output_tokens, s.cost_usd, s.errors, encode_latest(s))
            for s in (folded[key] for key in keys)
        ],
    )  # fmt: skip


def prune(conn: Conn, now_ns: int) -> None:
    """Delete the agent seconds kept long enough (`KEPT_NS`)."""
    with conn.transaction():
        conn.execute(_PRUNE, ((now_ns - KEPT_NS) // SECOND_NS,))


def agent_seconds(conn: Conn, since_ns: int, cursor: SecondsCursor | None) -> AgentSecondsRead:
    """The agent seconds from ``since_ns`` on written after ``cursor`` (see the module
    docstring)."""
    since = since_ns // SECOND_NS
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        found = conn.execute(_HORIZON).fetchone()
        assert found is not None
        horizon = int(found[0])
        if cursor is None or cursor.store != SOURCE:
            rows = conn.execute(_SINCE, (since,)).fetchall()
            return AgentSecondsRead(
                [_second(r) for r in rows], SecondsCursor(SOURCE, horizon), True
            )
        rows = conn.execute(_CHANGED, (str(cursor.position), since)).fetchall()
    after = SecondsCursor(SOURCE, max(horizon, cursor.position))
    return AgentSecondsRead([_second(r) for r in rows], after, False)
