"""The SQLite store's LLM costs come from per-second sums the writer keeps: for any window they
must equal what reading every call of the window gives (the query the sums replace), also when
calls get their agent by hierarchy batches later, when batches are sent again, and at windows
that cut seconds; the problem calls must be those a scan of the calls finds."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from oracle_monitor.model import Span, SpanKind, StatusCode
from oracle_monitor.store import sqlite_schema as schema
from oracle_monitor.store.base import CostGroup, CostGrouping
from oracle_monitor.store.llm_calls import add_groups, whole_seconds
from oracle_monitor.store.sqlite import SQLiteStore

S = 1_000_000_000
T0 = 1_790_000_000 * S
_SCAN_PROBLEMS = f"""
    SELECT start_time_ns, lower(hex(span_id)) FROM spans
    WHERE start_time_ns >= ? AND start_time_ns <= ? AND {schema.LLM_PROBLEM}
    ORDER BY start_time_ns, span_id
"""


def _call(rng: random.Random, trace: str, number: int, parent: str) -> Span:
    start = T0 + rng.randrange(0, 6 * S)
    tokens = rng.random() < 0.7
    attributes: dict[str, object] = {}
    if rng.random() < 0.2:
        attributes["error.type"] = rng.choice(["429", "timeout", ""])
    if rng.random() < 0.15:
        attributes["oracle.llm.usage_reported_by"] = "proxy"
    return Span(
        trace, f"{number:016x}", parent, "chat", SpanKind.CLIENT, start, start + 1000,
        StatusCode.ERROR if rng.random() < 0.2 else StatusCode.UNSET,
        attributes=attributes,  # type: ignore[arg-type]
        provider=rng.choice(["openai", "anthropic", None]),
        model=rng.choice(["gpt-4o", "claude", None]),
        agent_name=rng.choice(["writer", None, None]),
        input_tokens=rng.randrange(0, 500) if tokens else None,
        output_tokens=rng.randrange(0, 50) if tokens and rng.random() < 0.9 else None,
        cache_read_tokens=rng.choice([None, 7]),
        reasoning_tokens=rng.choice([None, 3]),
        cost_usd=rng.choice([None, 0.25, 0.125]) if tokens else None,
        rate_limited=rng.random() < 0.2,
    )  # fmt: skip


def _batches(rng: random.Random) -> list[list[Span]]:
    """Traces of LLM calls under an agent's root span, the roots often one batch late (their
    calls wait for their agent), and now and then a batch sent twice."""
    batches: list[list[Span]] = [[] for _ in range(6)]
    number = 0
    for trace_number in range(40):
        trace = f"{trace_number + 1:032x}"
        number += 1
        root_id = f"{number:016x}"
        root = Span(trace, root_id, "", "agent", SpanKind.INTERNAL, T0, T0 + 7 * S,
                    agent_name=rng.choice(["planner", "research"]))  # fmt: skip
        first = rng.randrange(0, 5)
        for _ in range(rng.randrange(1, 6)):
            number += 1
            batches[first].append(_call(rng, trace, number, root_id))
        batches[first + rng.choice([0, 1])].append(root)
    return [batch for batch in batches if batch] + [batches[2]]  # the third again


def _scanned(
    conn: sqlite3.Connection, group_by: CostGrouping, start: int, end: int
) -> list[CostGroup]:
    sql = schema.LLM_COSTS.format(column=schema.COST_GROUP_COLUMNS[group_by])
    return add_groups([[CostGroup(*row) for row in conn.execute(sql, (start, end))]])


def _comparable(groups: list[CostGroup]) -> list[tuple[object, ...]]:
    rows = [(g.key, g.requests, g.rate_limited, g.errors, g.input_tokens, g.output_tokens,
             g.cache_read_tokens, g.cache_creation_tokens, g.reasoning_tokens,
             round(g.cost_usd, 9), g.unpriced_requests) for g in groups]  # fmt: skip
    return sorted(rows, key=repr)


@pytest.mark.parametrize("seed", range(12))
def test_sums_equal_a_scan_of_the_calls(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "spans.db"
    store = SQLiteStore(path)
    conn = sqlite3.connect(path)
    try:
        for batch in _batches(rng):
            store.write_spans(batch)
            bounds = sorted(T0 + rng.randrange(-S, 7 * S) for _ in range(2))
            windows = [(None, None), (bounds[0], bounds[1]), (T0 + S, T0 + 3 * S - 1),
                       (T0 + S + 1, T0 + S + 5), (bounds[0], None)]  # fmt: skip
            for start, end in windows:
                for group_by in ("agent", "model", "provider"):
                    kept = store.llm_costs(group_by, start, end)
                    scanned = _scanned(conn, group_by, start or -(2**63), end or 2**63 - 1)
                    assert _comparable(kept) == _comparable(scanned), (group_by, start, end)
                    assert [g.cost_usd for g in kept] == sorted(
                        (g.cost_usd for g in kept), reverse=True
                    )
            problems = store.llm_problems(bounds[0], bounds[1])
            found = conn.execute(_SCAN_PROBLEMS, bounds).fetchall()
            assert sorted((p.time_ns, p.span_id) for p in problems) == found
        settled = conn.execute("SELECT count(*) FROM attribution_pending").fetchone()[0]
        assert settled == 0  # every call waited for its root, and every root came
        everything = store.llm_costs("agent")
        assert None not in {g.key for g in everything if g.requests}  # all calls attributed
        assert sum(g.requests for g in everything) > 0
    finally:
        conn.close()
        store.close()


def test_whole_seconds_of_a_window() -> None:
    assert whole_seconds(T0, T0 + S - 1) == (T0 // S, T0 // S)
    assert whole_seconds(T0 + 1, T0 + 2 * S - 1) == (T0 // S + 1, T0 // S + 1)
    assert whole_seconds(T0 + 1, T0 + S) is None
    assert whole_seconds(-(2**63), 2**63 - 1) is not None
