"""The PostgreSQL store's LLM calls: their sums per second (`oracle_monitor.store.llm_calls`)
and the problem calls, kept by the span writer, read by `llm_costs` and `llm_problems`.

In the transaction of each batch the writer adds the sums of the LLM calls it stored, and
the moves of those of stored calls it gave their agent by hierarchy (`settled_moves`), to
``llm_seconds`` (`write_calls`), and notes the problem calls in ``llm_problem_calls``
(`write_problems`). Several writers commit side by side: each adds to the rows
(``requests = llm_seconds.requests + excluded.requests``…), in key order, so that two
writers of one second take its row locks in the same order and wait rather than deadlock;
the upsert is the batch's last statement, so a row stays locked only until the commit.

`llm_costs` reads, in one statement (one snapshot), the rows of the window's whole seconds
and the calls of the part-seconds at its two ends, so its cost follows the length of the
window in seconds, not the number of calls in it. The SQL here decides what an LLM call is as
`llm_calls.is_llm_call` does, from the stored columns and the JSONB attributes (`ATTRIBUTES`),
and so does migration 20261206000010, which folds in the calls stored before (and the problem
calls, as `llm_calls.is_problem`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import orjson
import psycopg

from oracle_monitor.model import Span, SpanKind, StatusCode
from oracle_monitor.store.attribution import Settlement
from oracle_monitor.store.base import CostGroup, CostGrouping, LLMProblem
from oracle_monitor.store.llm_calls import (
    FIELDS,
    LLMKey,
    Sums,
    add_groups,
    is_problem,
    moves,
    window_parts,
)

__all__ = [
    "ATTRIBUTES",
    "LLM_CALL",
    "SETTLED_COLUMNS",
    "llm_costs",
    "llm_problems",
    "settled_moves",
    "write_calls",
    "write_problems",
]

Conn = psycopg.Connection[Any]
#: The attributes of the spans aliased ``{t}`` ("s." or "") as JSONB: those holding a
#: ``\u0000``, which JSONB cannot, are kept as JSON text, in which it becomes ``\ufffd`` here
#: (PostgreSQL's JSON functions fail on such a text, even for another key's value).
ATTRIBUTES: Final = (
    r"coalesce({t}attributes, replace({t}attributes_text, '\u0000', '\ufffd')::jsonb)"
)
#: Not said by a client's span of an attempt whose LLM proxy's span records it (usage, 429,
#: error).
_NOT_PROXIED: Final = ATTRIBUTES + " ->> 'oracle.llm.usage_reported_by' IS DISTINCT FROM 'proxy'"
#: An LLM call (`llm_calls.is_llm_call`), of the spans aliased ``{t}`` ("s." or "").
LLM_CALL: Final = (
    "{t}provider IS NOT NULL AND ({t}input_tokens IS NOT NULL OR {t}output_tokens IS NOT NULL"
    " OR (({t}rate_limited OR {t}status_code = 2) AND " + _NOT_PROXIED + "))"
)
#: What `llm_calls.contribution` reads of a stored call (after the `agent_seconds`
#: columns of the writer's `_PENDING_ON`), whether it is an LLM call at all, and its tenant.
SETTLED_COLUMNS: Final = (
    "s.provider, s.model, s.rate_limited, s.cache_read_tokens, s.cache_creation_tokens,"
    " s.reasoning_tokens, coalesce(" + LLM_CALL.format(t="s.") + ", false), s.tenant_id"
)
_COST_COLUMNS: Final = {"agent": "agent_name", "model": "model", "provider": "provider"}
_CALL_SUMS: Final = """count(*), count(*) FILTER (WHERE rate_limited),
    count(*) FILTER (WHERE status_code = 2),
    coalesce(sum(input_tokens), 0)::bigint, coalesce(sum(output_tokens), 0)::bigint,
    coalesce(sum(cache_read_tokens), 0)::bigint, coalesce(sum(cache_creation_tokens), 0)::bigint,
    coalesce(sum(reasoning_tokens), 0)::bigint, coalesce(sum(cost_usd), 0)::float8,
    count(*) FILTER (WHERE cost_usd IS NULL
        AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL))"""
#: The rows of the whole seconds [%s, %s] ("" there for no model or agent), then the calls of
#: the two part-seconds [%s, %s] and [%s, %s]: one statement, one snapshot.
_COSTS: Final = f"""
    SELECT nullif({{column}}, ''),
        {", ".join(f"sum({name})::bigint" for name in FIELDS[:-2])},
        sum(cost_usd)::float8, sum(unpriced_requests)::bigint
    FROM llm_seconds WHERE second >= %s AND second <= %s
    GROUP BY {{column}}
    UNION ALL
    SELECT {{column}}, {_CALL_SUMS}
    FROM spans
    WHERE provider IS NOT NULL
        AND (start_time_ns >= %s AND start_time_ns <= %s
            OR start_time_ns >= %s AND start_time_ns <= %s)
        AND {LLM_CALL.format(t="")}
    GROUP BY {{column}}
"""
_COSTS_BY: Final = {
    group_by: _COSTS.format(column=column).encode() for group_by, column in _COST_COLUMNS.items()
}
#: In the order of the primary key, which is the order of the row locks.
_UPSERT_SECONDS: Final = f"""
    INSERT INTO llm_seconds AS l (tenant_id, second, provider, model, agent_name,
        {", ".join(FIELDS)})
    SELECT u.* FROM unnest(%s::text[], %s::int8[], %s::text[], %s::text[], %s::text[],
        {", ".join("%s::int8[]" for _ in FIELDS[:-2])}, %s::float8[], %s::int8[])
        AS u(tenant_id, second, provider, model, agent_name, {", ".join(FIELDS)})
    ORDER BY u.second, u.provider, u.model, u.agent_name, u.tenant_id
    ON CONFLICT (second, provider, model, agent_name, tenant_id) DO UPDATE SET
        {", ".join(f"{name} = l.{name} + excluded.{name}" for name in FIELDS)}
"""
_INSERT_PROBLEMS: Final = """
    INSERT INTO llm_problem_calls (tenant_id, start_time_ns, trace_id, span_id)
    SELECT %s, * FROM unnest(%s::int8[], %s::bytea[], %s::bytea[])
    ON CONFLICT DO NOTHING
"""
#: The calls of the index in [start, end] (repeated on the spans for partition pruning);
#: ``error.type`` as JSON text.
_PROBLEMS: Final = f"""
    SELECT s.start_time_ns, s.trace_id, s.span_id, s.provider, s.model, s.agent_name,
        s.rate_limited, ({ATTRIBUTES.format(t="s.")} -> 'error.type')::text
    FROM llm_problem_calls AS p
    JOIN spans AS s ON s.trace_id = p.trace_id AND s.span_id = p.span_id
        AND s.start_time_ns = p.start_time_ns
    WHERE p.start_time_ns >= %(start)s AND p.start_time_ns <= %(end)s
        AND s.start_time_ns >= %(start)s AND s.start_time_ns <= %(end)s
    ORDER BY p.start_time_ns, p.trace_id, p.span_id
"""


def write_calls(cur: psycopg.Cursor[Any], sums: Mapping[str, Mapping[LLMKey, Sums]]) -> None:
    """Add ``sums`` (per tenant) to their rows of ``llm_seconds``, in key order (in the
    writer's open transaction). Keys whose sums are all zero are left out."""
    rows = sorted(
        (key, tenant, values)
        for tenant, by_key in sums.items()
        for key, values in by_key.items()
        if any(values)
    )
    if not rows:
        return
    columns: list[list[Any]] = [[tenant for _, tenant, _ in rows]]
    columns += [[key[n] for key, _, _ in rows] for n in range(4)]
    columns += [[values[n] for _, _, values in rows] for n in range(len(FIELDS))]
    cur.execute(_UPSERT_SECONDS, columns)


def write_problems(cur: psycopg.Cursor[Any], tenant: str, spans: Iterable[Span]) -> None:
    """Note the problem calls (`llm_calls.is_problem`) among ``spans``, just stored."""
    problems = [s for s in spans if s.provider is not None and is_problem(s)]
    if problems:
        cur.execute(
            _INSERT_PROBLEMS,
            (tenant, [s.start_time_ns for s in problems],
             [bytes.fromhex(s.trace_id) for s in problems],
             [bytes.fromhex(s.span_id) for s in problems]),
        )  # fmt: skip


def settled_moves(
    before: Mapping[tuple[str, str], Sequence[Any]], settlements: Iterable[Settlement]
) -> dict[str, dict[LLMKey, Sums]]:
    """The changes of the sums, per tenant, when ``settlements`` give stored LLM calls
    without an agent their agent. ``before`` holds, by (trace id, span id), the stored spans
    as they were: the agent first, the start time second, the status code fourth, the tokens
    and cost seventh to ninth (`agent_seconds.STORED_COLUMNS`), then `SETTLED_COLUMNS` from
    the twelfth on. A span takes the agent of its first settlement that names one, as the
    writer's update does; its sums move in the rows of its own tenant (trace ids are not
    the tenants': a writer may attribute another tenant's span)."""
    given: dict[tuple[str, str], str] = {}
    for done in settlements:
        key = (done.trace_id, done.span_id)
        if done.agent_name is not None and key not in given:
            row = before.get(key)
            if row is not None and row[0] is None:
                given[key] = done.agent_name
    calls: dict[str, list[tuple[Span, str]]] = {}
    for (trace_id, span_id), agent in given.items():
        row = before[(trace_id, span_id)]
        if row[17]:
            call = Span(
                trace_id, span_id, "", "", SpanKind.CLIENT, row[1], row[1], StatusCode(row[3]),
                provider=row[11], model=row[12], rate_limited=bool(row[13]),
                input_tokens=row[6], output_tokens=row[7], cache_read_tokens=row[14],
                cache_creation_tokens=row[15], reasoning_tokens=row[16], cost_usd=row[8],
            )  # fmt: skip
            calls.setdefault(row[18], []).append((call, agent))
    return {tenant: moves(found) for tenant, found in calls.items()}


def llm_costs(
    conn: Conn, group_by: CostGrouping, start_ns: int | None, end_ns: int | None
) -> list[CostGroup]:
    """LLM usage and cost per agent, model or provider; costliest group first."""
    seconds, before, after = window_parts(start_ns, end_ns)
    rows = conn.execute(_COSTS_BY[group_by], (*seconds, *before, *after)).fetchall()
    return add_groups([[CostGroup(*row) for row in rows]])


def llm_problems(conn: Conn, start_ns: int, end_ns: int) -> list[LLMProblem]:
    """Rate-limited or failed LLM calls in [start, end], oldest first."""
    rows = conn.execute(_PROBLEMS.encode(), {"start": start_ns, "end": end_ns}).fetchall()
    return [
        LLMProblem(r[0], r[1].hex(), r[2].hex(), r[3], r[4], r[5], bool(r[6]), _error_type(r[7]))
        for r in rows
    ]


def _error_type(text: str | None) -> str | None:
    """The ``error.type`` attribute, from its JSON text, when it is a string."""
    value = orjson.loads(text) if text is not None else None
    return value if isinstance(value, str) else None
