"""OpenLLMetry (Traceloop SDK) tracing two hand-written OpenAI tool-loop agents.

What runs: a ``research_desk`` workflow in which an ``Orchestrator`` agent answers a user's
question by delegating to a ``Researcher`` agent through its ``ask_researcher`` tool; the
Researcher calls a ``get_weather`` tool. Each agent is a hand-written tool loop over the OpenAI
SDK's chat completions (``gpt-4o-mini``); the Orchestrator's calls are plain, the Researcher's
are streamed (``stream=True, stream_options={"include_usage": True}``), its tool calls put
together from the stream's deltas.

How it is traced, as OpenLLMetry's docs tell its users: ``Traceloop.init`` with a custom
``exporter`` (the OTLP/HTTP span exporter, configured by the standard ``OTEL_EXPORTER_OTLP_*``
variables) so nothing goes to Traceloop's cloud; it makes the tracer provider and a batch span
processor and turns on every bundled instrumentation whose library is installed (here
``opentelemetry-instrumentation-openai``). The workflow, agent and tool functions carry the
SDK's ``@workflow``, ``@agent`` and ``@tool`` decorators (spans ``<name>.workflow`` /
``<name>.agent`` / ``<name>.tool`` with ``traceloop.span.kind`` and ``traceloop.entity.name``);
the conversation is tagged with ``@conversation`` (``gen_ai.conversation.id``) and with
session and user association properties (``traceloop.association.properties.*``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openai import OpenAI
from openai.types.chat import (
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from traceloop.sdk import Traceloop
from traceloop.sdk.associations import AssociationProperty, Associations
from traceloop.sdk.decorators import agent, conversation, tool, workflow

MODEL = "gpt-4o-mini"
MAX_TURNS = 5

Traceloop.init(
    app_name=os.environ.get("OTEL_SERVICE_NAME", "research-desk"),
    exporter=OTLPSpanExporter(),  # endpoint and protocol from the OTEL_EXPORTER_OTLP_* variables
    disable_batch=False,
    telemetry_enabled=False,
)
client = OpenAI()  # base URL and key from OPENAI_BASE_URL / OPENAI_API_KEY


@dataclass
class ToolCall:
    """A function call the model asked for, put together from a response or a stream."""

    id: str
    name: str
    arguments: str = ""


@dataclass
class Turn:
    """One model answer: its text and the tools it called."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)

    def as_message(self) -> ChatCompletionMessageParam:
        if not self.tool_calls:
            return {"role": "assistant", "content": self.text}
        return {
            "role": "assistant",
            "content": self.text or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in self.tool_calls
            ],
        }


def function_tool(name: str, description: str, parameter: str) -> ChatCompletionToolParam:
    """A function tool taking one required string parameter."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {parameter: {"type": "string"}},
                "required": [parameter],
            },
        },
    }


def complete(
    messages: list[ChatCompletionMessageParam], tools: list[ChatCompletionToolParam]
) -> Turn:
    """One chat completion, not streamed."""
    response = client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
    message = response.choices[0].message
    calls = [
        ToolCall(call.id, call.function.name, call.function.arguments)
        for call in message.tool_calls or []
        if call.type == "function"
    ]
    return Turn(message.content or "", calls)


def complete_streamed(
    messages: list[ChatCompletionMessageParam], tools: list[ChatCompletionToolParam]
) -> Turn:
    """One chat completion, streamed with usage; text and tool calls from the deltas."""
    stream = client.chat.completions.create(
        model=MODEL,
        messages=messages,
        tools=tools,
        stream=True,
        stream_options={"include_usage": True},
    )
    text: list[str] = []
    calls: dict[int, ToolCall] = {}
    for chunk in stream:
        for choice in chunk.choices:
            delta = choice.delta
            text.append(delta.content or "")
            for part in delta.tool_calls or []:
                call = calls.setdefault(part.index, ToolCall(part.id or "", ""))
                if part.function and part.function.name:
                    call.name += part.function.name
                if part.function and part.function.arguments:
                    call.arguments += part.function.arguments
    return Turn("".join(text), [calls[index] for index in sorted(calls)])


def tool_loop(
    instructions: str,
    question: str,
    tools: dict[str, Callable[..., str]],
    specs: list[ChatCompletionToolParam],
    ask: Callable[[list[ChatCompletionMessageParam], list[ChatCompletionToolParam]], Turn],
) -> str:
    """Ask the model until it answers without calling a tool, running the tools it calls."""
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": instructions},
        {"role": "user", "content": question},
    ]
    for _ in range(MAX_TURNS):
        turn = ask(messages, specs)
        messages.append(turn.as_message())
        if not turn.tool_calls:
            return turn.text
        for call in turn.tool_calls:
            result = tools[call.name](**json.loads(call.arguments or "{}"))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    raise RuntimeError(f"no answer after {MAX_TURNS} turns")


@tool(name="get_weather")
def get_weather(city: str) -> str:
    """The weather in a city (canned)."""
    return json.dumps({"city": city, "forecast": "sunny", "temperature_c": 24})


@agent(name="Researcher")
def researcher(question: str) -> str:
    """Looks facts up with its tools; its model calls are streamed."""
    return tool_loop(
        "[agent:Researcher] You research facts. Use get_weather for weather questions.",
        question,
        {"get_weather": get_weather},
        [function_tool("get_weather", "Current weather for a city.", "city")],
        complete_streamed,
    )


@tool(name="ask_researcher")
def ask_researcher(question: str) -> str:
    """Delegate a question to the Researcher agent."""
    return researcher(question)


@agent(name="Orchestrator")
def orchestrator(question: str) -> str:
    """Answers the user, delegating research to the Researcher."""
    return tool_loop(
        "[agent:Orchestrator] You answer the user. Delegate research with ask_researcher.",
        question,
        {"ask_researcher": ask_researcher},
        [function_tool("ask_researcher", "Ask the Researcher agent a question.", "question")],
        complete,
    )


@conversation(conversation_id="conv-research-desk-1")
@workflow(name="research_desk")
def research_desk(question: str) -> str:
    """The workflow: one user question through the two agents."""
    Associations.set(
        [(AssociationProperty.SESSION_ID, "session-42"), (AssociationProperty.USER_ID, "user-7")]
    )
    return orchestrator(question)


def shutdown() -> None:
    """Export what is left and stop the tracer provider Traceloop.init made."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush()
        provider.shutdown()


def main() -> None:
    answer = research_desk("Should I pack an umbrella for Paris tomorrow?")
    shutdown()
    summary: dict[str, Any] = {
        "workflow": "research_desk",
        "agents": ["Orchestrator", "Researcher"],
        "tools": ["ask_researcher", "get_weather"],
        "streamed": ["Researcher"],
        "answer": answer,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
