"""Rate-limit bursts, exhausted quotas and spending over budget, from recent LLM calls."""

from __future__ import annotations

import pytest

from oracle_monitor.collectors.llm.usage import MINUTE_NS, UsageConfig, UsageEvaluator
from oracle_monitor.model import Severity
from oracle_monitor.store.base import LLMProblem

SECOND = 1_000_000_000
T0 = 1_790_000_000 * SECOND


def limited(number: int, at_s: float, model: str = "gpt-4o") -> LLMProblem:
    return LLMProblem(T0 + int(at_s * SECOND), "a" * 32, f"{number:016x}", "openai", model,
                      "research", True, "429")  # fmt: skip


def test_a_burst_is_reported_once_when_it_starts() -> None:
    evaluator = UsageEvaluator(UsageConfig(burst_per_minute=3))
    calls = [limited(n, at) for n, at in enumerate([0, 10, 20, 30, 40])]
    events = evaluator.evaluate(T0 + 50 * SECOND, calls, 0.0)
    assert [(e.kind, e.time_ns) for e in events] == [("rate_limit_burst", T0 + 20 * SECOND)]
    burst = events[0]
    assert burst.entity == "model/openai/gpt-4o"
    assert burst.severity == Severity.WARNING
    assert burst.attributes["rate_limited_calls_per_minute"] == 3
    assert burst.attributes["gen_ai.agent.name"] == "research"
    assert evaluator.active_bursts == ["model/openai/gpt-4o"]


def test_overlapping_polls_count_each_call_once_and_a_new_burst_is_new() -> None:
    evaluator = UsageEvaluator(UsageConfig(burst_per_minute=3))
    first = [limited(n, at) for n, at in enumerate([0, 10, 20])]
    assert len(evaluator.evaluate(T0 + 25 * SECOND, first, 0.0)) == 1
    # The next poll sees the same calls again, plus one more: no new event.
    assert evaluator.evaluate(T0 + 35 * SECOND, [*first, limited(3, 30)], 0.0) == []
    # Two minutes of calm end the burst; a fresh burst is a fresh event.
    quiet = limited(4, 200)
    assert evaluator.evaluate(T0 + 200 * SECOND, [quiet], 0.0) == []
    assert evaluator.active_bursts == []
    again = [limited(n, at) for n, at in ((5, 210), (6, 220))]
    events = evaluator.evaluate(T0 + 230 * SECOND, again, 0.0)
    assert [e.time_ns for e in events] == [T0 + 220 * SECOND]


def test_bursts_are_per_model() -> None:
    evaluator = UsageEvaluator(UsageConfig(burst_per_minute=2))
    calls = [limited(1, 0, "gpt-4o"), limited(2, 1, "gpt-4o-mini"), limited(3, 2, "gpt-4o")]
    events = evaluator.evaluate(T0 + MINUTE_NS, calls, 0.0)
    assert [e.entity for e in events] == ["model/openai/gpt-4o"]


@pytest.mark.parametrize(
    ("error_type", "reported"),
    [("insufficient_quota", True), ("billing_error", True), ("rate_limit_error", False)],
)
def test_quota_exhaustion(error_type: str, reported: bool) -> None:
    problem = LLMProblem(T0, "b" * 32, "1" * 16, "openai", "gpt-4o", "writer", False, error_type)
    events = UsageEvaluator(UsageConfig()).evaluate(T0, [problem], 0.0)
    assert [e.kind for e in events] == (["quota_exhausted"] if reported else [])
    if reported:
        assert events[0].severity == Severity.CRITICAL
        assert events[0].attributes["span_id"] == "1" * 16


def test_spending_over_budget_is_reported_when_it_starts() -> None:
    evaluator = UsageEvaluator(UsageConfig(budget_usd_per_hour=10.0))
    assert evaluator.evaluate(T0, [], 9.99) == []
    over = evaluator.evaluate(T0 + SECOND, [], 12.5)
    assert [(e.kind, e.entity) for e in over] == [("cost_over_budget", "budget/llm")]
    assert over[0].attributes["oracle.llm.cost_usd"] == 12.5
    assert evaluator.evaluate(T0 + 2 * SECOND, [], 13.0) == []  # still the same spell
    assert evaluator.evaluate(T0 + 3 * SECOND, [], 5.0) == []
    assert len(evaluator.evaluate(T0 + 4 * SECOND, [], 11.0)) == 1  # a new spell
    assert UsageEvaluator(UsageConfig()).evaluate(T0, [], 1e9) == []  # no budget, no event
