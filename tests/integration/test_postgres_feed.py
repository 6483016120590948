"""What PostgreSQL keeps per agent and second, beyond the conformance suite: concurrent writers
keep their own rows and a transaction that took its id first and commits last is read once it
commits; the migration folds in the recent agent spans, as the writer would have."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest

from oracle_monitor.aggregator.agent_tracker import AgentTracker
from oracle_monitor.aggregator.agent_window import AgentWindow
from oracle_monitor.model import StatusCode
from oracle_monitor.store import AgentSecond
from oracle_monitor.store.agent_seconds import SECOND_NS
from oracle_monitor.store.postgres import PostgresStore
from oracle_monitor.store.postgres.migrate import MIGRATIONS, migrate
from oracle_monitor.store.postgres.writer import SpanBatchWriter
from tests.integration.postgres import fresh_store_url
from tests.integration.test_snapshot_agents import WINDOW_NS, expected_views, same_views
from tests.integration.test_store_conformance import T0
from tests.integration.test_store_conformance_feed import span

pytestmark = pytest.mark.integration
S = 1_000_000_000


@pytest.fixture
def store() -> Iterator[PostgresStore]:
    for url in fresh_store_url():
        opened = PostgresStore(url)
        yield opened
        opened.close()


def test_a_transaction_that_commits_late_is_read_once_it_commits(store: PostgresStore) -> None:
    store.write_spans([span(1, 2, 1, 10, input_tokens=1)])  # waits for its agent span
    tracker = AgentTracker(store, window_ns=WINDOW_NS)
    now = T0 + 30 * S
    since = AgentWindow(WINDOW_NS).start(now)
    assert tracker.views(now) == []
    with store.url.connect() as early:
        early.autocommit = False
        early.execute("SELECT pg_current_xact_id()")  # its id is below the next writers'
        store.write_spans([span(2, 3, None, 10.5, agent_name="a", input_tokens=10,
                                cost_usd=0.5, status_code=StatusCode.ERROR)])  # fmt: skip
        for _ in range(3):  # read while the early transaction is still open
            now += 2 * S
            same_views(tracker.views(now), expected_views(store, now, since))
        # The early transaction writes the agent span above the waiting call (the same agent,
        # the same second: its own row of it), and commits.
        SpanBatchWriter(store.tenant).write(
            early, [span(1, 1, None, 10, agent_name="a", task_id="t-1", input_tokens=100)]
        )
        early.commit()
    for _ in range(3):
        now += 2 * S
        views = tracker.views(now)
        same_views(views, expected_views(store, now, since))
    assert [(v["name"], v["tokens"]["input"], v["errors"], v["current_task"]) for v in views] == [
        ("a", 111, 1, "t-1"),
    ]
    writers = {s.writer for s in store.agent_seconds(since).seconds}
    assert len(writers) == 2 and tracker.full_reads == 1


def test_the_migration_folds_in_the_recent_agent_spans(store: PostgresStore) -> None:
    now = time.time_ns() // SECOND_NS * SECOND_NS
    seconds = now // SECOND_NS
    spans = [
        span(1, 1, None, 0, agent_name="planner", task_id="t-1", pod_name="pod-a",
             attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": "7"},
             status_code=StatusCode.ERROR, duration_s=5),
        span(1, 2, 1, 1.5, input_tokens=20, output_tokens=3, cost_usd=0.25, pod_name="tool",
             attributes={"oracle.agent.reasoning": "look", "oracle.agent.tools_planned": ["s"]}),
        span(1, 3, 1, 1.7, input_tokens=-4, duration_s=0.1),
        span(2, 4, None, 1.2, agent_name="writer"),
        span(3, 5, None, -1200, agent_name="old"),  # twenty minutes before
    ]  # fmt: skip
    spans = [
        dataclasses.replace(s, start_time_ns=s.start_time_ns - T0 + now,
                            end_time_ns=s.end_time_ns - T0 + now)
        for s in spans
    ]  # fmt: skip
    store.write_spans(spans)

    def kept() -> list[AgentSecond]:
        found = store.agent_seconds(now - 3600 * S).seconds
        return sorted(found, key=lambda s: (s.agent_name, s.second))

    written = [s for s in kept() if s.agent_name != "old"]
    (version,) = [m.version for m in MIGRATIONS if m.name == "agent_seconds"]
    with store.url.connect() as conn:
        conn.execute("DELETE FROM agent_seconds")
        conn.execute("DELETE FROM oracle_schema_migrations WHERE version = %s", (version,))
        applied = migrate(conn, schema=store.url.schema)
    assert [m.version for m in applied] == [version]
    folded = kept()
    assert [s.agent_name for s in folded] == ["planner", "planner", "writer"]  # not the old one
    for got, expected in zip(folded, written, strict=True):
        assert (got.agent_name, got.second, got.spans, got.latest_start, got.input_tokens,
                got.output_tokens, got.errors, got.latest) == (
            expected.agent_name, expected.second, expected.spans, expected.latest_start,
            expected.input_tokens, expected.output_tokens, expected.errors, expected.latest,
        )  # fmt: skip
        assert got.cost_usd == pytest.approx(expected.cost_usd) and got.writer == 0
    assert {s.second - seconds for s in folded} == {0, 1}
