"""Two hand-written agents on the plain ``openai`` SDK, traced by OpenTelemetry's instrumentation.

The workflow: an ``Orchestrator`` agent answers the user by delegating to a ``Researcher``
sub-agent through its ``ask_researcher`` function tool; the researcher looks the weather up with
its ``get_weather`` function tool. Each agent runs the usual tool loop over Chat Completions
(``gpt-4o-mini``): call the model with the agent's tools, run the tool calls it returns, send
the results back, until it answers text. The orchestrator streams its calls
(``stream=True, stream_options={"include_usage": True}``); the researcher does not.

Tracing is set up as the docs of ``opentelemetry-instrumentation-openai-v2`` say: a
`TracerProvider` with a `BatchSpanProcessor` and an `OTLPSpanExporter` (configured by the
standard ``OTEL_*`` variables), registered globally, then ``OpenAIInstrumentor().instrument()``,
which makes a ``chat gpt-4o-mini`` CLIENT span for each Chat Completions call. No agent
framework is involved, so the agents and tools are traced by hand, as the OpenTelemetry GenAI
semantic conventions describe: an ``invoke_agent <name>`` span per agent run and an
``execute_tool <tool>`` span per tool run, the instrumentation's LLM spans nested under them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from openai import OpenAI
from openai.types.chat import (
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

MODEL = "gpt-4o-mini"
PROVIDER = "openai"
QUESTION = "What is the weather in Paris today? Ask the researcher."

tracer = trace.get_tracer("oracle_monitor.workflows.openai_v2")


@dataclass(frozen=True)
class ToolCall:
    """A function call the model asked for."""

    id: str
    name: str
    arguments: str


@dataclass
class Run:
    """What one run of the workflow shares: the client, the conversation, what it ran."""

    client: OpenAI
    conversation_id: str
    agents: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Tool:
    """A function tool: its schema for the model and the Python that runs it."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[[Run, dict[str, Any]], str]

    def schema(self) -> ChatCompletionFunctionToolParam:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass(frozen=True)
class Agent:
    """An LLM with instructions and tools, run in a tool loop."""

    name: str
    id: str
    description: str
    instructions: str
    tools: tuple[Tool, ...]
    stream: bool = False

    def invoke(self, run: Run, user_input: str) -> str:
        """Runs the tool loop in an ``invoke_agent`` span and returns the agent's answer."""
        run.agents.append(self.name)
        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.agent.name": self.name,
            "gen_ai.agent.id": self.id,
            "gen_ai.agent.description": self.description,
            "gen_ai.conversation.id": run.conversation_id,
            "gen_ai.request.model": MODEL,
        }
        with tracer.start_as_current_span(
            f"invoke_agent {self.name}", kind=SpanKind.INTERNAL, attributes=attributes
        ):
            messages: list[ChatCompletionMessageParam] = [
                {"role": "system", "content": self.instructions},
                {"role": "user", "content": user_input},
            ]
            while True:
                text, calls = self._complete(run.client, messages)
                if not calls:
                    return text
                messages.append(
                    {"role": "assistant", "tool_calls": [_call_param(c) for c in calls]}
                )
                for call in calls:
                    result = self._execute(run, call)
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": result})

    def _complete(
        self, client: OpenAI, messages: list[ChatCompletionMessageParam]
    ) -> tuple[str, list[ToolCall]]:
        """One model call: the text it answered and the tool calls it asked for."""
        tools = [tool.schema() for tool in self.tools]
        if not self.stream:
            completion = client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
            message = completion.choices[0].message
            calls = [
                ToolCall(call.id, call.function.name, call.function.arguments)
                for call in message.tool_calls or []
                if call.type == "function"
            ]
            return message.content or "", calls

        text: list[str] = []
        parts: dict[int, dict[str, str]] = {}
        with client.chat.completions.create(
            model=MODEL,
            messages=messages,
            tools=tools,
            stream=True,
            stream_options={"include_usage": True},
        ) as stream:
            for chunk in stream:
                for choice in chunk.choices:
                    text.append(choice.delta.content or "")
                    for delta in choice.delta.tool_calls or []:
                        part = parts.setdefault(
                            delta.index, {"id": "", "name": "", "arguments": ""}
                        )
                        part["id"] += delta.id or ""
                        if delta.function is not None:
                            part["name"] += delta.function.name or ""
                            part["arguments"] += delta.function.arguments or ""
        calls = [ToolCall(p["id"], p["name"], p["arguments"]) for _, p in sorted(parts.items())]
        return "".join(text), calls

    def _execute(self, run: Run, call: ToolCall) -> str:
        """Runs one tool call in an ``execute_tool`` span."""
        tool = next(tool for tool in self.tools if tool.name == call.name)
        run.tools.append(tool.name)
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "function",
            "gen_ai.tool.description": tool.description,
        }
        with tracer.start_as_current_span(
            f"execute_tool {tool.name}", kind=SpanKind.INTERNAL, attributes=attributes
        ):
            return tool.function(run, json.loads(call.arguments or "{}"))


def _call_param(call: ToolCall) -> ChatCompletionMessageFunctionToolCallParam:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def get_weather(run: Run, arguments: dict[str, Any]) -> str:
    return json.dumps({"city": arguments.get("city"), "forecast": "sunny", "celsius": 21})


RESEARCHER = Agent(
    name="Researcher",
    id="agent-researcher",
    description="Looks facts up with its tools.",
    instructions="[agent:Researcher] You research facts. Use get_weather for the weather.",
    tools=(
        Tool(
            name="get_weather",
            description="The weather forecast for a city.",
            parameters={
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
            function=get_weather,
        ),
    ),
)


def ask_researcher(run: Run, arguments: dict[str, Any]) -> str:
    """The orchestrator's tool: runs the researcher sub-agent on the question."""
    return RESEARCHER.invoke(run, str(arguments.get("question", "")))


ORCHESTRATOR = Agent(
    name="Orchestrator",
    id="agent-orchestrator",
    description="Answers the user, delegating research to the Researcher.",
    instructions="[agent:Orchestrator] You answer the user. Delegate research to ask_researcher.",
    tools=(
        Tool(
            name="ask_researcher",
            description="Ask the Researcher agent a question.",
            parameters={
                "type": "object",
                "properties": {"question": {"type": "string"}},
                "required": ["question"],
            },
            function=ask_researcher,
        ),
    ),
    stream=True,
)


@contextmanager
def tracing() -> Iterator[None]:
    """OpenTelemetry as the instrumentation's docs set it up; flushed and shut down at the end."""
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    OpenAIInstrumentor().instrument()
    try:
        yield
    finally:
        provider.force_flush()
        provider.shutdown()


def main() -> None:
    with tracing():
        run = Run(client=OpenAI(), conversation_id=f"conv-{uuid.uuid4().hex}")
        answer = ORCHESTRATOR.invoke(run, QUESTION)
    print(json.dumps({"agents": run.agents, "tools": run.tools, "answer": answer}))


if __name__ == "__main__":
    main()
