"""The agents' views of the snapshot loop (`AgentTracker` over the store's agent seconds) on
every store backend (see `tests.integration.test_store_conformance`, whose fixtures run each
test once per backend): always those of `views_of_activity` over every agent span of the
window, whatever order the spans arrive in and however late their agent is attributed; a
round reads the agent seconds changed since the last one, not the spans; a new tracker (a new
leader) builds the same views from the store."""

from __future__ import annotations

import random
from typing import Any

import pytest

from oracle_monitor.aggregator.agent_tracker import AgentTracker
from oracle_monitor.aggregator.agent_window import AgentWindow
from oracle_monitor.aggregator.agents import views_of_activity
from oracle_monitor.model import Span, StatusCode
from oracle_monitor.store import Store
from tests.integration.test_store_conformance import T0, store, store_url
from tests.integration.test_store_conformance_feed import span

__all__ = ["store", "store_url"]
S = 1_000_000_000
WINDOW_NS = 60 * S


def same_views(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """Equal views, costs equal but for float rounding (they are added in another order)."""
    assert [{**v, "cost_usd": None} for v in got] == [{**v, "cost_usd": None} for v in expected]
    assert [v["cost_usd"] for v in got] == pytest.approx([v["cost_usd"] for v in expected])


def expected_views(store: Store, now_ns: int, since_ns: int) -> list[dict[str, Any]]:
    """`views_of_activity` over every agent span that started at or after ``since_ns``."""
    return views_of_activity(store.recent_agent_activity(since_ns, limit=10**9), now_ns)


def test_a_round_reads_the_seconds_written_since_not_the_spans(store: Store) -> None:
    """2,000 spans of 5 agents over 20 seconds; then 7 spans of one agent in one second."""
    store.write_spans(
        [span(n + 1, n + 1, None, 30 + n / 100, agent_name=f"a{n % 5}") for n in range(2000)]
    )
    tracker = AgentTracker(store, window_ns=WINDOW_NS)
    now = T0 + 60 * S
    tracker.views(now)
    assert tracker.last_read == 5 * 20 and tracker.full_reads == 1
    reads = []
    for attempt in range(5):  # on PostgreSQL, other sessions' transactions may overlap one
        first = 3000 + attempt * 10
        store.write_spans(
            [span(n, n, None, 59 + n / 10**6, agent_name="new") for n in range(first, first + 7)]
        )
        now += 2 * S
        views = tracker.views(now)
        assert next(v for v in views if v["name"] == "new")["tokens"]["input"] == 0
        reads.append(tracker.last_read)
        if tracker.last_read == 1:
            break
    assert reads[-1] == 1 and tracker.full_reads == 1, reads


def agent_forest(rng: random.Random, traces: int) -> list[Span]:
    """Traces of agents, tools and LLM calls, with times across a few windows; only some
    spans name their agent or task, the others take them by hierarchy."""
    spans: list[Span] = []
    number = 0
    for trace in range(1, traces + 1):
        start = rng.uniform(-30, 200)
        parents: list[int | None] = [None]
        for _ in range(rng.randrange(1, 9)):
            number += 1
            parent = rng.choice(parents)
            fields: dict[str, Any] = {}
            if parent is None or rng.random() < 0.3:
                fields["agent_name"] = rng.choice(["planner", "writer", "research"])
                fields["attributes"] = {"gen_ai.operation.name": "invoke_agent"}
                if rng.random() < 0.5:
                    fields["attributes"]["gen_ai.agent.id"] = f"id-{trace % 3}"
            elif rng.random() < 0.3:
                fields["attributes"] = {
                    "oracle.agent.reasoning": f"plan {number}",
                    "oracle.agent.tools_planned": ["search", "write"],
                }
            if rng.random() < 0.3:
                fields["task_id"] = f"t-{trace}"
            if rng.random() < 0.6:
                fields["pod_name"] = rng.choice(["pod-a", "pod-b", f"pod-{trace % 4}"])
            if rng.random() < 0.5:
                fields.update(input_tokens=rng.randrange(300), output_tokens=rng.randrange(40),
                              cost_usd=rng.uniform(0, 0.01))  # fmt: skip
            if rng.random() < 0.15:
                fields["status_code"] = StatusCode.ERROR
            at = start + rng.uniform(0, 20)
            spans.append(span(trace, number, parent, at, duration_s=rng.uniform(0, 30), **fields))
            parents.append(number)
    return spans


@pytest.mark.parametrize("seed", range(3))
def test_the_tracker_equals_a_fold_of_the_window_whatever_the_arrival_order(
    store: Store, seed: int
) -> None:
    rng = random.Random(seed)
    spans = agent_forest(rng, 40)
    rng.shuffle(spans)  # children before parents, parents never (left out below)
    spans = [s for s in spans if rng.random() < 0.95]
    tracker = AgentTracker(store, window_ns=WINDOW_NS)
    window = AgentWindow(WINDOW_NS)
    now = T0 + 10 * S
    since = window.start(now)
    rounds = 0
    while spans:
        size = rng.randrange(1, 25)
        batch, spans = spans[:size], spans[size:]
        store.write_spans(batch)
        if rng.random() < 0.3:
            store.write_spans(batch[: rng.randrange(len(batch) + 1)])  # an exporter's retry
        now += rng.randrange(0, 15) * S + rng.randrange(S)
        since = max(since, window.start(now))
        same_views(tracker.views(now), expected_views(store, now, since))
        rounds += 1
    assert tracker.full_reads == 1 and rounds > 5
    # A new leader starts from the store: the same views.
    same_views(AgentTracker(store, window_ns=WINDOW_NS).views(now), tracker.views(now))
    while tracker.views(now) and now < T0 + 1000 * S:  # every span leaves the window
        now += 20 * S
    assert tracker.views(now) == []
