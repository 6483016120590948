"""Agent seconds (`oracle_monitor.store.agent_seconds`): a batch's spans folded straight or row
by row give the same seconds; folding in parts and merging gives what folding at once gives;
the stored form reads back; a stored span's columns fold as the span does."""

from __future__ import annotations

import random
from typing import Any

import pytest

from oracle_monitor.model import Span, SpanKind, StatusCode
from oracle_monitor.store.agent_seconds import (
    SECOND_NS,
    activity_of,
    activity_of_stored,
    decode_latest,
    encode_latest,
    fold,
    fold_settled,
    fold_spans,
    merge,
    merge_seconds,
)
from oracle_monitor.store.attribution import Settlement
from oracle_monitor.store.base import AgentSecond
from oracle_monitor.store.codec import encode_attributes

T0 = 1_790_000_000 * SECOND_NS


def random_spans(rng: random.Random, count: int) -> list[Span]:
    spans = []
    for n in range(count):
        start = T0 + rng.randrange(0, 5 * SECOND_NS)
        attributes: dict[str, Any] = {}
        if rng.random() < 0.3:
            attributes["gen_ai.operation.name"] = rng.choice(["invoke_agent", "chat"])
        if rng.random() < 0.3:
            attributes["gen_ai.agent.id"] = rng.choice(["7", 7])
        if rng.random() < 0.3:
            attributes["oracle.agent.reasoning"] = f"plan {n}"
            if rng.random() < 0.7:
                attributes["oracle.agent.tools_planned"] = rng.choice([["a", "b"], "x", []])
        spans.append(
            Span(
                trace_id=f"{n % 7 + 1:032x}", span_id=f"{rng.randrange(1, 50):016x}",
                parent_span_id="", name="s", kind=SpanKind.INTERNAL, start_time_ns=start,
                end_time_ns=start + rng.choice([0, rng.randrange(10 * SECOND_NS)]),
                attributes=attributes, agent_name=rng.choice(["a", "b", None]),
                agent_from=rng.choice([None, f"{n:016x}"]),
                task_id=rng.choice([None, "", "t-1", f"t-{n}"]),
                pod_name=rng.choice([None, "", "pod-1", f"pod-{n % 3}"]),
                input_tokens=rng.choice([None, -5, rng.randrange(100)]),
                output_tokens=rng.choice([None, rng.randrange(100)]),
                cost_usd=rng.choice([None, -0.5, rng.uniform(0, 1)]),
                status_code=rng.choice([StatusCode.UNSET, StatusCode.OK, StatusCode.ERROR]),
            )
        )  # fmt: skip
    return spans


def same(got: dict[Any, AgentSecond], expected: dict[Any, AgentSecond]) -> None:
    assert got.keys() == expected.keys()
    for key, second in got.items():
        other = expected[key]
        assert second.cost_usd == pytest.approx(other.cost_usd)
        assert {**_fields(second), "cost_usd": 0} == {**_fields(other), "cost_usd": 0}


def _fields(second: AgentSecond) -> dict[str, Any]:
    return {name: getattr(second, name) for name in AgentSecond.__dataclass_fields__}


@pytest.mark.parametrize("seed", range(20))
def test_folding_spans_straight_or_as_rows_or_in_parts_agrees(seed: int) -> None:
    rng = random.Random(seed)
    spans = random_spans(rng, rng.randrange(1, 200))
    whole = fold_spans(spans)
    same(whole, fold((activity_of(s), True) for s in spans))
    half = len(spans) // 2
    parts = merge_seconds(
        fold_spans(spans[:half]), fold((activity_of(s), True) for s in spans[half:])
    )
    same(parts, whole)
    merged: dict[Any, AgentSecond] = {}
    for at in range(0, len(spans), 7):
        for key, second in fold_spans(spans[at : at + 7]).items():
            if key in merged:
                merge(merged[key], second)
            else:
                merged[key] = second
    same(merged, whole)
    for second in whole.values():
        assert decode_latest(encode_latest(second)) == [
            None if c is None else tuple(c) for c in second.latest
        ]


def test_spans_counted_before_only_update_their_latest_fields() -> None:
    span = random_spans(random.Random(1), 1)[0]
    span.agent_name, span.task_id = "a", None
    (second,) = fold([(activity_of(span), True)]).values()
    span.task_id = "t-late"
    (again,) = fold([(activity_of(span), False)]).values()
    merge(second, again)
    assert second.spans == 1 and second.latest[2] is not None and second.latest[2][2] == "t-late"


@pytest.mark.parametrize("seed", range(5))
def test_a_stored_span_folds_as_the_span(seed: int) -> None:
    rng = random.Random(seed)
    spans = [s for s in random_spans(rng, 100) if s.agent_name]
    stored = [
        activity_of_stored(
            s.trace_id, s.span_id,
            (s.agent_name, s.start_time_ns, s.end_time_ns, int(s.status_code), s.task_id,
             s.pod_name, s.input_tokens, s.output_tokens, s.cost_usd, s.agent_from,
             encode_attributes(s.attributes) if s.attributes else None),
        )
        for s in spans
    ]  # fmt: skip
    same(fold((row, True) for row in stored), fold_spans(spans))


def stored_columns(span: Span) -> tuple[Any, ...]:
    return (
        span.agent_name, span.start_time_ns, span.end_time_ns, int(span.status_code),
        span.task_id, span.pod_name, span.input_tokens, span.output_tokens, span.cost_usd,
        span.agent_from, encode_attributes(span.attributes) if span.attributes else None,
    )  # fmt: skip


@pytest.mark.parametrize("seed", range(10))
def test_settled_spans_fold_as_they_are_after_their_settlements(seed: int) -> None:
    """Spans stored without their agent or task, then settled (some twice): counted when they
    get their agent, their latest fields updated when they get their task, as `fold` of the
    spans as they end up does, after those counted before."""
    rng = random.Random(seed)
    spans = list({(s.trace_id, s.span_id): s for s in random_spans(rng, 80)}.values())
    before = {(s.trace_id, s.span_id): stored_columns(s) for s in spans}
    settlements = [
        Settlement(s.trace_id, s.span_id, rng.choice(["a", "c", None]),
                   rng.choice([None, "f" * 16]), rng.choice([None, "t-9"]), None)
        for s in spans
        for _ in range(rng.choice([1, 1, 2]))
    ]  # fmt: skip
    rng.shuffle(settlements)
    after: dict[tuple[str, str], tuple[str | None, str | None, str | None]] = {}
    by_key = {(s.trace_id, s.span_id): s for s in spans}
    for done in settlements:
        key = (done.trace_id, done.span_id)
        span = by_key[key]
        agent, task, source = after.get(key, (span.agent_name, span.task_id, span.agent_from))
        if agent is None:
            agent, source = done.agent_name, done.agent_from
        after[key] = (agent, task if task is not None else done.task_id, source)
    expected = fold(
        (activity_of(span)._replace(agent_name=after[key][0] or "", task_id=after[key][1],
                                    agent_inherited=after[key][2] is not None),
         span.agent_name is None)
        for key, span in by_key.items()
    )  # fmt: skip
    same(fold_settled(before, settlements), expected)
