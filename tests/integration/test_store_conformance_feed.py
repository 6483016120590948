"""What stores keep per agent and second (`AgentSecondsFeed`): the same on every store backend
(see `tests.integration.test_store_conformance`, whose fixtures run each test once per
backend). A first read returns the agent seconds of the whole window, however many spans it
holds; later ones those changed since; a span counts once, when it has its agent, whether it
was stored with it or given it later by hierarchy; a span given its task later updates its
second."""

from __future__ import annotations

from typing import Any

from oracle_monitor.model import Span, SpanKind, StatusCode
from oracle_monitor.store import AgentSecond, Store
from oracle_monitor.store.agent_seconds import SECOND_NS, TASK
from tests.integration.test_store_conformance import T0, sid, store, store_url, tid

__all__ = ["store", "store_url"]
S = 1_000_000_000


def span(trace: int, number: int, parent: int | None, start_s: float, **fields: Any) -> Span:
    start = T0 + int(start_s * S)
    return Span(
        trace_id=tid(trace), span_id=sid(number),
        parent_span_id="" if parent is None else sid(parent), name=f"span-{number}",
        kind=SpanKind.INTERNAL, start_time_ns=start,
        end_time_ns=start + int(fields.pop("duration_s", 1) * S), **fields,
    )  # fmt: skip


def by_second(seconds: list[AgentSecond]) -> dict[tuple[str, int], tuple[int, int, int]]:
    """(agent, second from T0) -> spans, input tokens, errors, over the writers' shares."""
    found: dict[tuple[str, int], tuple[int, int, int]] = {}
    for s in seconds:
        key = (s.agent_name, s.second - T0 // SECOND_NS)
        spans, tokens, errors = found.get(key, (0, 0, 0))
        found[key] = (spans + s.spans, tokens + s.input_tokens, errors + s.errors)
    return found


def test_a_first_read_covers_every_agent_span_of_the_window(store: Store) -> None:
    spans = [
        span(n // 10 + 1, n, None if n % 10 == 0 else n - n % 10, 100 + n / 1000,
             agent_name="a" if n % 2 else "b", input_tokens=1)
        for n in range(1, 10_031)
    ]  # fmt: skip
    spans += [span(20_000, 20_000, None, 100), span(20_001, 20_001, None, 50, agent_name="old")]
    store.write_spans(spans)
    read = store.agent_seconds(T0 + 60 * S)
    assert read.full
    assert sum(s.spans for s in read.seconds) == 10_030
    assert sum(s.input_tokens for s in read.seconds) == 10_030
    assert {s.agent_name for s in read.seconds} == {"a", "b"}
    assert len(store.recent_agent_activity(T0 + 60 * S)) == 10_000  # what the old read saw


def test_later_reads_return_the_seconds_changed_since(store: Store) -> None:
    since = T0
    store.write_spans([span(1, 3, 2, 3, input_tokens=5), span(9, 9, None, 1, agent_name="w")])
    first = store.agent_seconds(since)
    assert first.full and by_second(first.seconds) == {("w", 1): (1, 0, 0)}
    quiet = store.agent_seconds(since, first.cursor)
    assert not quiet.full and by_second(quiet.seconds) in ({}, {("w", 1): (1, 0, 0)})
    # The agent span above the waiting call arrives: both count, once.
    store.write_spans([span(1, 2, 1, 2, agent_name="planner", status_code=StatusCode.ERROR)])
    named = store.agent_seconds(since, quiet.cursor)
    assert by_second(named.seconds).items() >= {
        ("planner", 2): (1, 0, 1), ("planner", 3): (1, 5, 0),
    }.items()  # fmt: skip
    # The root names the task: both seconds get it, counted as they were.
    store.write_spans([span(1, 1, None, 1, task_id="t-1")])
    tasked = store.agent_seconds(since, named.cursor)
    got = {(s.agent_name, s.second - T0 // SECOND_NS): s for s in tasked.seconds}
    assert by_second(tasked.seconds).items() >= {
        ("planner", 2): (1, 0, 1), ("planner", 3): (1, 5, 0),
    }.items()  # fmt: skip
    assert {(key, got[key].latest[TASK][2]) for key in (("planner", 2), ("planner", 3))} == {  # type: ignore[index]
        (("planner", 2), "t-1"), (("planner", 3), "t-1"),
    }  # fmt: skip
    # A retried batch counts nothing twice; a span before the window is not returned.
    store.write_spans([span(1, 2, 1, 2, agent_name="planner", status_code=StatusCode.ERROR),
                       span(5, 5, None, -1, agent_name="late")])  # fmt: skip
    late = store.agent_seconds(since, tasked.cursor)
    assert "late" not in {s.agent_name for s in late.seconds}
    everything = store.agent_seconds(since - 10 * S)
    assert by_second(everything.seconds) == {
        ("w", 1): (1, 0, 0), ("planner", 2): (1, 0, 1), ("planner", 3): (1, 5, 0),
        ("late", -1): (1, 0, 0),
    }  # fmt: skip
