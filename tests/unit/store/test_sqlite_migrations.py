"""SQLite schema upgrades keep what older files hold."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from oracle_monitor.model import Span, SpanKind
from oracle_monitor.store.base import AlertQuery, Operation
from oracle_monitor.store.sqlite import SQLiteStore


def _undo_version_11(conn: sqlite3.Connection) -> None:
    conn.execute("DROP TABLE llm_seconds")
    conn.execute("DROP TABLE llm_problem_calls")


def _undo_version_10(conn: sqlite3.Connection) -> None:
    _undo_version_11(conn)
    conn.execute("DROP TABLE trace_tasks")
    conn.execute("CREATE INDEX spans_task ON spans (task_id) WHERE task_id IS NOT NULL")
    conn.execute(
        "CREATE INDEX spans_agent_start ON spans (start_time_ns, agent_name)"
        " WHERE agent_name IS NOT NULL"
    )


def _undo_version_9(conn: sqlite3.Connection) -> None:
    _undo_version_10(conn)
    conn.execute("DROP TABLE agent_seconds")
    conn.execute("DROP TABLE agent_seconds_sequence")


def _undo_version_8(conn: sqlite3.Connection) -> None:
    _undo_version_9(conn)
    conn.execute("DROP TABLE attribution_pending")
    conn.execute("ALTER TABLE spans DROP COLUMN agent_from")


def test_operations_are_backfilled_from_stored_spans(tmp_path: Path) -> None:
    path = tmp_path / "spans.db"
    store = SQLiteStore(path)
    span = Span("1" * 32, "2" * 16, "", "chat", SpanKind.CLIENT, 10, 20, service_name="agent")
    store.write_spans([span])
    store.close()
    with sqlite3.connect(path) as conn:  # as a file written before schema version 6
        conn.execute("DROP TABLE operations")
        conn.execute("DROP TABLE alerts")  # version 7
        _undo_version_8(conn)
        conn.execute("PRAGMA user_version = 5")
    conn.close()
    reopened = SQLiteStore(path)
    try:
        assert reopened.services() == ["agent"]
        assert reopened.operations("agent") == [Operation("chat", SpanKind.CLIENT)]
    finally:
        reopened.close()


def test_a_version_6_file_gets_the_alerts_table(tmp_path: Path) -> None:
    path = tmp_path / "v6.db"
    store = SQLiteStore(path)
    store.write_snapshot(1, {"n": 1})
    store.close()
    with sqlite3.connect(path) as conn:  # as a file written before schema version 7
        conn.execute("DROP TABLE alerts")
        _undo_version_8(conn)
        conn.execute("PRAGMA user_version = 6")
    conn.close()
    reopened = SQLiteStore(path)
    try:
        assert reopened.find_alerts(AlertQuery()) == []
        assert reopened.latest_snapshot() == (1, {"n": 1})
    finally:
        reopened.close()


def test_a_version_7_file_gets_hierarchy_attribution(tmp_path: Path) -> None:
    path = tmp_path / "v7.db"
    store = SQLiteStore(path)
    root = Span("1" * 32, "2" * 16, "", "old", SpanKind.INTERNAL, 10, 20, agent_name="planner")
    store.write_spans([root])
    store.close()
    with sqlite3.connect(path) as conn:  # as a file written before schema version 8
        _undo_version_8(conn)
        conn.execute("PRAGMA user_version = 7")
    conn.close()
    reopened = SQLiteStore(path)
    try:
        child = Span("1" * 32, "3" * 16, "2" * 16, "chat", SpanKind.CLIENT, 11, 19)
        reopened.write_spans([child])
        stored = {s.span_id: s for s in reopened.get_trace("1" * 32)}
        assert stored["3" * 16].agent_name == "planner"
        assert stored["3" * 16].agent_from == "2" * 16
        assert stored["2" * 16].agent_from is None
    finally:
        reopened.close()


def test_a_version_8_file_gets_the_agent_seconds_of_its_recent_spans(tmp_path: Path) -> None:
    path = tmp_path / "v8.db"
    store = SQLiteStore(path)
    now = time.time_ns()
    recent = Span("1" * 32, "2" * 16, "", "plan", SpanKind.INTERNAL, now - 10**9, now,
                  agent_name="planner", input_tokens=5)  # fmt: skip
    old = Span("3" * 32, "4" * 16, "", "plan", SpanKind.INTERNAL, now - 3600 * 10**9,
               now - 3599 * 10**9, agent_name="old")  # fmt: skip
    store.write_spans([recent, old])
    store.close()
    with sqlite3.connect(path) as conn:  # as a file written before schema version 9
        _undo_version_9(conn)
        conn.execute("PRAGMA user_version = 8")
    conn.close()
    reopened = SQLiteStore(path)
    try:
        (second,) = reopened.agent_seconds(now - 7200 * 10**9).seconds
        assert (second.agent_name, second.spans, second.input_tokens) == ("planner", 1, 5)
        assert second.second == recent.start_time_ns // 10**9
    finally:
        reopened.close()


def test_a_version_9_file_finds_its_tasks_by_trace(tmp_path: Path) -> None:
    path = tmp_path / "v9.db"
    store = SQLiteStore(path)
    root = Span("1" * 32, "2" * 16, "", "task", SpanKind.CONSUMER, 10, 20, task_id="t-1")
    child = Span("1" * 32, "3" * 16, "2" * 16, "chat", SpanKind.CLIENT, 11, 19)
    other = Span("4" * 32, "5" * 16, "", "task", SpanKind.CONSUMER, 30, 40, task_id="t-2")
    store.write_spans([root, child, other])
    store.close()
    with sqlite3.connect(path) as conn:  # as a file written before schema version 10
        _undo_version_10(conn)
        conn.execute("PRAGMA user_version = 9")
    conn.close()
    reopened = SQLiteStore(path)
    try:
        assert [s.span_id for s in reopened.get_task("t-1")] == ["2" * 16, "3" * 16]
        assert [s.span_id for s in reopened.get_task("t-2")] == ["5" * 16]
    finally:
        reopened.close()
    with sqlite3.connect(path) as conn:
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'spans'"
        indexes = {name for (name,) in conn.execute(sql)}
    conn.close()
    assert indexes.isdisjoint({"spans_task", "spans_agent_start"})


def test_a_version_10_file_gets_the_sums_of_its_llm_calls(tmp_path: Path) -> None:
    path = tmp_path / "v10.db"
    store = SQLiteStore(path)
    t0 = 1_700_000_000 * 10**9
    calls = [
        Span("1" * 32, f"{n + 1:016x}", "", "chat", SpanKind.CLIENT, t0 + n * 10**8,
             t0 + n * 10**8 + 5, provider="openai", model="gpt-4o", agent_name="writer",
             input_tokens=10, output_tokens=2, cost_usd=0.5)
        for n in range(15)
    ] + [
        Span("1" * 32, "f" * 16, "", "chat", SpanKind.CLIENT, t0 + 7, t0 + 9,
             provider="openai", model="gpt-4o", rate_limited=True,
             attributes={"error.type": "429"}),
    ]  # fmt: skip
    store.write_spans(calls)
    before = (store.llm_costs("model"), store.llm_problems(t0, t0 + 10**10))
    inner = store.llm_costs("agent", t0 + 10**9, t0 + 2 * 10**9 - 1)
    store.close()
    with sqlite3.connect(path) as conn:  # as a file written before schema version 11
        _undo_version_11(conn)
        conn.execute("PRAGMA user_version = 10")
    conn.close()
    reopened = SQLiteStore(path)
    try:
        assert (reopened.llm_costs("model"), reopened.llm_problems(t0, t0 + 10**10)) == before
        assert reopened.llm_costs("agent", t0 + 10**9, t0 + 2 * 10**9 - 1) == inner
        (group,) = before[0]
        assert (group.requests, group.input_tokens, group.rate_limited) == (16, 150, 1)
        assert [g.requests for g in inner] == [5]
        assert len(before[1]) == 1
    finally:
        reopened.close()
