"""The OpenAI Agents SDK, traced by OpenTelemetry's instrumentation: a triage agent hands off.

Runs, in its venv (``requirements/openai_agents_otel.txt``):

* ``TriageAgent`` (Responses API, the SDK's default) with ``handoffs=[WeatherAgent]``;
* ``WeatherAgent`` (Chat Completions API, through ``OpenAIChatCompletionsModel``, asking for usage
  in its streams) with a ``@function_tool`` ``get_weather(city)``;

once with ``Runner.run`` and once with ``Runner.run_streamed`` (the stream consumed), each run its
own trace, both in one ``group_id`` (the SDK's conversation id).

Tracing is set up as the README of ``opentelemetry-instrumentation-openai-agents-v2`` (from
opentelemetry-python-contrib's GenAI instrumentations) says: a global ``TracerProvider`` with a
``BatchSpanProcessor`` around the OTLP/HTTP exporter (configured by the standard ``OTEL_*``
variables alone), then ``OpenAIAgentsInstrumentor().instrument(tracer_provider=...)``, which adds
its processor to the SDK's trace processors. It adds, not replaces, so the SDK's default
processor (the exporter to OpenAI's servers) is removed first with ``set_trace_processors([])``;
the instrumentation, unchanged, then is the only one. The model calls go to ``OPENAI_BASE_URL``.

Prints one JSON line saying what ran.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    RunConfig,
    Runner,
    function_tool,
    set_trace_processors,
)
from openai import AsyncOpenAI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

MODEL = "gpt-4o-mini"
QUESTION = "What is the weather like in Paris today?"


def configure_tracing() -> TracerProvider:
    """An OTLP/HTTP-exporting tracer provider, with the Agents SDK instrumented onto it."""
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    # The SDK's own processor would send every trace to OpenAI's servers.
    set_trace_processors([])
    OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)
    return provider


@function_tool
def get_weather(city: str) -> str:
    """Today's weather in a city.

    Args:
        city: The city's name.
    """
    return f"It is sunny and 22 °C in {city}."


def build_agents() -> Agent[Any]:
    """The triage agent, which hands off to the weather agent."""
    weather_agent: Agent[Any] = Agent(
        name="WeatherAgent",
        handoff_description="Answers questions about the weather.",
        instructions="[agent:WeatherAgent] You answer weather questions with the get_weather tool.",
        model=OpenAIChatCompletionsModel(model=MODEL, openai_client=AsyncOpenAI()),
        model_settings=ModelSettings(include_usage=True),
        tools=[get_weather],
    )
    return Agent(
        name="TriageAgent",
        instructions="[agent:TriageAgent] You hand weather questions to the WeatherAgent.",
        model=MODEL,
        handoffs=[weather_agent],
    )


async def run_workflow() -> dict[str, Any]:
    """Both runs, plain and streamed; what they did."""
    triage = build_agents()
    config = RunConfig(workflow_name="Weather triage", group_id=f"conv-{uuid.uuid4().hex[:12]}")
    result = await Runner.run(triage, QUESTION, run_config=config)
    streamed = Runner.run_streamed(triage, QUESTION, run_config=config)
    events = 0
    async for _event in streamed.stream_events():
        events += 1
    return {
        "framework": "openai-agents",
        "instrumentation": "opentelemetry-instrumentation-openai-agents-v2",
        "agents": ["TriageAgent", "WeatherAgent"],
        "tools": ["get_weather"],
        "handoffs": ["TriageAgent->WeatherAgent"],
        "runs": [
            {"mode": "run", "last_agent": result.last_agent.name},
            {"mode": "run_streamed", "last_agent": streamed.last_agent.name, "events": events},
        ],
        "group_id": config.group_id,
    }


def main() -> None:
    provider = configure_tracing()
    try:
        summary = asyncio.run(run_workflow())
    finally:
        provider.force_flush()
        provider.shutdown()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
