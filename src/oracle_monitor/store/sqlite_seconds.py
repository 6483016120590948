"""The SQLite store's agent seconds (`AgentSecondsFeed`; `SQLiteStore` writes and mixes in).

The writer keeps one row per agent and second of start time in ``agent_seconds``
(`oracle_monitor.store.agent_seconds`): in the transaction of each batch it folds the spans it
stored with an agent, and the stored spans it gave an agent or task by hierarchy, reads the
rows of those seconds, merges and writes them back, all marked with the next value of
``agent_seconds_sequence``. One writer commits at a time, so a reader that noted the sequence
reads next the rows marked above it (index ``agent_seconds_seq``); the sequence and the rows
are read in one read transaction. Rows are pruned `schema.AGENT_SECONDS_KEPT_NS` after their
second, long after any window has left them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from oracle_monitor.store import sqlite_schema as schema
from oracle_monitor.store.agent_seconds import (
    SECOND_NS,
    Key,
    decode_latest,
    encode_latest,
    fold,
    merge,
)
from oracle_monitor.store.base import (
    AgentSecond,
    AgentSecondsRead,
    SecondsCursor,
)
from oracle_monitor.store.codec import activity_row

__all__ = ["SOURCE", "SecondsFeedMixin", "backfill", "prune", "write_seconds"]

SOURCE: Final = "sqlite"
_PAIRS: Final = 400  # (second, agent) pairs per lookup, within the variables limit


def _second(row: Sequence[Any]) -> AgentSecond:
    return AgentSecond(
        agent_name=row[1], second=row[0], spans=row[3], latest_start=row[4],
        input_tokens=row[5], output_tokens=row[6], cost_usd=row[7], errors=row[8],
        latest=decode_latest(row[9]),
    )  # fmt: skip


def write_seconds(conn: sqlite3.Connection, folded: dict[Key, AgentSecond]) -> None:
    """Merge a batch's agent seconds (`agent_seconds.fold_spans`, `fold_settled`) into the
    stored ones, in the writer's open transaction."""
    if not folded:
        return
    keys: list[Key] = list(folded)
    for at in range(0, len(keys), _PAIRS):
        part = keys[at : at + _PAIRS]
        marks = "(VALUES " + ",".join(["(?, ?)"] * len(part)) + ")"
        params = [value for agent, second, _ in part for value in (second, agent)]
        for row in conn.execute(schema.SECONDS_AT + marks, params):
            merge(folded[(row[1], row[0], 0)], _second(row))
    (seq,) = conn.execute(schema.NEXT_SECONDS_SEQUENCE).fetchone()
    conn.executemany(
        schema.UPSERT_SECONDS,
        [
            (s.second, s.agent_name, seq, s.spans, s.latest_start, s.input_tokens,
             s.output_tokens, s.cost_usd, s.errors, encode_latest(s))
            for s in folded.values()
        ],
    )  # fmt: skip


def backfill(conn: sqlite3.Connection, since_ns: int) -> None:
    """Agent seconds of the agent spans stored since ``since_ns`` (after the migration that
    added them), in the writer's open transaction."""
    rows = conn.execute(schema.ACTIVITY_SINCE, (since_ns,)).fetchall()
    write_seconds(conn, fold((activity_row(row), True) for row in rows))


def prune(conn: sqlite3.Connection, now_ns: int) -> None:
    """Delete the agent seconds kept long enough (`schema.AGENT_SECONDS_KEPT_NS`)."""
    conn.execute(schema.PRUNE_SECONDS, ((now_ns - schema.AGENT_SECONDS_KEPT_NS) // SECOND_NS,))


class SecondsFeedMixin:
    """`agent_seconds` over the store's reading connections."""

    def _reader(self) -> sqlite3.Connection:
        raise NotImplementedError

    def agent_seconds(self, since_ns: int, cursor: SecondsCursor | None = None) -> AgentSecondsRead:
        """The agent seconds from ``since_ns`` on changed after ``cursor``."""
        conn = self._reader()
        since = since_ns // SECOND_NS
        conn.execute("BEGIN")
        try:
            (position,) = conn.execute(schema.SECONDS_SEQUENCE).fetchone()
            if cursor is None or cursor.store != SOURCE or cursor.position > position:
                rows = conn.execute(schema.SECONDS_SINCE, (since,)).fetchall()
                full = True
            else:
                rows = conn.execute(schema.SECONDS_CHANGED, (cursor.position, since)).fetchall()
                full = False
        finally:
            conn.execute("COMMIT")
        return AgentSecondsRead(
            [_second(row) for row in rows], SecondsCursor(SOURCE, position), full
        )
