"""Attribute dialects, normalised into a span's derived fields.

Agents and LLM libraries name the same facts differently. The OpenTelemetry GenAI semantic
conventions (https://opentelemetry.io/docs/specs/semconv/gen-ai/) are the reference; older
releases of them, OpenLLMetry and OpenInference each have their own spellings. `derive` reads
all of them (first match wins, in the order listed) and returns the values for the derived
fields of `oracle_monitor.model.Span`. The original attributes are never changed.
"""

from __future__ import annotations

from typing import Final, TypeAlias, TypedDict, cast

from oracle_monitor.model import Attributes, AttributeValue
from oracle_monitor.processing.dialects import (
    is_not_llm_call,
    is_placeholder_agent,
    span_agent_name,
)

#: Derived field -> attribute keys that carry it, most authoritative first.
SPAN_DIALECTS: Final[dict[str, tuple[str, ...]]] = {
    "agent_name": ("gen_ai.agent.name", "oracle.agent.name", "agent.name"),
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    "model": (
        "gen_ai.response.model",
        "gen_ai.request.model",
        "llm.model_name",
        "llm.response.model",
        "llm.request.model",
    ),
    "input_tokens": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
        "llm.usage.prompt_tokens",
    ),
    "output_tokens": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
        "llm.usage.completion_tokens",
    ),
    "cache_read_tokens": (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ),
    "cache_creation_tokens": (
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "gen_ai.usage.cache_write.input_tokens",
        "llm.token_count.prompt_details.cache_write",
    ),
    "reasoning_tokens": (
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens",
        "llm.token_count.completion_details.reasoning",
    ),
    "pod_name": ("k8s.pod.name",),
    "namespace": ("k8s.namespace.name",),
    "task_id": ("oracle.task.id",),
}

_INT_FIELDS: Final = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_creation_tokens",
        "reasoning_tokens",
    }
)
#: Facts about where a span ran are usually resource attributes; look there too.
_RESOURCE_FIELDS: Final = frozenset({"agent_name", "pod_name", "namespace"})
#: Token counts are stored as signed 64-bit integers.
_MAX_COUNT: Final = 2**63 - 1


class DerivedFields(TypedDict):
    """The derived fields of a `Span`, as keyword arguments for its constructor."""

    service_name: str
    agent_name: str | None
    provider: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_creation_tokens: int | None
    reasoning_tokens: int | None
    pod_name: str | None
    namespace: str | None
    task_id: str | None
    cost_usd: float | None
    rate_limited: bool


def _as_int(value: AttributeValue) -> int | None:
    """A token count: a non-negative integer, also when sent as a string or an integral float."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            try:
                as_float = float(value)
            except ValueError:
                return None
            if not as_float.is_integer():
                return None
            number = int(as_float)
    else:
        return None
    return number if 0 <= number <= _MAX_COUNT else None


def _as_text(value: AttributeValue) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


# Attribute key -> (derived field, rank in its dialect list, whether it is a count).
_KEY_INDEX: Final[dict[str, tuple[str, int, bool]]] = {
    key: (name, rank, name in _INT_FIELDS)
    for name, keys in SPAN_DIALECTS.items()
    for rank, key in enumerate(keys)
}
_RESOURCE_KEY_INDEX: Final = {
    key: hit for key, hit in _KEY_INDEX.items() if hit[0] in _RESOURCE_FIELDS
}
_EMPTY: Final[dict[str, str | int | float | bool | None]] = {
    "service_name": "unknown_service",
    **dict.fromkeys(SPAN_DIALECTS),
    "cost_usd": None,
    "rate_limited": False,
}


def _fill(
    found: dict[str, str | int | float | bool | None],
    source: Attributes,
    index: dict[str, tuple[str, int, bool]],
) -> dict[str, int]:
    """Put into ``found`` the best valid value per field from ``source``; return the ranks used.

    Looks only at the keys ``source`` and ``index`` share (a C-level set intersection), so the
    cost follows the number of dialect keys present, not the number of dialect keys known.
    """
    ranks: dict[str, int] = {}
    for key in source.keys() & index.keys():
        name, rank, integer = index[key]
        if name in ranks and ranks[name] <= rank:
            continue
        raw = source[key]
        # The common cases inline (a well-formed str or int), the rest through the converters.
        value: str | int | None
        if integer:
            value = raw if type(raw) is int and 0 <= raw <= _MAX_COUNT else _as_int(raw)
        else:
            value = raw if type(raw) is str and raw else _as_text(raw)
        if value is not None:
            found[name] = value
            ranks[name] = rank
    return ranks


#: What a resource gives each of its spans: the fields its attributes carry (agent, pod,
#: namespace), which a span's own attributes override, and the service name.
ResourceFields: TypeAlias = tuple[dict[str, str | int | float | bool | None], str]


def resource_fields(resource: Attributes) -> ResourceFields:
    """The part of `derive` that depends on the resource alone, to work out once for all the
    spans of a resource."""
    found: dict[str, str | int | float | bool | None] = {}
    if resource:
        _fill(found, resource, _RESOURCE_KEY_INDEX)
        service = resource.get("service.name")
        if isinstance(service, str) and service:
            return found, service
    return found, "unknown_service"


def derive(
    attributes: Attributes, resource: Attributes, of_resource: ResourceFields | None = None
) -> DerivedFields:
    """Compute a span's derived fields from its attributes and its resource's.

    For each field the first key of its `SPAN_DIALECTS` entry that holds a usable value wins;
    agent, pod and namespace fall back to the resource when the span's attributes lack them.
    Token counts must be non-negative integers (integral floats and numeric strings count).
    ``of_resource`` is `resource_fields` of ``resource``, when the caller keeps it.
    """
    found = _EMPTY.copy()
    ranks = _fill(found, attributes, _KEY_INDEX) if attributes else {}
    if attributes:
        _framework_rules(found, ranks, attributes)
    inherited, found["service_name"] = of_resource or resource_fields(resource)
    for name, value in inherited.items():
        if name not in ranks:
            found[name] = value
    if found["provider"] is not None:
        _llm_outcome(found, attributes)
    return cast(DerivedFields, found)


def _framework_rules(
    found: dict[str, str | int | float | bool | None], ranks: dict[str, int], attributes: Attributes
) -> None:
    """What `oracle_monitor.processing.dialects` reads by rule: an agent named otherwise than by
    a flat key (or a placeholder name to drop), and spans that are not LLM calls although they
    carry a provider or usage (their derived provider, counts and cost stay empty)."""
    if found["agent_name"] == _PLACEHOLDER_NAME and is_placeholder_agent(attributes):
        found["agent_name"] = None
        del ranks["agent_name"]
    if "agent_name" not in ranks:
        named = span_agent_name(attributes)
        if named is not None:
            found["agent_name"] = named
            ranks["agent_name"] = 0
    counted = (found["provider"], found["input_tokens"], found["output_tokens"])
    if counted != (None, None, None) and is_not_llm_call(attributes):
        found["provider"] = found["model"] = None
        for name in _USAGE_FIELDS:
            found[name] = None


#: The name the official OpenAI Agents instrumentation puts on spans that name no agent
#: (`dialects.is_placeholder_agent` says when).
_PLACEHOLDER_NAME: Final = "OpenAI Agent"
#: Usage fields a span leaves to the LLM proxy's span of the same call.
_USAGE_FIELDS: Final = (
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
    "reasoning_tokens",
)  # fmt: skip


def _llm_outcome(found: dict[str, str | int | float | bool | None], attributes: Attributes) -> None:
    """Cost and rate limiting of an LLM call span (one that names its provider).

    A span marked ``oracle.llm.usage_reported_by=proxy`` is a client's view of a call whose
    LLM proxy span records the usage and cost (the Anthropic SDK's own span behind the proxy
    still carries the SDK's counts): its derived counts and cost stay empty, so every call is
    counted once, by the proxy's span. Its attributes keep what the client reported.
    """
    proxied = attributes.get("oracle.llm.usage_reported_by") == "proxy"
    if proxied:
        for name in _USAGE_FIELDS:
            found[name] = None
    cost = attributes.get("oracle.llm.cost_usd")
    if not proxied and isinstance(cost, int | float) and not isinstance(cost, bool) and cost >= 0:
        found["cost_usd"] = float(cost)
    limited = attributes.get("oracle.llm.rate_limited")
    found["rate_limited"] = limited is True or attributes.get("http.response.status_code") == 429
