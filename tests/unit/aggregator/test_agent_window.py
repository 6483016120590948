"""`AgentWindow` over agent seconds (`oracle_monitor.store.agent_seconds`): the same views as
`views_of_activity` over the spans of the window, however the spans are split into agent
seconds and merged (several writers, several batches, a task given later), however often an
agent second is taken again, and as the window moves."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from oracle_monitor.aggregator.agent_window import AgentWindow, Latest
from oracle_monitor.aggregator.agents import views_of_activity
from oracle_monitor.store.agent_seconds import SECOND_NS, fold, merge
from oracle_monitor.store.base import AgentActivity, AgentSecond

S = 1_000_000_000
T0 = 1_790_000_000 * S


def same_views(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """Equal views, costs equal but for float rounding (they are added in another order)."""
    assert [{**v, "cost_usd": None} for v in got] == [{**v, "cost_usd": None} for v in expected]
    assert [v["cost_usd"] for v in got] == pytest.approx([v["cost_usd"] for v in expected])


def test_latest_is_the_latest_of_what_is_left_in_the_window() -> None:
    rng = random.Random(7)
    for _ in range(200):
        latest: Latest[int] = Latest()
        added: list[tuple[int, tuple[int, str], int]] = []
        since = 0
        for n in range(rng.randrange(1, 60)):
            if rng.random() < 0.2:
                since += rng.randrange(0, 20)
                latest.expire(since)
            start = since + rng.randrange(0, 100)
            key = (start + rng.randrange(-5, 50), f"{rng.randrange(40):04x}")
            latest.add(start, key, n)
            added.append((start, key, n))
            left = [a for a in added if a[0] >= since]
            best = max(left, key=lambda a: a[1])
            got = latest.value
            assert got is not None
            assert next(a[1] for a in added if a[2] == got) == best[1]
            assert len(latest) <= len(left)


def row(n: int, agent: str, start_s: float, end_s: float, **fields: Any) -> AgentActivity:
    return AgentActivity(agent, f"{n:016x}", T0 + int(start_s * S), T0 + int(end_s * S),
                         fields.pop("is_error", False), **fields)  # fmt: skip


class Store:
    """Agent seconds as a store keeps them: per writer, merged batch after batch."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, int, int], AgentSecond] = {}

    def write(self, rows: list[tuple[AgentActivity, bool]], writer: int = 0) -> list[AgentSecond]:
        """Fold a batch in; the agent seconds it changed, as they are now."""
        changed = []
        for key, second in fold(rows, writer).items():
            if key in self.kept:
                merge(self.kept[key], second)
            else:
                self.kept[key] = second
            changed.append(copy.deepcopy(self.kept[key]))
        return changed


def test_a_failed_task_is_the_status_until_a_span_starts_after_it() -> None:
    window, store = AgentWindow(60 * S), Store()
    failed = row(1, "a", 0, 10, operation="invoke_agent", is_error=True, task_id="t-1")
    window.take(store.write([(failed, True)]))
    assert window.views(T0 + 11 * S)[0]["status"] == "error"
    window.take(store.write([(row(2, "a", 12, 13), True)], writer=7))
    (view,) = window.views(T0 + 14 * S)
    assert view["status"] == "running" and view["current_task"] == "t-1"
    assert view["errors"] == 1 and view["current_trace"] is None


def test_a_second_taken_again_replaces_what_was_taken_of_it() -> None:
    window, store = AgentWindow(60 * S), Store()
    first = row(1, "a", 0, 5, input_tokens=10, output_tokens=2, cost_usd=0.5, is_error=True)
    window.take(store.write([(first, True)]))
    again = store.write([(first._replace(task_id="t-9"), False)])
    window.take(again)
    window.take(again)
    (view,) = window.views(T0 + 6 * S)
    assert view["current_task"] == "t-9" and view["errors"] == 1
    assert view["tokens"] == {"input": 10, "output": 2} and view["cost_usd"] == 0.5


def test_seconds_leave_the_window_whole_and_agents_with_them() -> None:
    window, store = AgentWindow(60 * S), Store()
    window.take(store.write([(row(1, "a", 0.5, 1, input_tokens=3), True),
                             (row(2, "a", 1.5, 2, input_tokens=4), True),
                             (row(3, "b", 0.2, 70), True)]))  # fmt: skip
    now = T0 + 61 * S + S // 2  # the window starts at T0 + 1 s
    assert window.start(now) == T0 + S
    window.expire(window.start(now))
    (view,) = window.views(now)
    assert view["name"] == "a" and view["tokens"]["input"] == 4
    window.expire(T0 + 2 * S)
    assert window.views(now) == [] and len(window) == 0


def random_rows(rng: random.Random, count: int) -> list[AgentActivity]:
    rows = []
    for n in range(count):
        start = rng.uniform(0, 400)
        rows.append(
            row(
                n, rng.choice(["planner", "writer", "research", "critic"]), start,
                start + rng.choice([0.0, rng.uniform(0, 40)]),
                is_error=rng.random() < 0.15,
                task_id=rng.choice([None, "", "t-1", "t-2", f"t-{n}"]),
                pod_name=rng.choice([None, "", "pod-a", f"pod-{n % 5}"]),
                input_tokens=rng.choice([None, -3, rng.randrange(500)]),
                output_tokens=rng.choice([None, rng.randrange(50)]),
                cost_usd=rng.choice([None, -0.1, rng.uniform(0, 0.01)]),
                operation=rng.choice([None, "chat", "invoke_agent"]),
                agent_id=rng.choice([None, "7", f"id-{n % 3}"]),
                reasoning=rng.choice([None, None, f"plan {n}"]),
                tools_planned=rng.choice([None, ("search",), ()]),
                agent_inherited=rng.random() < 0.5,
                trace_id=f"{n // 3:032x}",
            )
        )  # fmt: skip
    return rows


@pytest.mark.parametrize("seed", range(25))
def test_views_equal_those_of_every_span_in_the_window(seed: int) -> None:
    rng = random.Random(seed)
    rows = random_rows(rng, rng.randrange(20, 300))
    rng.shuffle(rows)
    window, store = AgentWindow(rng.choice([30, 60, 300]) * S), Store()
    seen: list[AgentActivity] = []  # the spans as they are now
    now = T0 + rng.randrange(0, 50) * S
    since = window.start(now)
    while rows:
        size = rng.randrange(1, 30)
        batch, rows = rows[:size], rows[size:]
        writer = rng.randrange(3)
        later = [r for r in batch if r.task_id and rng.random() < 0.3]  # task given later
        written = [(r._replace(task_id=None) if r in later else r, True) for r in batch]
        changed = store.write(written, writer) + store.write([(r, False) for r in later], writer)
        if rng.random() < 0.2:
            changed += list(store.kept.values())  # read again (PostgreSQL's overlap)
        window.take(copy.deepcopy(changed))
        seen += batch
        now += rng.randrange(0, 40) * S + rng.randrange(SECOND_NS)
        since = max(since, window.start(now))
        window.expire(since)
        in_window = [r for r in seen if r.start_time_ns >= since]
        same_views(window.views(now), views_of_activity(in_window, now))
