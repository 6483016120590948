"""Spans as Jaeger's JSON trace model, checked against a fixture and Jaeger's field list.

``tests/fixtures/jaeger/agent_trace.json`` is the expected trace for `agent_trace` below,
written from Jaeger's documented model (``{traceID, spans, processes, warnings}``, typed
tags, µs times, ``CHILD_OF``/``FOLLOWS_FROM`` references, ``p1``… processes, null warnings,
``flags`` left out when zero).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from oracle_monitor.aggregator.correlate import Match
from oracle_monitor.api.jaeger_model import key_value, trace_json
from oracle_monitor.model import (
    Attributes,
    InfraEvent,
    Severity,
    Span,
    SpanEvent,
    SpanKind,
    SpanLink,
    StatusCode,
)

FIXTURE = Path(__file__).parents[2] / "fixtures" / "jaeger" / "agent_trace.json"
T0 = 1_790_000_000_123_456_789
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
ROOT, LLM, TOOL = "00f067aa0ba902b7", "53995c3f42cd8ad8", "6e0c63257de34c92"
POD: Attributes = {"service.name": "research-agent", "k8s.pod.name": "research-0",
       "k8s.namespace.name": "agents"}  # fmt: skip


def agent_trace() -> tuple[list[Span], dict[str, list[Match]], dict[str, InfraEvent]]:
    """A task span, its LLM call (error, event, link) and a tool span of another service,
    with an OOM kill correlated to the task span."""
    root = Span(
        TRACE,
        ROOT,
        "",
        "invoke_agent research",
        SpanKind.SERVER,
        T0,
        T0 + 2_500_000_999,
        status_code=StatusCode.OK,
        resource=POD,
        scope_name="oracle.agents",
        scope_version="0.1.0",
        trace_state="vendor=1",
        flags=0x301,
        attributes={
            "gen_ai.agent.name": "research",
            "oracle.task.id": "task-7",
            "retry": True,
            "attempt": 2,
            "big": 2**60,
            "score": 0.5,
            "nan": math.nan,
            "blob": b"\x00\x01",
            "tools": ["search", "lookup"],
            "nested": {"a": 1},
            "empty": None,
        },
    )
    llm = Span(
        TRACE,
        LLM,
        ROOT,
        "chat gpt-4o",
        SpanKind.CLIENT,
        T0 + 1000,
        T0 + 1_001_000,
        status_code=StatusCode.ERROR,
        status_message="429 Too Many Requests",
        resource=POD,
        flags=1,
        cost_usd=0.0125,
        attributes={
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1200,
        },
        events=[SpanEvent(T0 + 500_000, "retry", {"attempt": 1})],
        links=[SpanLink("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")],
    )
    tool = Span(
        TRACE,
        TOOL,
        LLM,
        "execute_tool search",
        SpanKind.UNSPECIFIED,
        T0 + 2_000_000,
        T0 + 2_000_000,
        resource=dict[str, Any]({"service.name": "tool-worker"}),
    )
    oom = InfraEvent(
        T0 + 2_000_000_000,
        "k8s",
        "oom_killed",
        "pod/agents/research-0",
        Severity.CRITICAL,
        "research-0 was OOMKilled",
        {"k8s.pod.name": "research-0", "exit_code": 137},
    )
    matches = {ROOT: [Match(ROOT, oom.event_id, "pod")]}
    return [root, llm, tool], matches, {oom.event_id: oom}  # fmt: skip


def test_trace_matches_the_fixture() -> None:
    spans, matches, events = agent_trace()
    for span in spans:
        span.service_name = str(span.resource["service.name"])
    assert trace_json(spans, matches, events) == json.loads(FIXTURE.read_text())


#: Jaeger's span model, field by field: name -> (JSON types allowed, required).
SPAN_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "traceID": ((str,), True),
    "spanID": ((str,), True),
    "flags": ((int,), False),
    "operationName": ((str,), True),
    "references": ((list,), True),
    "startTime": ((int,), True),
    "duration": ((int,), True),
    "tags": ((list,), True),
    "logs": ((list,), True),
    "processID": ((str,), True),
    "warnings": ((list, type(None)), True),
}
TAG_TYPES = {"string": (str,), "bool": (bool,), "int64": (int, str), "float64": (float,),
             "binary": (str,)}  # fmt: skip


def check_key_value(item: dict[str, Any]) -> None:
    assert set(item) == {"key", "type", "value"}
    assert isinstance(item["key"], str)
    assert isinstance(item["value"], TAG_TYPES[item["type"]])
    if item["type"] == "int64" and isinstance(item["value"], str):
        assert abs(int(item["value"])) > 2**53 - 1  # only unsafe integers are strings


def test_every_field_has_jaegers_type() -> None:
    spans, matches, events = agent_trace()
    trace = trace_json(spans, matches, events)
    assert set(trace) == {"traceID", "spans", "processes", "warnings"}
    assert len(trace["traceID"]) == 32
    for span in trace["spans"]:
        assert set(span) <= set(SPAN_FIELDS)
        for name, (types, required) in SPAN_FIELDS.items():
            assert (name in span) or not required, name
            if name in span:
                assert isinstance(span[name], types), name
        assert len(span["spanID"]) == 16 and span["processID"] in trace["processes"]
        for ref in span["references"]:
            assert set(ref) == {"refType", "traceID", "spanID"}
            assert ref["refType"] in ("CHILD_OF", "FOLLOWS_FROM")
        for tag in span["tags"]:
            check_key_value(tag)
        for log in span["logs"]:
            assert set(log) == {"timestamp", "fields"} and isinstance(log["timestamp"], int)
            for field in log["fields"]:
                check_key_value(field)
    for process in trace["processes"].values():
        assert set(process) == {"serviceName", "tags"}
        for tag in process["tags"]:
            check_key_value(tag)


def test_integers_past_javascripts_range_are_strings() -> None:
    assert key_value("n", 2**53 - 1) == {"key": "n", "type": "int64", "value": 2**53 - 1}
    assert key_value("n", -(2**53)) == {"key": "n", "type": "int64", "value": str(-(2**53))}
    assert key_value("f", math.inf) == {"key": "f", "type": "string", "value": "inf"}


def test_no_spans_no_trace_id() -> None:
    assert trace_json([]) == {"traceID": "", "spans": [], "processes": {}, "warnings": None}


def test_warnings_for_a_missing_parent_and_dropped_items() -> None:
    spans, _, _ = agent_trace()
    orphan = spans[2]
    orphan.parent_span_id = "ffffffffffffffff"
    orphan.dropped_attributes_count, orphan.dropped_links_count = 3, 1
    by_id = {span["spanID"]: span for span in trace_json(spans)["spans"]}
    assert by_id[TOOL]["warnings"] == [
        "parent span ffffffffffffffff is not in this trace (not received)",
        "the exporter dropped 3 attributes of this span",
        "the exporter dropped 1 link of this span",
    ]
    assert by_id[ROOT]["warnings"] is None and by_id[LLM]["warnings"] is None
