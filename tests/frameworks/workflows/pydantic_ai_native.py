"""pydantic-ai agent delegation, traced by pydantic-ai's own OpenTelemetry instrumentation.

What it runs (pydantic-ai's "agent delegation" pattern: a tool that runs another agent with the
caller's ``usage``):

* ``Coordinator`` (``OpenAIChatModel``, chat completions) has two tools, ``ask_researcher`` and
  ``ask_summarizer``, each delegating to a sub-agent with ``await sub_agent.run(...,
  usage=ctx.usage)``;
* ``Researcher`` (``OpenAIChatModel``) has a function tool of its own, ``get_weather``;
* ``Summarizer`` (``OpenAIResponsesModel``, the Responses API) has no tools;
* then a second, streamed run: ``Researcher.run_stream(...)``, consumed with ``stream_text``
  (pydantic-ai asks the chat completions stream for usage itself).

How it is traced: as pydantic-ai's docs say for OpenTelemetry without Logfire, a global SDK
``TracerProvider`` with a ``BatchSpanProcessor`` around the OTLP/HTTP exporter (configured only by
the standard ``OTEL_*`` environment), and ``Agent.instrument_all(...)`` with
``InstrumentationSettings(version=6)``, the newest data format it offers. Models come from
``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``. Prints one JSON line saying what ran.
"""

from __future__ import annotations

import asyncio
import json
import os

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import set_tracer_provider
from pydantic_ai import Agent, RunContext
from pydantic_ai.models.instrumented import InstrumentationSettings
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.openai import OpenAIProvider

MODEL = "gpt-4o-mini"


def setup_tracing() -> TracerProvider:
    """The global tracer provider exporting over OTLP/HTTP, and pydantic-ai's instrumentation on."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    set_tracer_provider(tracer_provider)
    Agent.instrument_all(InstrumentationSettings(version=6))
    return tracer_provider


def provider() -> OpenAIProvider:
    return OpenAIProvider(
        base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"]
    )


researcher = Agent(
    OpenAIChatModel(MODEL, provider=provider()),
    name="Researcher",
    instructions="[agent:Researcher] You find facts. Use get_weather for the weather.",
)

summarizer = Agent(
    OpenAIResponsesModel(MODEL, provider=provider()),
    name="Summarizer",
    instructions="[agent:Summarizer] You summarise the text you are given in one sentence.",
)

coordinator = Agent(
    OpenAIChatModel(MODEL, provider=provider()),
    name="Coordinator",
    instructions=(
        "[agent:Coordinator] You answer travel questions. Ask the researcher for facts, "
        "then ask the summarizer to summarise them."
    ),
)


@researcher.tool_plain
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"It is sunny and 22 degrees in {city}."


@coordinator.tool
async def ask_researcher(ctx: RunContext[object], question: str) -> str:
    """Ask the research agent a factual question."""
    result = await researcher.run(question, usage=ctx.usage)
    return result.output


@coordinator.tool
async def ask_summarizer(ctx: RunContext[object], text: str) -> str:
    """Ask the summarizer agent to summarise a text."""
    result = await summarizer.run(text, usage=ctx.usage)
    return result.output


async def main() -> dict[str, object]:
    delegated = await coordinator.run("What is the weather like in Paris today?")
    async with researcher.run_stream("And what is the weather in Lyon?") as streamed:
        chunks = [chunk async for chunk in streamed.stream_text(delta=True)]
    return {
        "agents": ["Coordinator", "Researcher", "Summarizer"],
        "tools": ["ask_researcher", "get_weather", "ask_summarizer"],
        "runs": [
            {"agent": "Coordinator", "streamed": False, "output": delegated.output},
            {"agent": "Researcher", "streamed": True, "output": "".join(chunks)},
        ],
        "usage": {
            "Coordinator (shared with its delegates)": delegated.usage.total_tokens,
            "Researcher streamed": streamed.usage.total_tokens,
        },
    }


if __name__ == "__main__":
    tracer_provider = setup_tracing()
    try:
        summary = asyncio.run(main())
    finally:
        tracer_provider.force_flush()
        tracer_provider.shutdown()
    print(json.dumps(summary))
