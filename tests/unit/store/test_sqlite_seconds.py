"""What the SQLite store keeps per agent and second beyond the conformance suite: seconds are
pruned an hour after, without a reader's cursor noticing; a batch retried with spans already
stored counts only the new ones."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from oracle_monitor.model import Span, SpanKind
from oracle_monitor.store import sqlite_schema as schema
from oracle_monitor.store.sqlite import SQLiteStore

S = 1_000_000_000


def span(trace: int, number: int, start_ns: int, agent: str = "planner") -> Span:
    return Span(f"{trace:032x}", f"{number:016x}", "", "plan", SpanKind.INTERNAL, start_ns,
                start_ns + S, agent_name=agent, input_tokens=10)  # fmt: skip


def test_old_seconds_are_pruned_and_a_reader_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "CHECKPOINT_EVERY_SPANS", 3)
    store = SQLiteStore(tmp_path / "spans.db")
    try:
        now = time.time_ns()
        store.write_spans([span(1, 1, now - 7200 * S, "old"), span(2, 2, now)])
        first = store.agent_seconds(now - 9000 * S)
        assert sorted(s.agent_name for s in first.seconds) == ["old", "planner"]
        store.write_spans([span(3, 3, now + S)])  # prunes the seconds over an hour old
        later = store.agent_seconds(now - 9000 * S, first.cursor)
        assert not later.full and [s.agent_name for s in later.seconds] == ["planner"]
        again = store.agent_seconds(now - 9000 * S)
        assert sorted((s.agent_name, s.spans) for s in again.seconds) == [
            ("planner", 1), ("planner", 1),
        ]  # fmt: skip
    finally:
        store.close()


def test_a_retried_batch_counts_only_its_new_spans(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "spans.db")
    try:
        at = 1_790_000_000 * S
        store.write_spans([span(1, 1, at), span(1, 2, at)])
        store.write_spans([span(1, 2, at), span(1, 3, at), span(1, 3, at), span(1, 1, at)])
        (second,) = store.agent_seconds(at).seconds
        assert (second.spans, second.input_tokens) == (3, 30)
    finally:
        store.close()
