"""Attribute dialects -> a span's derived fields (`processing.conventions.derive`)."""

from __future__ import annotations

import copy
from dataclasses import fields
from typing import Any

import pytest

from oracle_monitor.model import Attributes, Span, SpanKind
from oracle_monitor.processing.conventions import SPAN_DIALECTS, derive

NO_DERIVED = {
    "service_name": "unknown_service",
    "agent_name": None,
    "provider": None,
    "model": None,
    "input_tokens": None,
    "output_tokens": None,
    "cache_read_tokens": None,
    "cache_creation_tokens": None,
    "reasoning_tokens": None,
    "pod_name": None,
    "namespace": None,
    "task_id": None,
    "cost_usd": None,
    "rate_limited": False,
}


@pytest.mark.parametrize(
    ("attributes", "resource", "field", "expected"),
    [
        # GenAI semantic conventions, current names.
        ({"gen_ai.provider.name": "anthropic"}, {}, "provider", "anthropic"),
        ({"gen_ai.request.model": "claude-sonnet-4"}, {}, "model", "claude-sonnet-4"),
        ({"gen_ai.response.model": "gpt-4o-2024-08-06"}, {}, "model", "gpt-4o-2024-08-06"),
        ({"gen_ai.usage.input_tokens": 1200}, {}, "input_tokens", 1200),
        ({"gen_ai.usage.output_tokens": 340}, {}, "output_tokens", 340),
        ({"gen_ai.agent.name": "planner"}, {}, "agent_name", "planner"),
        # Deprecated GenAI names.
        ({"gen_ai.system": "openai"}, {}, "provider", "openai"),
        ({"gen_ai.usage.prompt_tokens": 11}, {}, "input_tokens", 11),
        ({"gen_ai.usage.completion_tokens": 12}, {}, "output_tokens", 12),
        # OpenInference.
        ({"llm.token_count.prompt": 21}, {}, "input_tokens", 21),
        ({"llm.token_count.completion": 22}, {}, "output_tokens", 22),
        ({"llm.model_name": "mistral-large"}, {}, "model", "mistral-large"),
        ({"llm.provider": "mistralai"}, {}, "provider", "mistralai"),
        ({"llm.system": "openai"}, {}, "provider", "openai"),
        # OpenLLMetry.
        ({"llm.usage.prompt_tokens": 31}, {}, "input_tokens", 31),
        ({"llm.usage.completion_tokens": 32}, {}, "output_tokens", 32),
        ({"llm.request.model": "gpt-4"}, {}, "model", "gpt-4"),
        ({"llm.response.model": "gpt-4-0613"}, {}, "model", "gpt-4-0613"),
        # Cache and reasoning token dialects.
        ({"gen_ai.usage.cache_read.input_tokens": 41}, {}, "cache_read_tokens", 41),
        ({"gen_ai.usage.cache_read_input_tokens": 42}, {}, "cache_read_tokens", 42),
        ({"llm.token_count.prompt_details.cache_read": 43}, {}, "cache_read_tokens", 43),
        ({"gen_ai.usage.cache_creation.input_tokens": 51}, {}, "cache_creation_tokens", 51),
        ({"gen_ai.usage.cache_creation_input_tokens": 52}, {}, "cache_creation_tokens", 52),
        ({"llm.token_count.prompt_details.cache_write": 53}, {}, "cache_creation_tokens", 53),
        ({"gen_ai.usage.reasoning.output_tokens": 61}, {}, "reasoning_tokens", 61),
        ({"gen_ai.usage.reasoning_tokens": 62}, {}, "reasoning_tokens", 62),
        ({"llm.token_count.completion_details.reasoning": 63}, {}, "reasoning_tokens", 63),
        # Agents and tasks.
        ({"oracle.agent.name": "critic"}, {}, "agent_name", "critic"),
        ({"agent.name": "scout"}, {}, "agent_name", "scout"),
        ({"oracle.task.id": "task-7"}, {}, "task_id", "task-7"),
        # Where the span ran: usually the resource, the span's own attributes also count.
        ({}, {"k8s.pod.name": "planner-7f9c"}, "pod_name", "planner-7f9c"),
        ({}, {"k8s.namespace.name": "agents"}, "namespace", "agents"),
        ({}, {"gen_ai.agent.name": "planner"}, "agent_name", "planner"),
        ({"k8s.pod.name": "from-span"}, {}, "pod_name", "from-span"),
        ({}, {"service.name": "fleet"}, "service_name", "fleet"),
        # Only the fields that may come from the resource are looked up there.
        ({}, {"gen_ai.request.model": "gpt-4o"}, "model", None),
        ({}, {"oracle.task.id": "task-1"}, "task_id", None),
        ({"service.name": "from-span"}, {}, "service_name", "unknown_service"),
        ({}, {"service.name": ""}, "service_name", "unknown_service"),
        ({}, {"service.name": 5}, "service_name", "unknown_service"),
    ],
)
def test_dialects(attributes: Attributes, resource: Attributes, field: str, expected: Any) -> None:
    derived: dict[str, Any] = dict(derive(attributes, resource))
    assert derived[field] == expected
    assert {k: v for k, v in derived.items() if k != field} == {
        k: v for k, v in NO_DERIVED.items() if k != field
    }


@pytest.mark.parametrize(
    ("attributes", "resource", "field", "expected"),
    [
        # Current name wins over the deprecated one, whatever the order they arrive in.
        (
            {"gen_ai.system": "old", "gen_ai.provider.name": "new"},
            {},
            "provider",
            "new",
        ),
        (
            {"gen_ai.usage.prompt_tokens": 1, "gen_ai.usage.input_tokens": 2},
            {},
            "input_tokens",
            2,
        ),
        (
            {"gen_ai.usage.completion_tokens": 1, "gen_ai.usage.output_tokens": 2},
            {},
            "output_tokens",
            2,
        ),
        (
            {"llm.token_count.prompt": 3, "gen_ai.usage.prompt_tokens": 4},
            {},
            "input_tokens",
            4,
        ),
        (
            {"gen_ai.usage.cache_read_input_tokens": 1, "gen_ai.usage.cache_read.input_tokens": 2},
            {},
            "cache_read_tokens",
            2,
        ),
        (
            {"llm.model_name": "m-old", "gen_ai.request.model": "m-req"},
            {},
            "model",
            "m-req",
        ),
        # The response model is what actually ran.
        (
            {"gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06"},
            {},
            "model",
            "gpt-4o-2024-08-06",
        ),
        # An unusable current value falls back to the next dialect.
        (
            {"gen_ai.usage.input_tokens": "many", "gen_ai.usage.prompt_tokens": 5},
            {},
            "input_tokens",
            5,
        ),
        ({"gen_ai.provider.name": "", "gen_ai.system": "openai"}, {}, "provider", "openai"),
        # The span's own attributes beat its resource's, even a less preferred key.
        (
            {"agent.name": "span-agent"},
            {"gen_ai.agent.name": "res-agent"},
            "agent_name",
            "span-agent",
        ),
        ({"k8s.pod.name": "a"}, {"k8s.pod.name": "b"}, "pod_name", "a"),
        # ... unless the span's value is unusable.
        ({"k8s.pod.name": ""}, {"k8s.pod.name": "b"}, "pod_name", "b"),
        ({}, {"agent.name": "x", "oracle.agent.name": "y"}, "agent_name", "y"),
    ],
)
def test_precedence(
    attributes: Attributes, resource: Attributes, field: str, expected: Any
) -> None:
    assert dict(derive(attributes, resource))[field] == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (120, 120),
        (0, 0),
        ("120", 120),
        (" 120 ", 120),
        (120.0, 120),
        ("120.0", 120),
        ("1e3", 1000),
        (120.5, None),
        ("120.5", None),
        ("many", None),
        ("", None),
        (-3, None),
        ("-3", None),
        (-3.0, None),
        (2**63 - 1, 2**63 - 1),
        (2**63, None),
        (float("inf"), None),
        (float("nan"), None),
        ("nan", None),
        (True, None),
        (False, None),
        (b"12", None),
        ([12], None),
        ({"n": 12}, None),
        (None, None),
    ],
)
def test_token_counts_as_strings_and_floats(value: Any, expected: int | None) -> None:
    derived = derive({"gen_ai.usage.input_tokens": value}, {})
    assert derived["input_tokens"] == expected
    assert type(derived["input_tokens"]) is (int if expected is not None else type(None))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gpt-4o", "gpt-4o"),
        (4, "4"),
        (3.5, "3.5"),
        ("", None),
        (True, None),
        (None, None),
        (b"gpt", None),
        (["gpt"], None),
    ],
)
def test_text_fields_accept_strings_and_numbers(value: Any, expected: str | None) -> None:
    assert derive({"gen_ai.request.model": value}, {})["model"] == expected


def test_originals_are_left_untouched() -> None:
    attributes: Attributes = {
        "gen_ai.usage.input_tokens": "12",
        "gen_ai.usage.output_tokens": 3.0,
        "gen_ai.system": "openai",
        "oracle.agent.reasoning": "because",
        "nested": {"a": [1, 2]},
    }
    resource: Attributes = {"service.name": "svc", "k8s.pod.name": "p"}
    before = (copy.deepcopy(attributes), copy.deepcopy(resource))
    derived = derive(attributes, resource)
    assert (derived["input_tokens"], derived["output_tokens"]) == (12, 3)
    assert (attributes, resource) == before
    assert type(attributes["gen_ai.usage.input_tokens"]) is str


def test_every_call_returns_a_fresh_dict() -> None:
    first = derive({"gen_ai.request.model": "a"}, {})
    first["model"] = "changed"
    first["input_tokens"] = 99
    assert derive({}, {}) == NO_DERIVED


def test_derived_fields_are_exactly_the_span_fields_after_flags() -> None:
    names = [f.name for f in fields(Span)]
    assert list(derive({}, {})) == names[names.index("service_name") : names.index("agent_from")]
    assert set(SPAN_DIALECTS) | {"service_name", "cost_usd", "rate_limited"} == set(NO_DERIVED)
    span = Span(
        "a" * 32,
        "b" * 16,
        "",
        "chat",
        SpanKind.CLIENT,
        1,
        2,
        **derive({"gen_ai.usage.input_tokens": 5}, {"service.name": "svc"}),
    )
    assert (span.service_name, span.input_tokens, span.output_tokens) == ("svc", 5, None)


def test_a_realistic_agent_span() -> None:
    attributes: Attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4",
        "gen_ai.usage.input_tokens": 1532,
        "gen_ai.usage.output_tokens": 211,
        "gen_ai.usage.cache_read_input_tokens": 1024,
        "oracle.agent.name": "researcher",
        "oracle.task.id": "task-42",
        "oracle.agent.reasoning": "the user wants sources, so search first",
    }
    resource: Attributes = {
        "service.name": "agent-fleet",
        "k8s.pod.name": "researcher-5d8f-x2k9q",
        "k8s.namespace.name": "agents",
        "gen_ai.agent.name": "fleet-default",
    }
    assert derive(attributes, resource) == {
        "service_name": "agent-fleet",
        "agent_name": "researcher",
        "provider": "anthropic",
        "model": "claude-sonnet-4",
        "input_tokens": 1532,
        "output_tokens": 211,
        "cache_read_tokens": 1024,
        "cache_creation_tokens": None,
        "reasoning_tokens": None,
        "pod_name": "researcher-5d8f-x2k9q",
        "namespace": "agents",
        "task_id": "task-42",
        "cost_usd": None,
        "rate_limited": False,
    }


@pytest.mark.parametrize(
    ("attributes", "cost", "rate_limited"),
    [
        ({"gen_ai.provider.name": "openai", "oracle.llm.cost_usd": 0.25}, 0.25, False),
        ({"gen_ai.provider.name": "openai", "oracle.llm.cost_usd": 1}, 1.0, False),
        ({"gen_ai.provider.name": "openai", "oracle.llm.cost_usd": -1.0}, None, False),
        ({"gen_ai.provider.name": "openai", "oracle.llm.cost_usd": "0.1"}, None, False),
        ({"gen_ai.provider.name": "openai", "oracle.llm.rate_limited": True}, None, True),
        ({"gen_ai.system": "anthropic", "http.response.status_code": 429}, None, True),
        ({"gen_ai.provider.name": "openai", "http.response.status_code": 200}, None, False),
        # Not an LLM call: no provider, so neither cost nor rate limit is read.
        ({"oracle.llm.cost_usd": 0.25, "http.response.status_code": 429}, None, False),
    ],
)
def test_llm_cost_and_rate_limit(
    attributes: Attributes, cost: float | None, rate_limited: bool
) -> None:
    derived = derive(attributes, {})
    assert derived["cost_usd"] == cost
    assert derived["rate_limited"] is rate_limited


def test_a_span_whose_proxy_records_the_usage_counts_none_of_its_own() -> None:
    """The Anthropic SDK's span behind the LLM proxy: its counts stay in its attributes only."""
    attributes: Attributes = {
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4",
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 340,
        "gen_ai.usage.cache_read.input_tokens": 100,
        "oracle.llm.cost_usd": 0.01,
        "http.response.status_code": 429,
        "oracle.llm.usage_reported_by": "proxy",
    }
    derived = derive(attributes, {})
    assert derived["provider"] == "anthropic" and derived["model"] == "claude-sonnet-4"
    assert derived["input_tokens"] is None and derived["output_tokens"] is None
    assert derived["cache_read_tokens"] is None and derived["cost_usd"] is None
    assert derived["rate_limited"] is True  # the stores leave it to the proxy's span
    assert attributes["gen_ai.usage.input_tokens"] == 1200
    unmarked = derive({**attributes, "oracle.llm.usage_reported_by": "parent"}, {})
    assert unmarked["input_tokens"] == 1200 and unmarked["cost_usd"] == 0.01
