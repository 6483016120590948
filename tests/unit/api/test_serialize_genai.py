"""A span's agent (and where it comes from), tool, handoff and conversation in the API's JSON,
on spans recorded from real frameworks (``tests/fixtures/frameworks/``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from oracle_monitor.api.serialize import span_json
from oracle_monitor.model import Span, SpanKind
from oracle_monitor.processing.genai_fields import GenAIFields
from oracle_monitor.receiver.decode import DecodeLimits
from oracle_monitor.receiver.otlp_json import decode_json
from oracle_monitor.store.sqlite import SQLiteStore

FIXTURES = Path(__file__).parents[2] / "fixtures" / "frameworks"


def stored_trace(name: str, tmp_path: Path) -> list[dict[str, Any]]:
    spans = decode_json((FIXTURES / f"{name}.json").read_bytes(), DecodeLimits()).spans
    GenAIFields().process(spans)
    store = SQLiteStore(tmp_path / "spans.db")
    try:
        store.write_spans(spans)
        return [span_json(s) for t in dict.fromkeys(s.trace_id for s in spans)
                for s in store.get_trace(t)]  # fmt: skip
    finally:
        store.close()


@pytest.mark.parametrize(
    ("name", "handoff"),
    [
        ("openai_agents_otel", {"from": "TriageAgent", "to": "WeatherAgent"}),
        ("openai_agents_openinference", {"from": "TriageAgent", "to": "WeatherAgent"}),
        ("langgraph_openinference", {"from": None, "to": "researcher"}),
        ("crewai", {"from": None, "to": "Paris"}),
    ],
)
def test_handoffs_are_read_from_each_dialect(
    name: str, handoff: dict[str, str | None], tmp_path: Path
) -> None:
    spans = stored_trace(name, tmp_path)
    assert handoff in [s["handoff"] for s in spans]


def test_an_llm_call_names_the_agent_above_it(tmp_path: Path) -> None:
    spans = stored_trace("openai_v2", tmp_path)
    by_id = {s["span_id"]: s for s in spans}
    calls = [s for s in spans if s["tokens"]["input"] is not None]
    assert len(calls) == 4
    for call in calls:
        assert call["agent_source"] == "ancestor"
        named_by = by_id[call["agent_from"]]
        assert named_by["name"] == f"invoke_agent {call['agent_name']}"
        assert named_by["agent_source"] == "attribute" and named_by["agent_from"] is None
    tools = {s["tool_name"] for s in spans if s["tool_name"]}
    assert tools == {"ask_researcher", "get_weather"}
    assert {s["conversation_id"] for s in spans if s["name"].startswith("invoke_agent")} != {None}


def test_an_agent_named_by_the_resource_says_so() -> None:
    span = Span("1" * 32, "2" * 16, "", "work", SpanKind.INTERNAL, 1, 2, agent_name="planner",
                resource={"gen_ai.agent.name": "planner"})  # fmt: skip
    assert span_json(span)["agent_source"] == "resource"
    unnamed = dataclasses.replace(span, agent_name=None)
    assert span_json(unnamed)["agent_source"] is None


def test_sessions_are_conversations(tmp_path: Path) -> None:
    spans = stored_trace("langgraph_openinference", tmp_path)
    assert {s["conversation_id"] for s in spans} == {"thread-invoke", "thread-stream"}
