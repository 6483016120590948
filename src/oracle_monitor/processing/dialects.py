"""What agent frameworks' spans say that a flat attribute key does not: rules per framework.

`oracle_monitor.processing.conventions.SPAN_DIALECTS` maps plain keys (``gen_ai.agent.name``,
``llm.token_count.prompt``…). Some facts need a rule instead; each one here was read off what
the framework really sends (recorded traces in ``tests/fixtures/frameworks/``, see
``docs/frameworks.md``):

* Agent names (`span_agent_name`):
  - OpenInference AGENT spans name it in ``agent.name`` (OpenAI Agents SDK) or
    ``graph.node.id`` (CrewAI, whose AGENT span is a task run by that agent);
  - OpenInference's LangChain instrumentation puts LangGraph's names in the ``metadata`` JSON:
    ``lc_agent_name`` (``create_agent(name=...)``) on the agent's spans, and
    ``langgraph_node`` on a node of the top graph (``ls_integration=langgraph``, a checkpoint
    namespace of one level), which is an agent unless it is one of the prebuilt agent's own
    inner nodes (``agent``, ``tools``, ``model``…);
  - a CrewAI delegation (the ``Delegate work to coworker`` / ``Ask question to coworker``
    tool) runs the coworker named in its ``input.value`` inside the tool's span;
  - OpenLLMetry's ``@agent`` spans: ``traceloop.entity.name`` (their ``gen_ai.agent.name`` is
    a flat key already);
  - the official OpenAI Agents instrumentation writes a placeholder, ``gen_ai.agent.name=
    "OpenAI Agent"`` with the description ``OpenAI Agents instrumentation``, on every span
    that is not an ``invoke_agent`` one: it names no agent (`is_placeholder_agent`).
* LLM calls (`is_not_llm_call`): a span that declares another role (``gen_ai.operation.name``
  ``invoke_agent``, ``execute_tool``…; OpenInference ``openinference.span.kind`` AGENT, CHAIN,
  TOOL…; OpenLLMetry ``traceloop.span.kind`` workflow, task, agent, tool) is not one, even
  when it carries a provider (every span of the official Agents instrumentation does) or usage
  (pydantic-ai's agent runs add up their calls' usage): counting it would count calls twice.
* For display (`genai_facts`): conversation or session id, tool name, handoff.
"""

from __future__ import annotations

from typing import Final

import orjson

from oracle_monitor.model import Attributes

__all__ = ["genai_facts", "is_not_llm_call", "is_placeholder_agent", "span_agent_name"]

#: ``gen_ai.operation.name`` values of spans that are not LLM calls.
_NOT_CALL_OPERATIONS: Final = frozenset(
    {"invoke_agent", "create_agent", "execute_tool", "invoke_workflow", "agent_handoff",
     "unknown"}
)  # fmt: skip
#: OpenInference span kinds that are LLM calls (the others are not).
_CALL_KINDS: Final = frozenset({"LLM", "EMBEDDING"})
#: OpenLLMetry's span kinds that are not LLM calls.
_TRACELOOP_NOT_CALLS: Final = frozenset({"workflow", "task", "agent", "tool"})
#: Inner nodes of LangGraph's prebuilt agents: never an agent's name.
_PREBUILT_NODES: Final = frozenset(
    {"agent", "tools", "model", "call_model", "should_continue", "__start__", "__end__"}
)
_CREWAI_DELEGATION: Final = frozenset({"Delegate work to coworker", "Ask question to coworker"})
_PLACEHOLDER: Final = ("OpenAI Agent", "OpenAI Agents instrumentation")
#: Conversation (session, thread) ids, most specific first.
_CONVERSATION_KEYS: Final = (
    "gen_ai.conversation.id",
    "session.id",
    "traceloop.association.properties.session_id",
    "pydantic_ai.root_conversation_id",
)


def _text(attributes: Attributes, key: str) -> str | None:
    value = attributes.get(key)
    return value if isinstance(value, str) and value else None


def _json_object(attributes: Attributes, key: str) -> dict[str, object] | None:
    text = attributes.get(key)
    if not isinstance(text, str) or not text.startswith("{"):
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def is_placeholder_agent(attributes: Attributes) -> bool:
    """Whether the span's ``gen_ai.agent.name`` is the official OpenAI Agents
    instrumentation's placeholder, which names no agent."""
    return (
        attributes.get("gen_ai.agent.name"),
        attributes.get("gen_ai.agent.description"),
    ) == _PLACEHOLDER and attributes.get("gen_ai.operation.name") != "invoke_agent"


def span_agent_name(attributes: Attributes) -> str | None:
    """The agent a framework's span names by a rule (see the module docstring), else None."""
    kind = attributes.get("openinference.span.kind")
    if kind == "AGENT":
        node = _text(attributes, "graph.node.id")
        if node:
            return node
    if "metadata" in attributes:
        metadata = _json_object(attributes, "metadata")
        if metadata is not None:
            named = _langgraph_agent(metadata)
            if named:
                return named
    if kind == "TOOL" and attributes.get("tool.name") in _CREWAI_DELEGATION:
        arguments = _json_object(attributes, "input.value")
        coworker = arguments.get("coworker") if arguments else None
        if isinstance(coworker, str) and coworker:
            return coworker
    if attributes.get("traceloop.span.kind") == "agent":
        return _text(attributes, "traceloop.entity.name")
    return None


def _langgraph_agent(metadata: dict[str, object]) -> str | None:
    agent = metadata.get("lc_agent_name")
    if isinstance(agent, str) and agent:
        return agent
    node, namespace = metadata.get("langgraph_node"), metadata.get("langgraph_checkpoint_ns")
    if (
        metadata.get("ls_integration") == "langgraph"
        and isinstance(node, str)
        and node
        and node not in _PREBUILT_NODES
        and isinstance(namespace, str)
        and "|" not in namespace
    ):
        return node
    return None


def is_not_llm_call(attributes: Attributes) -> bool:
    """Whether the span declares a role other than an LLM call (its usage, if any, adds up
    other spans' and its provider is only context)."""
    operation = attributes.get("gen_ai.operation.name")
    if operation in _NOT_CALL_OPERATIONS:
        return True
    kind = attributes.get("openinference.span.kind")
    if isinstance(kind, str) and kind not in _CALL_KINDS:
        return True
    return attributes.get("traceloop.span.kind") in _TRACELOOP_NOT_CALLS


def genai_facts(name: str, attributes: Attributes) -> dict[str, str]:
    """What a span (its name and attributes) says of its conversation, tool and handoff, in
    one vocabulary for the API: ``conversation_id``, ``tool_name``, ``handoff_from``,
    ``handoff_to`` (keys left out when the span does not say)."""
    facts: dict[str, str] = {}
    for key in _CONVERSATION_KEYS:
        value = _text(attributes, key)
        if value:
            facts["conversation_id"] = value
            break
    kind = attributes.get("openinference.span.kind")
    tool = (
        _text(attributes, "gen_ai.tool.name")
        or (_text(attributes, "tool.name") or name if kind == "TOOL" else None)
        or (
            _text(attributes, "traceloop.entity.name")
            if attributes.get("traceloop.span.kind") == "tool"
            else None
        )
    )
    if tool:
        facts["tool_name"] = tool
    source = _text(attributes, "gen_ai.handoff.from_agent")
    target = _text(attributes, "gen_ai.handoff.to_agent")
    if tool and kind == "TOOL":
        if tool.startswith("handoff to "):  # OpenInference's OpenAI Agents SDK
            source = source or _text(attributes, "input.value")
            target = target or tool.removeprefix("handoff to ")
        elif tool.startswith("transfer_to_"):  # LangGraph's handoff tools
            target = target or tool.removeprefix("transfer_to_")
        elif tool in _CREWAI_DELEGATION:
            target = target or span_agent_name(attributes)
    if source:
        facts["handoff_from"] = source
    if target:
        facts["handoff_to"] = target
    return facts
