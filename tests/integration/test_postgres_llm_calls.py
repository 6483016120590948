"""The PostgreSQL store's LLM costs come from per-second sums its writers keep: for any window
they must equal what reading every call of the window gives (the query the sums replace), also
when calls get their agent by hierarchy batches later, when batches are sent again, at windows
that cut seconds, with attributes PostgreSQL keeps as text and names holding a NUL, with
several writers at once, per tenant under row-level security and after retention; the
problem calls must be those a scan of the calls finds; and a database at the migration before
gets the sums of the calls it holds (the property test of the SQLite store,
tests/unit/store/test_sqlite_llm_calls.py, on PostgreSQL)."""

from __future__ import annotations

import dataclasses
import functools
import random
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import psycopg
import pytest

from oracle_monitor.model import Span, SpanKind, StatusCode
from oracle_monitor.store.base import CostGroup, CostGrouping, LLMProblem
from oracle_monitor.store.llm_calls import add_groups
from oracle_monitor.store.postgres import PostgresStore, StoreURL, llm
from oracle_monitor.store.postgres.migrate import MIGRATIONS
from oracle_monitor.store.postgres.partitions import DAY_NS
from tests.integration.postgres import fresh_store_url
from tests.integration.test_postgres_store import _as_role, tenant_role
from tests.unit.store.test_sqlite_llm_calls import T0, S, _batches, _comparable

__all__ = ["tenant_role"]  # the fixture, imported to be used here

pytestmark = pytest.mark.integration
Conn = psycopg.Connection[Any]
#: The calls of a window read one by one: the store's queries before it kept sums, but that
#: a ``\u0000`` in attributes kept as JSON text is read as ``\ufffd`` (PostgreSQL's JSON
#: functions fail on it, whichever key holds it: those queries did).
_TEXT = "replace({t}attributes_text, '\\u0000', '\\ufffd')::json"
_NOT_PROXIED = (
    "coalesce({t}attributes ->> 'oracle.llm.usage_reported_by',"
    f" {_TEXT} ->> 'oracle.llm.usage_reported_by') IS DISTINCT FROM 'proxy'"
)
_SCAN = """
    SELECT {column}, count(*), count(*) FILTER (WHERE rate_limited),
        count(*) FILTER (WHERE status_code = 2),
        coalesce(sum(input_tokens), 0)::bigint, coalesce(sum(output_tokens), 0)::bigint,
        coalesce(sum(cache_read_tokens), 0)::bigint,
        coalesce(sum(cache_creation_tokens), 0)::bigint,
        coalesce(sum(reasoning_tokens), 0)::bigint, coalesce(sum(cost_usd), 0)::float8,
        count(*) FILTER (WHERE cost_usd IS NULL
            AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL))
    FROM spans
    WHERE provider IS NOT NULL AND start_time_ns >= %s AND start_time_ns <= %s
        AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL
            OR ((rate_limited OR status_code = 2) AND NOT_PROXIED))
    GROUP BY {column}
""".replace("NOT_PROXIED", _NOT_PROXIED.format(t=""))
_ERROR_TYPE = (
    f"coalesce(s.attributes -> 'error.type', ({_TEXT.format(t='s.')} -> 'error.type')::jsonb)"
)
_SCAN_PROBLEMS = f"""
    SELECT s.start_time_ns, s.trace_id, s.span_id, s.provider, s.model, s.agent_name,
        s.rate_limited, CASE WHEN jsonb_typeof(p.error_type) = 'string'
            THEN p.error_type #>> '{{}}' END
    FROM spans AS s CROSS JOIN LATERAL (SELECT {_ERROR_TYPE} AS error_type) AS p
    WHERE s.provider IS NOT NULL AND s.start_time_ns >= %s AND s.start_time_ns <= %s
        AND (s.rate_limited OR coalesce(jsonb_typeof(p.error_type), 'null') <> 'null')
        AND {_NOT_PROXIED.format(t="s.")}
"""
_COLUMNS = {"agent": "agent_name", "model": "model", "provider": "provider"}
_GROUPINGS: tuple[CostGrouping, ...] = ("agent", "model", "provider")


@pytest.fixture
def url() -> Iterator[str]:
    """The URL of a store in a fresh schema (dropped afterwards)."""
    yield from fresh_store_url()


def _scanned(conn: Conn, group_by: CostGrouping, start: int, end: int) -> list[CostGroup]:
    sql = _SCAN.format(column=_COLUMNS[group_by])
    rows = conn.execute(sql.encode(), (start, end)).fetchall()
    return add_groups([[CostGroup(*row) for row in rows]])


def _problems(conn: Conn, start: int, end: int) -> list[LLMProblem]:
    rows = conn.execute(_SCAN_PROBLEMS.encode(), (start, end)).fetchall()
    return _in_order(
        LLMProblem(r[0], r[1].hex(), r[2].hex(), r[3], r[4], r[5], bool(r[6]), r[7]) for r in rows
    )


def _in_order(problems: Iterable[LLMProblem]) -> list[LLMProblem]:
    return sorted(problems, key=lambda p: (p.time_ns, p.trace_id, p.span_id))


def _windows(rng: random.Random) -> list[tuple[int | None, int | None]]:
    bounds = sorted(T0 + rng.randrange(-S, 7 * S) for _ in range(2))
    return [(None, None), (bounds[0], bounds[1]), (T0 + S, T0 + 3 * S - 1),
            (T0 + S + 1, T0 + S + 5), (bounds[0], None), (None, bounds[1]),
            (T0 + 2 * S, T0 + 4 * S), (T0 + S - 1, T0 + 2 * S - 1)]  # fmt: skip


def _check(
    costs: Any, problems: Any, conn: Conn, windows: list[tuple[int | None, int | None]]
) -> None:
    """``costs`` and ``problems`` (`llm_costs`, `llm_problems`) equal a scan on ``conn``."""
    for start, end in windows:
        low, high = -(2**63) if start is None else start, end or 2**63 - 1
        for group_by in _GROUPINGS:
            kept = costs(group_by, start, end)
            scanned = _scanned(conn, group_by, low, high)
            assert _comparable(kept) == _comparable(scanned), (group_by, start, end)
            assert [g.cost_usd for g in kept] == sorted((g.cost_usd for g in kept), reverse=True)
        assert _in_order(problems(low, high)) == _problems(conn, low, high), (start, end)


def _postgres_batches(rng: random.Random) -> list[list[Span]]:
    """`_batches`, with some calls starting on a whole second, some calls' attributes
    holding a NUL (kept as JSON text, not JSONB) and a few models holding one (stored with
    U+FFFD instead)."""
    changed: dict[int, Span] = {}

    def change(original: Span) -> Span:
        span = changed.get(id(original), original)
        if id(original) not in changed:
            if span.provider is not None and rng.random() < 0.2:
                start = span.start_time_ns // S * S
                span = dataclasses.replace(span, start_time_ns=start, end_time_ns=start + 1)
            if span.provider is not None and rng.random() < 0.2:
                span = dataclasses.replace(span, attributes={**span.attributes, "note": "a\x00b"})
            if span.model is not None and rng.random() < 0.05:
                span = dataclasses.replace(span, model=span.model + "\x00")
            changed[id(original)] = span
        return span

    return [[change(span) for span in batch] for batch in _batches(rng)]


@pytest.mark.parametrize("seed", range(8))
def test_sums_equal_a_scan_of_the_calls(url: str, seed: int) -> None:
    rng = random.Random(seed)
    store = PostgresStore(url)
    try:
        with store.url.connect() as conn:
            for batch in _postgres_batches(rng):
                store.write_spans(batch)
                _check(store.llm_costs, store.llm_problems, conn, _windows(rng))
            texts = conn.execute("SELECT count(*) FROM spans WHERE attributes_text IS NOT NULL")
            assert texts.fetchall()[0][0] > 0
            waiting = conn.execute("SELECT count(*) FROM attribution_pending").fetchall()
            assert waiting == [(0,)]  # every call waited for its root, and every root came
        everything = store.llm_costs("agent")
        assert None not in {g.key for g in everything}  # all calls attributed
        assert sum(g.requests for g in everything) > 0
    finally:
        store.close()


def _hot_batches(rng: random.Random, writer: int) -> list[list[Span]]:
    """Batches of calls with agents, all in the same few seconds and keys."""
    batches = []
    for number in range(15):
        trace = f"{writer:08x}{number:024x}"
        batch = []
        for call in range(1, 9):
            start = T0 + rng.randrange(0, 2 * S)
            batch.append(
                Span(trace, f"{call:016x}", "", "chat", SpanKind.CLIENT, start, start + 5,
                     StatusCode.ERROR if call == 1 else StatusCode.UNSET,
                     provider="openai", model=rng.choice(["gpt-4o", "gpt-4.1"]),
                     agent_name=rng.choice(["planner", "writer"]), input_tokens=call,
                     output_tokens=1, cost_usd=0.5, rate_limited=call == 2)
            )  # fmt: skip
        batches.append(batch)
    return batches


def test_writers_side_by_side_add_to_the_same_rows(url: str) -> None:
    rng = random.Random(11)
    stores = [PostgresStore(url) for _ in range(3)]
    work: list[list[list[Span]]] = [_hot_batches(rng, n) for n in range(3)]
    for batch in _postgres_batches(rng):  # traces spread over the writers, in any order
        work[rng.randrange(3)].append(batch)
    for batches in work:
        rng.shuffle(batches)
    start = threading.Barrier(3)
    failures: list[BaseException] = []

    def write(store: PostgresStore, batches: list[list[Span]]) -> None:
        try:
            start.wait()
            for batch in batches:
                store.write_spans(batch)
        except BaseException as error:  # reported by the test's thread
            failures.append(error)

    threads = [
        threading.Thread(target=write, args=(store, batches))
        for store, batches in zip(stores, work, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert not failures, failures
        with stores[0].url.connect() as conn:
            _check(stores[0].llm_costs, stores[0].llm_problems, conn, _windows(rng))
        hot = sum(g.requests for g in stores[0].llm_costs("provider") if g.key == "openai")
        assert hot >= 3 * 15 * 8
    finally:
        for store in stores:
            store.close()


def _call(trace: int, span: int, parent: int | None, start: int, **fields: Any) -> Span:
    return Span(f"{trace:032x}", f"{span:016x}", "" if parent is None else f"{parent:016x}",
                "chat", SpanKind.CLIENT, start, start + 5, **fields)  # fmt: skip


def test_each_tenant_reads_its_own_sums(url: str, tenant_role: str) -> None:
    acme = PostgresStore(f"{url}&tenant=acme")
    globex = PostgresStore(f"{url}&tenant=globex")
    try:
        for store, trace, agent in ((acme, 1, "planner"), (globex, 2, "writer")):
            store.write_spans([  # the calls first, their agent span a batch later
                _call(trace, 2, 1, T0 + S // 2, provider="openai", model="gpt-4o",
                      input_tokens=10, cost_usd=0.5),
                _call(trace, 3, 1, T0 + S // 2, provider="openai", model="gpt-4o",
                      rate_limited=True, attributes={"error.type": "429"}),
            ])  # fmt: skip
            store.write_spans([_call(trace, 1, None, T0, agent_name=agent)])
        # globex's writer brings the agent span of a trace whose calls acme's stored: the
        # calls get their agent, and their sums move within acme's rows.
        acme.write_spans([_call(3, 2, 1, T0 + 3 * S // 2, provider="openai", input_tokens=7)])
        globex.write_spans([_call(3, 1, None, T0, agent_name="research")])
        for tenant, agents in (("acme", {"planner", "research"}), ("globex", {"writer"})):
            with _as_role(url, tenant_role, **{"oracle.tenant_id": tenant}) as conn:
                assert conn.execute("SELECT count(*) FROM llm_seconds").fetchall() != [(0,)]
                costs = functools.partial(llm.llm_costs, conn)
                problems = functools.partial(llm.llm_problems, conn)
                _check(costs, problems, conn, _windows(random.Random(tenant)))
                assert {g.key for g in costs("agent", None, None)} == agents
                assert [p.error_type for p in problems(T0, T0 + S)] == ["429"]
    finally:
        acme.close()
        globex.close()


def test_retention_drops_the_sums_of_the_days_it_drops(url: str) -> None:
    today = time.time_ns() // DAY_NS * DAY_NS
    store = PostgresStore(url)
    try:
        for trace, start in ((1, today - 4 * DAY_NS + S), (2, today + S)):
            store.write_spans([
                _call(trace, 1, None, start, provider="openai", agent_name="a", input_tokens=3),
                _call(trace, 2, None, start, provider="openai", rate_limited=True),
            ])  # fmt: skip
        assert sum(g.requests for g in store.llm_costs("provider")) == 4
        store.retention_days = 2  # (without the thread a store with retention_days runs)
        assert len(store.drop_expired()) == 1
        with store.url.connect() as conn:
            _check(store.llm_costs, store.llm_problems, conn, [(None, None)])
            rows = conn.execute("SELECT count(*) FROM llm_seconds WHERE second < %s",
                                (today // S,)).fetchall()  # fmt: skip
            assert rows == [(0,)]
        assert sum(g.requests for g in store.llm_costs("provider")) == 2
        assert len(store.llm_problems(-(2**63), 2**63 - 1)) == 1
    finally:
        store.close()


def test_the_migration_folds_in_the_calls_stored_before(url: str) -> None:
    rng = random.Random(5)
    store, acme = PostgresStore(url), PostgresStore(f"{url}&tenant=acme")
    try:
        for batch in _postgres_batches(rng):
            store.write_spans(batch)
        acme.write_spans(
            [_call(99, 1, None, T0 + S, provider="openai", input_tokens=5, rate_limited=True)]
        )
        windows = _windows(rng)
        reads = [
            (store.llm_costs(group_by, start, end), store.llm_problems(start or 0, end or T0 * 2))
            for start, end in windows
            for group_by in _GROUPINGS
        ]
        (version,) = [m.version for m in MIGRATIONS if m.name == "llm_seconds"]
        with StoreURL.parse(url).connect() as conn:  # as a database at the migration before
            conn.execute("DROP TABLE llm_seconds, llm_problem_calls")
            conn.execute("DELETE FROM oracle_schema_migrations WHERE version = %s", (version,))
    finally:
        store.close()
        acme.close()
    migrated = PostgresStore(url)  # applies the migration
    try:
        again = [
            (migrated.llm_costs(group_by, start, end),
             migrated.llm_problems(start or 0, end or T0 * 2))
            for start, end in windows
            for group_by in _GROUPINGS
        ]  # fmt: skip
        assert [(_comparable(c), p) for c, p in again] == [(_comparable(c), p) for c, p in reads]
        assert any(p for _, p in reads) and all(c for c, _ in reads[:3])
        with migrated.url.connect() as conn:
            _check(migrated.llm_costs, migrated.llm_problems, conn, windows)
            tenants = conn.execute("SELECT DISTINCT tenant_id FROM llm_seconds ORDER BY 1")
            assert tenants.fetchall() == [("acme",), ("default",)]
    finally:
        migrated.close()
