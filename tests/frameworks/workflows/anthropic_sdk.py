"""Two hand-written agents on the plain ``anthropic`` SDK, traced by the SDK's own spans.

The workflow: an ``Orchestrator`` agent answers the user by delegating to a ``Researcher``
sub-agent through its ``ask_researcher`` tool; the researcher looks the weather up with its
``get_weather`` tool. Each agent runs the usual tool loop over the Messages API
(``claude-3-5-haiku-20241022``): call the model with the agent's tools, run the ``tool_use``
blocks it returns, send the ``tool_result`` blocks back, until it answers text. The
orchestrator streams its calls (``client.messages.stream``); the researcher does not.

Tracing: the ``anthropic`` SDK (2.x) emits a CLIENT span per API call
(``anthropic.messages.create``) to whichever tracer provider is registered with the
OpenTelemetry API, with no instrumentation package (``ANTHROPIC_OPEN_TELEMETRY=false`` would
turn them off). So the workflow registers a `TracerProvider` with a `BatchSpanProcessor` and an
`OTLPSpanExporter` (configured by the standard ``OTEL_*`` variables), and links the SDK's spans
to the conversation with the documented
``client.with_options(open_telemetry={**client.open_telemetry, "conversation_id": ...})``.
The agents and tools are traced by hand, as the OpenTelemetry GenAI semantic conventions
describe: an ``invoke_agent <name>`` span per agent run and an ``execute_tool <tool>`` span per
tool run, the SDK's LLM spans nested under them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from anthropic import Anthropic
from anthropic.types import Message, MessageParam, ToolParam, ToolResultBlockParam
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

MODEL = "claude-3-5-haiku-20241022"
PROVIDER = "anthropic"
MAX_TOKENS = 1024
QUESTION = "What is the weather in Paris today? Ask the researcher."

tracer = trace.get_tracer("oracle_monitor.workflows.anthropic_sdk")


@dataclass
class Run:
    """What one run of the workflow shares: the client, the conversation, what it ran."""

    client: Anthropic
    conversation_id: str
    agents: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Tool:
    """A client tool: its schema for the model and the Python that runs it."""

    name: str
    description: str
    input_schema: dict[str, Any]
    function: Callable[[Run, dict[str, Any]], str]

    def schema(self) -> ToolParam:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
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
            messages: list[MessageParam] = [{"role": "user", "content": user_input}]
            while True:
                message = self._complete(run.client, messages)
                calls = [block for block in message.content if block.type == "tool_use"]
                if not calls:
                    return "".join(b.text for b in message.content if b.type == "text")
                messages.append({"role": "assistant", "content": message.content})
                results: list[ToolResultBlockParam] = [
                    {
                        "type": "tool_result",
                        "tool_use_id": call.id,
                        "content": self._execute(run, call.id, call.name, call.input),
                    }
                    for call in calls
                ]
                messages.append({"role": "user", "content": results})

    def _complete(self, client: Anthropic, messages: list[MessageParam]) -> Message:
        """One model call, streamed or not."""
        tools = [tool.schema() for tool in self.tools]
        if not self.stream:
            return client.messages.create(
                model=MODEL,
                max_tokens=MAX_TOKENS,
                system=self.instructions,
                messages=messages,
                tools=tools,
            )
        with client.messages.stream(
            model=MODEL,
            max_tokens=MAX_TOKENS,
            system=self.instructions,
            messages=messages,
            tools=tools,
        ) as stream:
            for _text in stream.text_stream:
                pass  # a chat UI would print the text as it comes
            return stream.get_final_message()

    def _execute(self, run: Run, call_id: str, name: str, arguments: object) -> str:
        """Runs one tool call in an ``execute_tool`` span."""
        tool = next(tool for tool in self.tools if tool.name == name)
        run.tools.append(tool.name)
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool.name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "function",
            "gen_ai.tool.description": tool.description,
        }
        with tracer.start_as_current_span(
            f"execute_tool {tool.name}", kind=SpanKind.INTERNAL, attributes=attributes
        ):
            return tool.function(run, arguments if isinstance(arguments, dict) else {})


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
            input_schema={
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
            input_schema={
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
    """A registered tracer provider exporting over OTLP; flushed and shut down at the end."""
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    try:
        yield
    finally:
        provider.force_flush()
        provider.shutdown()


def main() -> None:
    with tracing():
        conversation_id = f"conv-{uuid.uuid4().hex}"
        client = Anthropic()
        client = client.with_options(
            open_telemetry={**client.open_telemetry, "conversation_id": conversation_id}
        )
        run = Run(client=client, conversation_id=conversation_id)
        answer = ORCHESTRATOR.invoke(run, QUESTION)
    print(json.dumps({"agents": run.agents, "tools": run.tools, "answer": answer}))


if __name__ == "__main__":
    main()
