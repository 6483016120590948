"""The one conformance suite of the `Store` contract (``oracle_monitor.store.base``).

Every test runs once per backend in `BACKENDS`. To add a backend, add one entry: its name and a
generator that yields the URL of a fresh, empty store for `open_store` (and cleans up after
the ``yield`` if it has to, e.g. drops a PostgreSQL schema).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from oracle_monitor.model import (
    InfraEvent,
    Severity,
    Span,
    SpanEvent,
    SpanKind,
    SpanLink,
    StatusCode,
)
from oracle_monitor.store import EventQuery, Store, TraceQuery, TraceSummary, open_store
from tests.integration.postgres import fresh_store_url
from tests.integration.supabase_api import fresh_supabase_store_url


def _sqlite(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'store' / 'spans.db'}"


def _postgresql(tmp_path: Path) -> Iterator[str]:
    yield from fresh_store_url()


def _supabase(tmp_path: Path) -> Iterator[str]:
    # Events, snapshots and alerts through PostgREST (the fake, on the real PostgreSQL, with
    # a small max-rows), spans in SQLite: every test runs on the composed store.
    yield from fresh_supabase_store_url(tmp_path)


#: Backend name -> generator of the URL of a fresh, empty store.
BACKENDS: dict[str, Callable[[Path], Iterator[str]]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
    "supabase": _supabase,
}

T0 = 1_700_000_000_000_000_000  # a start time, in unix nanoseconds


@pytest.fixture(params=sorted(BACKENDS))
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty store of each backend."""
    yield from BACKENDS[request.param](tmp_path)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open store at `store_url`, closed after the test."""
    opened = open_store(store_url)
    yield opened
    opened.close()


def tid(number: int) -> str:
    """A trace id (32 lowercase hex digits)."""
    return f"{number:032x}"


def sid(number: int) -> str:
    """A span id (16 lowercase hex digits)."""
    return f"{number:016x}"


def make_span(
    trace: int,
    span: int,
    parent: int | None = None,
    *,
    start: int = 0,
    duration: int = 100,
    service: str = "svc-a",
    **fields: Any,
) -> Span:
    """A span of trace ``trace``, child of span ``parent`` (a root when ``None``)."""
    return Span(
        trace_id=tid(trace),
        span_id=sid(span),
        parent_span_id="" if parent is None else sid(parent),
        name=fields.pop("name", f"span-{span}"),
        kind=fields.pop("kind", SpanKind.INTERNAL),
        start_time_ns=T0 + start,
        end_time_ns=T0 + start + duration,
        service_name=service,
        **fields,
    )


def typed(value: Any) -> Any:
    """``value`` with the type of every scalar spelled out, so ``3 != 3.0`` and ``1 != True``."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


def assert_same_spans(got: Sequence[Span], expected: Sequence[Span]) -> None:
    """Equal spans, with equal attribute value types everywhere."""
    assert got == expected
    for a, b in zip(got, expected, strict=True):
        assert typed(a.attributes) == typed(b.attributes)
        assert typed(a.resource) == typed(b.resource)
        assert [typed(e.attributes) for e in a.events] == [typed(e.attributes) for e in b.events]
        assert [typed(k.attributes) for k in a.links] == [typed(k.attributes) for k in b.links]
        assert type(a.kind) is SpanKind
        assert type(a.status_code) is StatusCode


def summary(store: Store, trace: int) -> TraceSummary:
    """The summary of one trace, found through `find_traces`."""
    found = [s for s in store.find_traces(TraceQuery(limit=1000)) if s.trace_id == tid(trace)]
    assert len(found) == 1
    return found[0]


EVERY_TYPE: dict[str, Any] = {
    "str": "hello",
    "empty.str": "",
    "unicode": '日本語 ✓ \x00 "quoted" \\',
    "true": True,
    "false": False,
    "int": 3,
    "zero": 0,
    "negative": -42,
    "int64.max": 2**63 - 1,
    "int64.min": -(2**63),
    "float.integral": 3.0,
    "float": 0.1,
    "float.negative": -2.5e-300,
    "bytes": b"\x00\x01\xfe\xff",
    "bytes.empty": b"",
    "none": None,
    "list": [1, "a", 2.0, True, None, b"\x07", [1, [2.0]], {"k": "v"}],
    "list.empty": [],
    "dict": {"a": 1, "b": {"c": [b"x", 1.0]}, "d": None},
    "dict.empty": {},
    "dict.like.bytes": {"bytesValue": "aGk="},
    "dict.like.kvlist": {"kvlistValue": {"x": 1}},
    "bytesValue": "a string under a key that looks like a wrapper",
}


def full_span() -> Span:
    """A span with every field set to something other than its default."""
    return Span(
        trace_id="0af7651916cd43dd8448eb211c80319c",
        span_id="b7ad6b7169203331",
        parent_span_id="00f067aa0ba902b7",
        name="chat gpt-4o",
        kind=SpanKind.CLIENT,
        start_time_ns=T0 + 123,
        end_time_ns=T0 + 456_789,
        status_code=StatusCode.ERROR,
        status_message="rate limited",
        attributes=dict(EVERY_TYPE),
        events=[
            SpanEvent(T0 + 200, "exception", {"exception.type": "Timeout", "raw": b"\x01"}, 2),
            SpanEvent(T0 + 300, "retry"),
        ],
        links=[
            SpanLink(tid(99), sid(98), "vendor=1", {"why": "handoff", "n": 2.0}, 1, 3),
            SpanLink(tid(97), sid(96)),
        ],
        resource={"service.name": "planner", "host.ids": [1, 2], "k8s.pod.uid": b"\x09"},
        scope_name="oracle.agent",
        scope_version="1.2.3",
        trace_state="congo=t61rcWkgMzE",
        flags=257,
        dropped_attributes_count=1,
        dropped_events_count=2,
        dropped_links_count=3,
        service_name="planner",
        agent_name="planner-agent",
        provider="openai",
        model="gpt-4o",
        input_tokens=1200,
        output_tokens=340,
        cache_read_tokens=100,
        cache_creation_tokens=50,
        reasoning_tokens=70,
        pod_name="planner-7d9f",
        namespace="agents",
        task_id="task-42",
    )


# -- round trip ------------------------------------------------------------------------------


def test_every_field_round_trips(store: Store) -> None:
    span = full_span()
    store.write_spans([span])
    assert_same_spans(store.get_trace(span.trace_id), [full_span()])


def test_defaults_round_trip(store: Store) -> None:
    span = Span(tid(1), sid(1), "", "root", SpanKind.UNSPECIFIED, T0, T0)
    store.write_spans([span])
    got = store.get_trace(tid(1))
    assert_same_spans(got, [Span(tid(1), sid(1), "", "root", SpanKind.UNSPECIFIED, T0, T0)])
    assert got[0].parent_span_id == ""
    assert got[0].agent_name is None
    assert got[0].input_tokens is None


def test_empty_strings_stay_strings(store: Store) -> None:
    span = make_span(1, 1, agent_name="", model="", status_message="", input_tokens=0)
    store.write_spans([span])
    (got,) = store.get_trace(tid(1))
    assert (got.agent_name, got.model, got.input_tokens) == ("", "", 0)


def test_spans_come_back_ordered_by_start_then_span_id(store: Store) -> None:
    spans = [
        make_span(1, 1, 9, start=20),
        make_span(1, 4, 9, start=10),
        make_span(1, 9, None, start=0),
        make_span(1, 2, 9, start=10),
    ]
    store.write_spans(spans[:2])
    store.write_spans(spans[2:])
    assert [s.span_id for s in store.get_trace(tid(1))] == [sid(9), sid(2), sid(4), sid(1)]


def test_spans_of_other_traces_stay_out(store: Store) -> None:
    store.write_spans([make_span(1, 1), make_span(2, 2), make_span(1, 3, 1)])
    assert {s.span_id for s in store.get_trace(tid(1))} == {sid(1), sid(3)}
    assert [s.trace_id for s in store.get_trace(tid(2))] == [tid(2)]


def test_unknown_trace_is_empty(store: Store) -> None:
    assert store.get_trace(tid(1)) == []
    store.write_spans([make_span(1, 1)])
    assert store.get_trace(tid(2)) == []


def test_empty_batch_writes_nothing(store: Store) -> None:
    store.write_spans([])
    assert store.count_spans() == 0
    assert store.find_traces(TraceQuery()) == []


def test_large_batch(store: Store) -> None:
    traces, per_trace = 469, 5  # 2,345 spans: not a multiple of any chunk size
    spans = [
        make_span(t, s, None if s == 1 else 1, start=t, input_tokens=s)
        for t in range(1, traces + 1)
        for s in range(1, per_trace + 1)
    ]
    store.write_spans(spans)
    store.write_spans(spans[1000:1200])  # all duplicates
    assert store.count_spans() == traces * per_trace
    summaries = store.find_traces(TraceQuery(limit=1000))
    assert [s.trace_id for s in summaries] == [tid(t) for t in range(traces, 0, -1)]
    assert {(s.span_count, s.input_tokens) for s in summaries} == {(5, 15)}


def test_failed_write_leaves_a_consistent_store(store: Store) -> None:
    store.write_spans([make_span(1, 1)])
    bad = make_span(2, 2, attributes={"unsupported": object()})
    with pytest.raises(TypeError):
        store.write_spans([make_span(2, 1), bad])
    summaries = store.find_traces(TraceQuery(limit=1000))
    assert store.count_spans() == sum(s.span_count for s in summaries)
    store.write_spans([make_span(3, 1)])
    assert len(store.get_trace(tid(3))) == 1
    assert len(store.get_trace(tid(1))) == 1


# -- idempotency -----------------------------------------------------------------------------


def tokens_batch() -> list[Span]:
    return [
        make_span(1, 1, None, start=0, input_tokens=100, output_tokens=10),
        make_span(
            1, 2, 1, start=5, input_tokens=200, output_tokens=20, status_code=StatusCode.ERROR
        ),
        make_span(1, 3, 1, start=9, input_tokens=300, output_tokens=30),
    ]


def test_writing_a_batch_twice_changes_nothing(store: Store) -> None:
    store.write_spans(tokens_batch())
    before = (store.get_trace(tid(1)), summary(store, 1), store.count_spans())
    store.write_spans(tokens_batch())
    assert (store.get_trace(tid(1)), summary(store, 1), store.count_spans()) == before
    assert before[1].span_count == 3
    assert before[1].error_count == 1
    assert (before[1].input_tokens, before[1].output_tokens) == (600, 60)


def test_overlapping_batches_count_each_span_once(store: Store) -> None:
    first, second, third = tokens_batch()
    fourth = make_span(1, 4, 1, start=12, input_tokens=400, status_code=StatusCode.ERROR)
    store.write_spans([first, second])
    store.write_spans([second, third, fourth])
    assert store.count_spans() == 4
    got = summary(store, 1)
    assert (got.span_count, got.error_count) == (4, 2)
    assert (got.input_tokens, got.output_tokens) == (1000, 60)
    assert got.root_name == first.name


def test_duplicates_inside_one_batch_count_once(store: Store) -> None:
    first, second, third = tokens_batch()
    other = make_span(2, 7, None, input_tokens=5)
    store.write_spans([first, second, first, third, second, other])
    assert store.count_spans() == 4
    assert len(store.get_trace(tid(1))) == 3
    got = summary(store, 1)
    assert (got.span_count, got.error_count, got.input_tokens) == (3, 1, 600)
    assert (summary(store, 2).span_count, summary(store, 2).input_tokens) == (1, 5)


def test_rewriting_a_span_with_other_content_changes_nothing(store: Store) -> None:
    store.write_spans(tokens_batch())
    changed = make_span(1, 2, 1, start=5, name="renamed", input_tokens=9999, service="svc-z")
    store.write_spans([changed])
    assert [s.name for s in store.get_trace(tid(1))] == ["span-1", "span-2", "span-3"]
    got = summary(store, 1)
    assert (got.span_count, got.input_tokens, got.services) == (3, 600, ("svc-a",))


# -- summaries -------------------------------------------------------------------------------


def test_summary_of_one_batch(store: Store) -> None:
    store.write_spans(
        [
            make_span(1, 1, None, start=0, duration=1000, service="gateway", name="task"),
            make_span(1, 2, 1, start=10, service="planner", agent_name="planner", input_tokens=7),
            make_span(1, 3, 1, start=20, duration=5000, service="coder", agent_name="coder"),
            make_span(1, 4, 3, start=30, service="coder", agent_name="coder", output_tokens=3),
        ]
    )
    assert store.find_traces(TraceQuery()) == [
        TraceSummary(
            trace_id=tid(1),
            root_name="task",
            root_service="gateway",
            services=("coder", "gateway", "planner"),
            agents=("coder", "planner"),
            start_time_ns=T0,
            end_time_ns=T0 + 5020,
            span_count=4,
            error_count=0,
            input_tokens=7,
            output_tokens=3,
        )
    ]


def test_root_arriving_in_a_later_batch_takes_over(store: Store) -> None:
    store.write_spans(
        [
            make_span(1, 2, 1, start=10, name="late-child", service="svc-b", agent_name="b"),
            make_span(1, 3, 1, start=5, name="early-child", service="svc-c", agent_name="c"),
        ]
    )
    before = summary(store, 1)
    assert (before.root_name, before.root_service) == ("early-child", "svc-c")
    assert (before.start_time_ns, before.span_count) == (T0 + 5, 2)

    # The root starts after its children (clock skew): it is the root all the same.
    store.write_spans([make_span(1, 1, None, start=7, duration=500, name="root")])
    after = summary(store, 1)
    assert (after.root_name, after.root_service) == ("root", "svc-a")
    assert (after.start_time_ns, after.end_time_ns) == (T0 + 5, T0 + 507)
    assert after.services == ("svc-a", "svc-b", "svc-c")
    assert after.agents == ("b", "c")
    assert after.span_count == 3

    store.write_spans([make_span(1, 4, 1, start=1, name="earliest-child")])
    last = summary(store, 1)
    assert (last.root_name, last.start_time_ns, last.span_count) == ("root", T0 + 1, 4)
    assert last.duration_ns == 506


def test_summary_totals(store: Store) -> None:
    store.write_spans(tokens_batch())
    got = summary(store, 1)
    assert got.total_tokens == 660
    assert got.duration_ns == 109


# -- find_traces -----------------------------------------------------------------------------


@pytest.fixture
def four_traces(store: Store) -> Store:
    """Traces 1-4, starting 1000 ns apart (trace 4 newest)."""
    error = StatusCode.ERROR
    store.write_spans(
        [
            make_span(1, 11, None, start=1000, service="svc-a", agent_name="planner"),
            make_span(1, 12, 11, start=1001, service="svc-b"),
            make_span(2, 21, None, start=2000, service="svc-b", agent_name="coder"),
            make_span(2, 22, 21, start=2001, service="svc-b", status_code=error),
            make_span(3, 31, None, start=3000, service="svc-c", status_code=StatusCode.OK),
        ]
    )
    store.write_spans(
        [
            make_span(4, 41, None, start=4000, service="svc-a", agent_name="planner"),
            make_span(
                4, 42, 41, start=4001, service="svc-a", agent_name="coder", status_code=error
            ),
        ]
    )
    return store


def found(store: Store, **query: Any) -> list[str]:
    return [s.trace_id for s in store.find_traces(TraceQuery(**query))]


def test_find_traces_newest_first(four_traces: Store) -> None:
    assert found(four_traces) == [tid(4), tid(3), tid(2), tid(1)]


def test_find_traces_by_service(four_traces: Store) -> None:
    assert found(four_traces, service="svc-a") == [tid(4), tid(1)]
    assert found(four_traces, service="svc-b") == [tid(2), tid(1)]  # a child's service counts
    assert found(four_traces, service="svc") == []  # whole names only
    assert found(four_traces, service="nope") == []


def test_find_traces_by_agent(four_traces: Store) -> None:
    assert found(four_traces, agent="coder") == [tid(4), tid(2)]
    assert found(four_traces, agent="planner") == [tid(4), tid(1)]
    assert found(four_traces, agent="plan") == []


def test_find_traces_by_status(four_traces: Store) -> None:
    assert found(four_traces, status="error") == [tid(4), tid(2)]
    assert found(four_traces, status="ok") == [tid(3), tid(1)]


def test_find_traces_by_start_time_inclusive(four_traces: Store) -> None:
    assert found(four_traces, start_ns=T0 + 2000) == [tid(4), tid(3), tid(2)]
    assert found(four_traces, end_ns=T0 + 3000) == [tid(3), tid(2), tid(1)]
    assert found(four_traces, start_ns=T0 + 2000, end_ns=T0 + 3000) == [tid(3), tid(2)]
    assert found(four_traces, start_ns=T0 + 2001, end_ns=T0 + 2999) == []


def test_find_traces_limit_and_combined_filters(four_traces: Store) -> None:
    assert found(four_traces, limit=2) == [tid(4), tid(3)]
    assert found(four_traces, limit=1, service="svc-b") == [tid(2)]
    assert found(four_traces, service="svc-a", status="ok", agent="planner") == [tid(1)]
    assert found(four_traces, service="svc-a", status="error", start_ns=T0 + 4001) == []


def test_count_spans(store: Store) -> None:
    assert store.count_spans() == 0
    store.write_spans(tokens_batch())
    store.write_spans([make_span(2, 1)])
    assert store.count_spans() == 4


# -- durability and concurrency ----------------------------------------------------------------


def test_data_survives_close_and_reopen(store_url: str) -> None:
    first = open_store(store_url)
    first.write_spans([full_span(), *tokens_batch()])
    expected_trace = first.get_trace(tid(1))
    expected_summaries = first.find_traces(TraceQuery())
    first.close()
    first.close()  # idempotent

    second = open_store(store_url)
    try:
        assert second.count_spans() == 4
        assert_same_spans(second.get_trace(full_span().trace_id), [full_span()])
        assert second.get_trace(tid(1)) == expected_trace
        assert second.find_traces(TraceQuery()) == expected_summaries
        second.write_spans([make_span(1, 9, 1, start=50, input_tokens=1), make_span(3, 1)])
        assert summary(second, 1).span_count == 4
        assert summary(second, 1).input_tokens == 601
        assert second.count_spans() == 6
    finally:
        second.close()


def test_readers_in_other_threads_see_whole_batches(store: Store) -> None:
    spans_per_trace, traces_per_batch, batches = 4, 5, 12
    errors: list[BaseException] = []
    torn: list[str] = []
    reads = [0]
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                for trace in range(1, traces_per_batch * batches + 1, 3):
                    if len(store.get_trace(tid(trace))) not in (0, spans_per_trace):
                        torn.append(tid(trace))
                for s in store.find_traces(TraceQuery(limit=50)):
                    if s.span_count != spans_per_trace:
                        torn.append(s.trace_id)
                store.count_spans()
                reads[0] += 1
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for batch in range(batches):
            traces = range(batch * traces_per_batch + 1, (batch + 1) * traces_per_batch + 1)
            store.write_spans(
                [make_span(t, s + 1, None if s == 0 else 1) for t in traces for s in range(4)]
            )
    finally:
        done.set()
        for reader in readers:
            reader.join()
    assert errors == []
    assert torn == []
    assert reads[0] > 0
    assert store.count_spans() == spans_per_trace * traces_per_batch * batches


# -- open_store ------------------------------------------------------------------------------


def test_open_store_rejects_unknown_schemes() -> None:
    with pytest.raises(ValueError, match="sqlite://"):
        open_store("mongodb://localhost/spans")
    with pytest.raises(ValueError, match="supported"):
        open_store("spans.db")


def test_open_store_sqlite_relative_and_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///rel/dir/spans.db?synchronous=FULL")
    relative.write_spans([make_span(1, 1)])
    relative.close()
    assert (tmp_path / "rel" / "dir" / "spans.db").is_file()
    absolute = open_store(f"sqlite:///{tmp_path}/rel/dir/spans.db")
    try:
        assert absolute.count_spans() == 1
    finally:
        absolute.close()
    with pytest.raises(ValueError, match="unknown sqlite URL options"):
        open_store("sqlite:///x.db?cache=shared")


def _llm(span: int, start: int, **fields: Any) -> Span:
    return make_span(1, span, 100, start=start, **fields)


LLM_CALLS = [
    _llm(1, 0, provider="openai", model="gpt-4o", agent_name="research", input_tokens=100,
         output_tokens=10, cache_read_tokens=40, cost_usd=0.5),
    _llm(2, 10, provider="openai", model="gpt-4o", agent_name="writer", input_tokens=200,
         output_tokens=20, reasoning_tokens=5, cost_usd=1.0),
    _llm(3, 20, provider="openai", model="gpt-4o", agent_name="research", rate_limited=True),
    _llm(4, 30, provider="anthropic", model="claude-sonnet-4-5", agent_name="research",
         input_tokens=50, output_tokens=5, cache_creation_tokens=7, cost_usd=0.25),
    _llm(5, 40, provider="openai", model="mystery-model", agent_name="writer", input_tokens=9),
    _llm(10, 45, provider="anthropic", model="claude-sonnet-4-5", agent_name="writer",
         status_code=StatusCode.ERROR),
    # Not LLM calls: a provider without tokens or a rate limit, and tokens without a provider.
    _llm(6, 50, provider="openai", model="gpt-4o"),
    _llm(7, 60, input_tokens=1000),
]  # fmt: skip


def test_llm_costs_group_by_model(store: Store) -> None:
    store.write_spans(LLM_CALLS)
    groups = {group.key: group for group in store.llm_costs("model")}
    assert list(groups) == ["gpt-4o", "claude-sonnet-4-5", "mystery-model"]  # costliest first
    gpt = groups["gpt-4o"]
    assert (gpt.requests, gpt.rate_limited, gpt.errors) == (3, 1, 0)
    assert (gpt.input_tokens, gpt.output_tokens) == (300, 30)
    assert (gpt.cache_read_tokens, gpt.reasoning_tokens) == (40, 5)
    assert gpt.cost_usd == pytest.approx(1.5)
    assert gpt.unpriced_requests == 0
    assert groups["claude-sonnet-4-5"].cache_creation_tokens == 7
    assert (groups["claude-sonnet-4-5"].requests, groups["claude-sonnet-4-5"].errors) == (2, 1)
    assert groups["mystery-model"].unpriced_requests == 1
    assert groups["mystery-model"].cost_usd == 0.0


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        ("agent", {"research": (3, 0.75), "writer": (3, 1.0)}),
        ("provider", {"openai": (4, 1.5), "anthropic": (2, 0.25)}),
    ],
)
def test_llm_costs_group_by_agent_and_provider(
    store: Store, group_by: Any, expected: dict[str, tuple[int, float]]
) -> None:
    store.write_spans(LLM_CALLS)
    found = {g.key: (g.requests, round(g.cost_usd, 9)) for g in store.llm_costs(group_by)}
    assert found == expected


def test_llm_costs_time_window(store: Store) -> None:
    store.write_spans(LLM_CALLS)
    window = store.llm_costs("agent", T0 + 5, T0 + 30)
    assert {g.key: g.requests for g in window} == {"writer": 1, "research": 2}
    assert store.llm_costs("model", T0 + 10**12) == []


def _event(kind: str, entity: str, at: int, **attributes: Any) -> InfraEvent:
    return InfraEvent(T0 + at, kind.split(":")[0], kind.split(":")[1], entity,
                      Severity.ERROR if "oom" in kind else Severity.INFO,
                      f"{kind} on {entity}", attributes)  # fmt: skip


EVENTS = [
    _event("k8s:oom_killed", "pod/agents/research-1", 10, **{"k8s.pod.name": "research-1"}),
    _event("k8s:pod_rescheduled", "pod/agents/research-2", 20, restarts=3, ratio=0.5),
    _event("kafka:lag_spike", "partition/tool-responses/0", 5, lag_seconds=5.5),
    _event("k8s:oom_killed", "pod/agents/research-1", 30),
]


def test_events_round_trip_newest_first(store: Store) -> None:
    store.write_events(EVENTS)
    found = store.find_events(EventQuery())
    assert [e.time_ns for e in found] == [T0 + 30, T0 + 20, T0 + 10, T0 + 5]
    stored = {e.event_id: e for e in found}
    for event in EVENTS:
        assert stored[event.event_id] == event  # every field, attribute types included


def test_events_are_idempotent(store: Store) -> None:
    store.write_events(EVENTS)
    store.write_events(EVENTS[:2])
    store.write_events([InfraEvent(T0 + 10, "k8s", "oom_killed", "pod/agents/research-1")])
    assert len(store.find_events(EventQuery(limit=1000))) == len(EVENTS)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (EventQuery(source="kafka"), [5]),
        (EventQuery(kind="oom_killed"), [30, 10]),
        (EventQuery(entity="pod/agents/research-1"), [30, 10]),
        (EventQuery(entity="pod/agents/*"), [30, 20, 10]),
        (EventQuery(entity="pod/agents/research"), []),
        (EventQuery(start_ns=T0 + 10, end_ns=T0 + 20), [20, 10]),
        (EventQuery(limit=1), [30]),
        (EventQuery(source="k8s", kind="pod_rescheduled"), [20]),
    ],
)
def test_event_filters(store: Store, query: EventQuery, expected: list[int]) -> None:
    store.write_events(EVENTS)
    assert [e.time_ns - T0 for e in store.find_events(query)] == expected


def test_llm_problems(store: Store) -> None:
    quota = {"error.type": "insufficient_quota"}
    store.write_spans(
        [
            *LLM_CALLS,
            _llm(8, 70, provider="openai", model="gpt-4o", agent_name="writer", attributes=quota),
            _llm(9, 80, attributes={"error.type": "timeout"}),  # no provider: not an LLM call
        ]
    )
    problems = store.llm_problems(T0, T0 + 1000)
    assert [(p.span_id, p.rate_limited, p.error_type) for p in problems] == [
        (sid(3), True, None),
        (sid(8), False, "insufficient_quota"),
    ]
    assert problems[1].trace_id == tid(1)
    assert (problems[1].provider, problems[1].model, problems[1].agent) == (
        "openai", "gpt-4o", "writer",
    )  # fmt: skip
    assert store.llm_problems(T0 + 75, T0 + 1000) == []


def test_llm_attempts_the_proxy_records_are_not_counted_twice(store: Store) -> None:
    """A client's span of an attempt through the LLM proxy (``usage_reported_by=proxy``)."""
    proxied = {"oracle.llm.usage_reported_by": "proxy", "error.type": "rate_limit_exceeded"}
    store.write_spans(
        [
            _llm(1, 0, provider="openai", model="gpt-4o", agent_name="research",
                 rate_limited=True, status_code=StatusCode.ERROR,
                 attributes={"error.type": "rate_limit_exceeded"}),  # the proxy's span
            _llm(2, 0, provider="openai", model="gpt-4o", rate_limited=True,
                 status_code=StatusCode.ERROR, attributes=proxied),  # the client's
            _llm(3, 10, provider="openai", model="gpt-4o", status_code=StatusCode.ERROR,
                 attributes={"oracle.llm.usage_reported_by": "proxy"}),
            _llm(4, 20, provider="openai", model="gpt-4o", rate_limited=True,
                 attributes={"oracle.llm.usage_reported_by": "parent"}),  # still counts
        ]
    )  # fmt: skip
    (group,) = store.llm_costs("model")
    assert (group.requests, group.rate_limited, group.errors) == (2, 2, 1)
    problems = store.llm_problems(T0, T0 + 1000)
    assert [p.span_id for p in problems] == [sid(1), sid(4)]


def test_llm_calls_whose_attributes_hold_a_nul(store: Store) -> None:
    """Attributes holding a NUL character (which PostgreSQL keeps as JSON text, not JSONB)
    still say whether a call is the proxy's and what its error is."""
    nul = {"note": "a\x00b"}
    store.write_spans(
        [
            _llm(1, 0, provider="openai", model="gpt-4o", rate_limited=True,
                 attributes={**nul, "error.type": "429"}),
            _llm(2, 10, provider="openai", model="gpt-4o", status_code=StatusCode.ERROR,
                 attributes={**nul, "oracle.llm.usage_reported_by": "proxy", "error.type": "x"}),
            _llm(3, 20, provider="openai", model="gpt-4o", input_tokens=5, attributes=nul),
        ]
    )  # fmt: skip
    for start, end in ((None, None), (T0, T0 + 30)):
        (group,) = store.llm_costs("model", start, end)
        assert (group.requests, group.rate_limited, group.errors, group.input_tokens) == (
            2, 1, 0, 5,
        )  # fmt: skip
    problems = store.llm_problems(T0, T0 + 1000)
    assert [(p.span_id, p.rate_limited, p.error_type) for p in problems] == [(sid(1), True, "429")]


def test_get_task_spans_every_trace_of_the_task(store: Store) -> None:
    store.write_spans(
        [
            make_span(1, 1, task_id="task-7", start=0),
            make_span(1, 2, 1, start=5),  # no task id of its own: its trace has one
            make_span(2, 3, task_id="task-7", start=100),  # the retry, in a new trace
            make_span(3, 4, task_id="task-8", start=50),
        ]
    )
    spans = store.get_task("task-7")
    assert [(s.trace_id, s.span_id) for s in spans] == [
        (tid(1), sid(1)), (tid(1), sid(2)), (tid(2), sid(3)),
    ]  # fmt: skip
    assert store.get_task("task-unknown") == []


def test_recent_agent_spans_newest_first_since(store: Store) -> None:
    store.write_spans(
        [
            make_span(1, 1, agent_name="research", start=0, attributes={"k": 1}),
            make_span(1, 2, 1, agent_name="research", start=50, pod_name="p-1"),
            make_span(2, 3, agent_name="writer", start=100, task_id="t-1"),
            make_span(2, 4, 3, start=150),  # its agent and task are its parent's
            make_span(3, 5, start=160),  # no agent anywhere in its trace
        ]
    )
    spans = store.recent_agent_spans(T0 + 50)
    assert [(s.trace_id, s.span_id, s.agent_name) for s in spans] == [
        (tid(2), sid(4), "writer"), (tid(2), sid(3), "writer"), (tid(1), sid(2), "research"),
    ]  # fmt: skip
    assert spans[0].agent_from == sid(3) and spans[0].task_id == "t-1"
    assert spans[1].agent_from is None
    assert spans[1].task_id == "t-1" and spans[2].pod_name == "p-1"
    assert spans[2].parent_span_id == sid(1)
    assert [s.span_id for s in store.recent_agent_spans(T0, limit=1)] == [sid(4)]
    assert store.recent_agent_spans(T0 + 151) == []


def _snap(n: int) -> dict[str, Any]:
    return {"n": n, "nested": {"list": [1, 2.5, None, "x"], "big": 2**62}}


def test_snapshots_round_trip_latest_and_at(store: Store) -> None:
    assert store.latest_snapshot() is None
    assert store.snapshot_at(T0) is None
    for n in (3, 1, 2):  # out of order
        store.write_snapshot(T0 + n * 1000, _snap(n))
    assert store.latest_snapshot() == (T0 + 3000, _snap(3))
    assert store.snapshot_at(T0 + 2000) == (T0 + 2000, _snap(2))
    assert store.snapshot_at(T0 + 2999) == (T0 + 2000, _snap(2))
    assert store.snapshot_at(T0 + 10**9) == (T0 + 3000, _snap(3))
    assert store.snapshot_at(T0 + 999) is None


def test_write_snapshot_is_idempotent_on_timestamp(store: Store) -> None:
    store.write_snapshot(T0, _snap(1))
    store.write_snapshot(T0, _snap(1))
    store.write_snapshot(T0, _snap(2))  # same time: the first stays
    assert store.snapshot_series(T0 - 10, T0 + 10, 1) == [(T0, _snap(1))]
    assert store.latest_snapshot() == (T0, _snap(1))


def test_snapshot_series_keeps_the_last_of_each_step(store: Store) -> None:
    base = T0 - T0 % 1500  # buckets are aligned on the epoch
    for n in range(10):  # one every 100 ns
        store.write_snapshot(base + n * 100, _snap(n))
    assert [ts - base for ts, _ in store.snapshot_series(base, base + 900, 100)] == [
        0, 100, 200, 300, 400, 500, 600, 700, 800, 900,
    ]  # fmt: skip
    series = store.snapshot_series(base, base + 900, 300)  # [0,300) [300,600) [600,900) [900]
    assert [(ts - base, snap["n"]) for ts, snap in series] == [
        (200, 2), (500, 5), (800, 8), (900, 9),
    ]  # fmt: skip
    series = store.snapshot_series(base + 150, base + 650, 250)  # [150,250) [250,500) [500,650]
    assert [ts - base for ts, _ in series] == [200, 400, 600]
    assert store.snapshot_series(base + 2000, base + 3000, 100) == []
    with pytest.raises(ValueError, match="step"):
        store.snapshot_series(base, base + 900, 0)


def test_snapshots_survive_close_and_reopen(store_url: str) -> None:
    first = open_store(store_url)
    first.write_snapshot(T0, _snap(1))
    first.close()
    again = open_store(store_url)
    try:
        assert again.latest_snapshot() == (T0, _snap(1))
    finally:
        again.close()
