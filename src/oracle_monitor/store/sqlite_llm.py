"""The SQLite store's LLM calls: their sums per second (`oracle_monitor.store.llm_calls`) and the
problem calls, kept by the writer, read by `llm_costs` and `llm_problems`.

In the transaction of each batch the writer adds the sums of the LLM calls it stored to
``llm_seconds`` (`write_calls`), moves those of stored calls given their agent by hierarchy
(`settled_moves`), and notes the problem calls in ``llm_problem_calls``. `llm_costs` adds up
the rows of the window's whole seconds and reads only the calls of the part-seconds at its two
ends, so its cost follows the length of the window in seconds, not the number of calls in it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any, Final

from oracle_monitor.model import Span, SpanKind, StatusCode
from oracle_monitor.store import sqlite_schema as schema
from oracle_monitor.store.base import CostGroup, CostGrouping, LLMProblem
from oracle_monitor.store.llm_calls import (
    LLMKey,
    Sums,
    add_groups,
    is_problem,
    moves,
    window_parts,
)

__all__ = ["LLMCallsMixin", "problem_rows", "settled_moves", "write_calls"]

_CHUNK: Final = 500


def write_calls(conn: sqlite3.Connection, sums: dict[LLMKey, Sums]) -> None:
    """Add ``sums`` to their rows of ``llm_seconds`` (in the writer's open transaction)."""
    if not sums:
        return
    statement, conflict = schema.UPSERT_LLM_SECONDS
    sql = f"{statement} VALUES ({', '.join('?' * 14)}) {conflict}"
    conn.executemany(sql, [(*key, *values) for key, values in sums.items()])


def settled_moves(
    conn: sqlite3.Connection, trace_key: int, trace_id: str, agents: dict[bytes, str]
) -> dict[LLMKey, Sums]:
    """The changes of the sums when the stored spans of one trace in ``agents`` (span id ->
    the agent they were just given; they had none) are LLM calls."""
    calls: list[tuple[Span, str]] = []
    ids = list(agents)
    for start in range(0, len(ids), _CHUNK):
        part = ids[start : start + _CHUNK]
        sql = schema.SETTLED_CALLS + "(" + ",".join("?" * len(part)) + ")"
        for row in conn.execute(sql, (trace_key, *part)):
            call = Span(
                trace_id, row[0].hex(), "", "", SpanKind.CLIENT, row[1], row[1],
                StatusCode(row[5]), provider=row[2], model=row[3], rate_limited=bool(row[4]),
                input_tokens=row[6], output_tokens=row[7], cache_read_tokens=row[8],
                cache_creation_tokens=row[9], reasoning_tokens=row[10], cost_usd=row[11],
            )  # fmt: skip
            calls.append((call, agents[row[0]]))
    return moves(calls)


class LLMCallsMixin:
    """`llm_costs` and `llm_problems` over the store's reading connections."""

    def _reader(self) -> sqlite3.Connection:
        raise NotImplementedError

    def llm_costs(
        self, group_by: CostGrouping, start_ns: int | None = None, end_ns: int | None = None
    ) -> list[CostGroup]:
        """LLM usage and cost per agent, model or provider; costliest group first."""
        column = schema.COST_GROUP_COLUMNS[group_by]
        (first, last), before, after = window_parts(start_ns, end_ns)
        conn = self._reader()
        conn.execute("BEGIN")  # one snapshot for the sums and the calls at the ends
        try:
            sql = schema.LLM_SECONDS_COSTS.format(column=column)
            summed = [CostGroup(*row) for row in conn.execute(sql, (first, last))]
            return add_groups([
                summed, self._calls(conn, column, *before), self._calls(conn, column, *after)
            ])  # fmt: skip
        finally:
            conn.execute("COMMIT")

    @staticmethod
    def _calls(conn: sqlite3.Connection, column: str, start: int, end: int) -> list[CostGroup]:
        """The cost groups of the calls started in [start, end], read call by call."""
        if start > end:
            return []
        sql = schema.LLM_COSTS.format(column=column)
        return [CostGroup(*row) for row in conn.execute(sql, (start, end))]

    def llm_problems(self, start_ns: int, end_ns: int) -> list[LLMProblem]:
        """Rate-limited or failed LLM calls in [start, end], oldest first."""
        rows = self._reader().execute(schema.LLM_PROBLEMS, (start_ns, end_ns)).fetchall()
        return [
            LLMProblem(row[0], row[1].hex(), row[2].hex(), row[3], row[4], row[5],
                       bool(row[6]), row[7] if isinstance(row[7], str) else None)
            for row in rows
        ]  # fmt: skip


def problem_rows(spans: Iterable[Span], keys: dict[str, int]) -> list[Any]:
    """The ``llm_problem_calls`` values of the problem calls among ``spans``, flat."""
    return [
        value
        for span in spans
        if span.provider is not None and is_problem(span)
        for value in (span.start_time_ns, keys[span.trace_id], bytearray.fromhex(span.span_id))
    ]
