"""The ``genai_fields`` processor gives every span of a batch what `derive` reads from it."""

from __future__ import annotations

import dataclasses

from oracle_monitor.model import Attributes, Span, SpanKind
from oracle_monitor.processing.conventions import derive
from oracle_monitor.processing.genai_fields import GenAIFields

CASES: list[tuple[Attributes, Attributes]] = [
    ({}, {}),
    (
        {
            "gen_ai.provider.name": "anthropic",
            "gen_ai.response.model": "claude-sonnet-4",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": "34",
            "gen_ai.usage.cache_read.input_tokens": 5,
            "oracle.llm.cost_usd": 0.25,
            "http.response.status_code": 429,
            "oracle.task.id": "t-1",
        },
        {"service.name": "writer", "k8s.pod.name": "writer-0", "k8s.namespace.name": "agents"},
    ),
    ({"llm.model_name": "gpt-4o", "llm.token_count.prompt": 3}, {"agent.name": "analyst"}),
    ({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "triage"}, {}),
]


def span(number: int, attributes: Attributes, resource: Attributes) -> Span:
    return Span(f"{number:032x}", f"{number + 1:016x}", "", "s", SpanKind.INTERNAL, 1, 2,
                attributes=attributes, resource=resource)  # fmt: skip


def test_each_span_gets_the_fields_derive_reads_and_keeps_its_attributes() -> None:
    batch = [span(n, dict(attributes), dict(resource)) for n, (attributes, resource) in
             enumerate(CASES)]  # fmt: skip
    GenAIFields().process(batch)
    for processed, (attributes, resource) in zip(batch, CASES, strict=True):
        fields = dataclasses.asdict(processed)
        assert {name: fields[name] for name in derive({}, {})} == derive(attributes, resource)
        assert (processed.attributes, processed.resource) == (attributes, resource)


def test_fields_set_before_are_replaced_by_what_the_span_says() -> None:
    stale = span(1, {"gen_ai.agent.name": "fresh"}, {})
    stale.agent_name, stale.model, stale.rate_limited = "stale", "old", True
    GenAIFields().process([stale])
    fields = dataclasses.asdict(stale)
    assert (fields["agent_name"], fields["model"], fields["rate_limited"]) == ("fresh", None, False)


def test_spans_sharing_a_resource_take_its_fields_unless_they_name_their_own() -> None:
    resource: Attributes = {"service.name": "crew", "agent.name": "planner", "k8s.pod.name": "p-0"}
    own = span(1, {"gen_ai.agent.name": "writer", "k8s.pod.name": "p-9"}, resource)
    inherits = span(2, {"gen_ai.provider.name": "openai"}, resource)
    openai_placeholder: Attributes = {
        "gen_ai.agent.name": "OpenAI Agent",
        "gen_ai.agent.description": "OpenAI Agents instrumentation",
    }
    placeholder = span(3, openai_placeholder, resource)
    other = span(4, {}, {"service.name": "solo"})
    GenAIFields().process([own, inherits, placeholder, other])
    assert [(s.service_name, s.agent_name, s.pod_name) for s in (own, inherits, placeholder)] == [
        ("crew", "writer", "p-9"), ("crew", "planner", "p-0"), ("crew", "planner", "p-0"),
    ]  # fmt: skip
    assert (other.service_name, other.agent_name, other.pod_name) == ("solo", None, None)
    for processed in (own, inherits, placeholder, other):
        fields = dataclasses.asdict(processed)
        expected = derive(processed.attributes, processed.resource)
        assert {name: fields[name] for name in expected} == expected
