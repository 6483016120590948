"""Agents and tasks by trace hierarchy (`oracle_monitor.store.attribution`): the same on every
store backend (see `tests.integration.test_store_conformance`, whose fixtures run each test once
per backend). Spans of a trace arrive in any order and batches; what was counted before an
ancestor arrived is corrected once it does, never counted twice."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from oracle_monitor.model import Span
from oracle_monitor.store import Store, TraceQuery
from tests.integration.test_store_conformance import make_span, sid, store, store_url, tid

__all__ = ["store", "store_url"]


def agent_tree() -> list[Span]:
    """root (task t-1) > agent "planner" > tool > sub-agent "writer" > LLM call; planner > LLM."""
    return [
        make_span(1, 1, task_id="t-1", start=0, duration=1000),
        make_span(1, 2, 1, agent_name="planner", start=10, duration=900),
        make_span(1, 3, 2, start=20, duration=500, name="execute_tool ask_writer"),
        make_span(1, 4, 3, agent_name="writer", start=30, duration=400),
        llm(1, 5, 4, tokens=100, start=40),
        llm(1, 6, 2, tokens=10, start=600),
    ]


def llm(trace: int, span: int, parent: int, *, tokens: int, start: int) -> Span:
    return make_span(trace, span, parent, start=start, duration=50, provider="openai",
                     model="gpt-4o-mini", input_tokens=tokens, output_tokens=1,
                     cost_usd=tokens / 1000)  # fmt: skip


def by_agent(store: Store) -> dict[str | None, tuple[int, int, float]]:
    return {
        g.key: (g.requests, g.input_tokens, round(g.cost_usd, 6)) for g in store.llm_costs("agent")
    }


def attribution(store: Store, trace: int) -> dict[str, tuple[Any, ...]]:
    return {s.span_id: (s.agent_name, s.agent_from, s.task_id) for s in store.get_trace(tid(trace))}


EXPECTED = {
    sid(1): (None, None, "t-1"),
    sid(2): ("planner", None, "t-1"),
    sid(3): ("planner", sid(2), "t-1"),
    sid(4): ("writer", None, "t-1"),
    sid(5): ("writer", sid(4), "t-1"),
    sid(6): ("planner", sid(2), "t-1"),
}


@pytest.mark.parametrize(
    "order",
    [(0, 1, 2, 3, 4, 5), (5, 4, 3, 2, 1, 0), (4, 0, 5, 2, 3, 1), (4, 3, 2, 1, 0, 5)],
)
def test_any_arrival_order_one_span_at_a_time(store: Store, order: tuple[int, ...]) -> None:
    spans = agent_tree()
    for index in order:
        store.write_spans([spans[index]])
    assert attribution(store, 1) == EXPECTED
    assert by_agent(store) == {"writer": (1, 100, 0.1), "planner": (1, 10, 0.01)}
    summary = store.find_traces(TraceQuery(agent="writer"))
    assert [s.trace_id for s in summary] == [tid(1)]
    assert summary[0].agents == ("planner", "writer")


def test_calls_before_their_agent_arrives_count_under_no_agent_then_move(store: Store) -> None:
    spans = agent_tree()
    store.write_spans([spans[4], spans[5]])  # the LLM calls, ended first
    assert by_agent(store) == {None: (2, 110, 0.11)}
    store.write_spans([spans[2]])  # the tool: still no agent above the first call
    assert by_agent(store) == {None: (2, 110, 0.11)}
    store.write_spans([spans[3]])  # the sub-agent: the first call is its
    assert by_agent(store) == {"writer": (1, 100, 0.1), None: (1, 10, 0.01)}
    store.write_spans([spans[1], spans[0]])
    assert by_agent(store) == {"writer": (1, 100, 0.1), "planner": (1, 10, 0.01)}
    assert attribution(store, 1) == EXPECTED
    store.write_spans(agent_tree())  # an exporter's retry: nothing changes, nothing twice
    assert by_agent(store) == {"writer": (1, 100, 0.1), "planner": (1, 10, 0.01)}
    assert store.find_traces(TraceQuery())[0].span_count == 6


def test_a_parent_that_never_arrives_leaves_its_subtree_unattributed(store: Store) -> None:
    spans = agent_tree()
    store.write_spans([spans[3], spans[4], spans[5]])  # no root, no planner, no tool
    got = attribution(store, 1)
    assert got[sid(5)] == ("writer", sid(4), None)  # its agent is known; its task is not
    assert got[sid(6)] == (None, None, None)
    assert by_agent(store) == {"writer": (1, 100, 0.1), None: (1, 10, 0.01)}


def test_an_own_agent_is_never_overridden_by_an_ancestor(store: Store) -> None:
    spans = agent_tree()
    store.write_spans([spans[4]])
    store.write_spans([spans[3]])
    store.write_spans([spans[2], spans[1], spans[0]])
    got = attribution(store, 1)
    assert got[sid(4)] == ("writer", None, "t-1") and got[sid(5)] == ("writer", sid(4), "t-1")


def test_traces_stay_apart_and_batches_mix_traces(store: Store) -> None:
    first, second = (
        agent_tree(),
        [
            make_span(2, 1, agent_name="critic", start=0),
            llm(2, 2, 1, tokens=7, start=5),
        ],
    )
    # Trace 2's call arrives with trace 1's sub-agent; its parent comes later, with trace 1's rest.
    store.write_spans([second[1], first[3], first[4]])
    store.write_spans([first[0], first[1], first[2], first[5], second[0]])
    assert by_agent(store) == {
        "writer": (1, 100, 0.1), "planner": (1, 10, 0.01), "critic": (1, 7, 0.007),
    }  # fmt: skip
    assert attribution(store, 1) == EXPECTED


def deep_chain(trace: int, depth: int = 6) -> list[Span]:
    """An agent's root span and a chain of ``depth - 1`` spans below it, deepest first."""
    root = make_span(trace, 1, agent_name="deep", task_id="t-9", start=0)
    return [make_span(trace, n, n - 1, start=n) for n in range(depth, 1, -1)] + [root]


def test_every_partition_of_a_deep_chain(store: Store) -> None:
    """The chain written in every way of cutting it into consecutive batches, deepest first:
    every span gets the root's agent and task."""
    for number, cuts in enumerate(itertools.product((False, True), repeat=5)):
        batches: list[list[Span]] = [[]]
        for span, cut in zip(deep_chain(100 + number), (False, *cuts), strict=True):
            if cut:
                batches.append([])
            batches[-1].append(span)
        for batch in batches:
            store.write_spans(batch)
        got = attribution(store, 100 + number)
        assert {value[0] for value in got.values()} == {"deep"}, cuts
        assert {value[2] for value in got.values()} == {"t-9"}, cuts
        assert {value[1] for value in got.values()} == {None, sid(1)}, cuts
