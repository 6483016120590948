"""Trace summaries: the same answer whatever order and batching the spans arrive in."""

from __future__ import annotations

import itertools

import pytest

from oracle_monitor.model import Span, SpanKind, StatusCode
from oracle_monitor.store.summaries import TraceAggregate, aggregate_spans, merge_aggregates

TRACE = "ab" * 16


def span(span_id: str, parent: str, start: int, **fields: object) -> Span:
    values: dict[str, object] = {"service_name": "svc", **fields}
    return Span(TRACE, span_id, parent, f"op-{span_id[-1]}", SpanKind.INTERNAL, start,
                start + 10, **values)  # type: ignore[arg-type]  # fmt: skip


SPANS = [
    span("0" * 15 + "1", "", 100, service_name="gateway", agent_name="router"),
    span("0" * 15 + "2", "0" * 15 + "1", 90, input_tokens=5, output_tokens=2),
    span("0" * 15 + "3", "0" * 15 + "1", 120, status_code=StatusCode.ERROR, agent_name="writer"),
    span("0" * 15 + "4", "0" * 15 + "3", 150, input_tokens=7, service_name="tools"),
]


def summary_of(batches: list[list[Span]]) -> object:
    stored: dict[str, TraceAggregate] = {}
    for batch in batches:
        for merged in merge_aggregates(stored, aggregate_spans(batch)):
            stored[merged.trace_id] = merged
    return stored[TRACE].to_summary()


def test_one_batch() -> None:
    summary = aggregate_spans(SPANS)[TRACE].to_summary()
    assert summary.root_name == "op-1"  # the parentless span, though another started earlier
    assert summary.root_service == "gateway"
    assert summary.start_time_ns == 90
    assert summary.end_time_ns == 160
    assert summary.span_count == 4
    assert summary.error_count == 1
    assert (summary.input_tokens, summary.output_tokens) == (12, 2)
    assert summary.services == ("gateway", "svc", "tools")
    assert summary.agents == ("router", "writer")


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_any_order_and_batching_gives_the_same_summary(order: tuple[int, ...]) -> None:
    reference = aggregate_spans(SPANS)[TRACE].to_summary()
    spans = [SPANS[i] for i in order]
    assert summary_of([spans[:1], spans[1:3], spans[3:]]) == reference
    assert summary_of([[s] for s in spans]) == reference


def test_until_the_root_arrives_the_earliest_span_names_the_trace() -> None:
    summary = aggregate_spans(SPANS[1:])[TRACE].to_summary()
    assert summary.root_name == "op-2"


def test_add_matches_aggregate_spans() -> None:
    by_add = TraceAggregate.empty(TRACE)
    for s in SPANS:
        by_add.add(
            is_root=not s.parent_span_id, name=s.name, service=s.service_name,
            agent=s.agent_name, start_time_ns=s.start_time_ns, end_time_ns=s.end_time_ns,
            is_error=s.is_error, input_tokens=s.input_tokens, output_tokens=s.output_tokens,
        )  # fmt: skip
    assert by_add.to_summary() == aggregate_spans(SPANS)[TRACE].to_summary()
