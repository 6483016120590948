"""SQLite schema upgrades keep what older files hold."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from oracle_monitor.model import Span, SpanKind
from oracle_monitor.store.base import AlertQuery, Operation
from oracle_monitor.store.sqlite import SQLiteStore


def _undo_version_9(conn: sqlite3.Connection) -> None:
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
