"""A two-agent CrewAI crew with delegation, traced with OpenInference (CrewAI + OpenAI SDK).

Runs a sequential crew of two tasks. The ``Paris`` agent (the crew's Paris correspondent; its
LLM streams) calls the custom function tool ``lookup_weather`` for the first task, whose output
is handed on, as context, to the ``Writer`` agent's task. The ``Writer`` (its LLM does not
stream) may delegate (``allow_delegation=True``): it calls CrewAI's built-in coworker tools,
``Delegate work to coworker`` and ``Ask question to coworker``, each of which runs the ``Paris``
agent again as a sub-agent (which calls ``lookup_weather`` again), before it answers.
The correspondent's role is ``Paris`` because the fake LLM the tests use fills every string
argument with "Paris", and CrewAI finds the coworker to delegate to by its role.

Both agents use ``gpt-4o-mini`` through CrewAI's native OpenAI provider
(``crewai.LLM(model="openai/gpt-4o-mini", ...)``, the OpenAI SDK, no LiteLLM), pointed at
``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``.

Tracing is set up as the OpenInference CrewAI instrumentation's README says: a
``TracerProvider`` with a ``BatchSpanProcessor`` around the OTLP/HTTP ``OTLPSpanExporter``
(configured only by the ``OTEL_*`` environment), ``CrewAIInstrumentor`` for the crew, tasks
and tools, and ``OpenAIInstrumentor`` for the LLM calls, which CrewAI makes with the OpenAI
SDK. CrewAI's own anonymous telemetry, its hosted tracing and its PyPI version check are
turned off (no network here but the loopback).

Prints one JSON line: the agents, tasks and tools it ran, and the crew's token usage.
"""

from __future__ import annotations

import json
import os

# CrewAI reads these when it is imported and when a crew starts: no phoning home.
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("CREWAI_DISABLE_VERSION_CHECK", "true")

from crewai import LLM, Agent, Crew, CrewOutput, Process, Task
from crewai.tools import tool
from openinference.instrumentation.crewai import CrewAIInstrumentor
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

MODEL = "openai/gpt-4o-mini"


def setup_tracing() -> TracerProvider:
    """The OTLP/HTTP pipeline (endpoint and service name from ``OTEL_*``), instrumented."""
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    CrewAIInstrumentor().instrument(tracer_provider=provider)
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    return provider


@tool("lookup_weather")
def lookup_weather(city: str) -> str:
    """Look up today's weather in a city."""
    return f"It is sunny and 21 degrees C in {city}."


def build_crew() -> Crew:
    """A correspondent (streaming LLM, one tool) and a writer who may delegate to it."""
    base_url = os.environ["OPENAI_BASE_URL"]
    api_key = os.environ["OPENAI_API_KEY"]
    correspondent = Agent(
        role="Paris",
        goal="Report what the weather is like in Paris today, as the crew's Paris correspondent.",
        backstory="[agent:Paris] You look facts up with your tools before answering.",
        tools=[lookup_weather],
        llm=LLM(model=MODEL, base_url=base_url, api_key=api_key, stream=True),
        allow_delegation=False,
    )
    writer = Agent(
        role="Writer",
        goal="Write a short, friendly weather note.",
        backstory="[agent:Writer] You turn research notes into one or two clear sentences.",
        llm=LLM(model=MODEL, base_url=base_url, api_key=api_key),
        allow_delegation=True,
    )
    research = Task(
        name="research_weather",
        description="Find today's weather in Paris.",
        expected_output="The weather in Paris today, in one sentence.",
        agent=correspondent,
    )
    write = Task(
        name="write_note",
        description="Write a weather note for Paris from the research.",
        expected_output="A one- or two-sentence weather note.",
        agent=writer,
        context=[research],
    )
    return Crew(
        name="weather_crew",
        agents=[correspondent, writer],
        tasks=[research, write],
        process=Process.sequential,
        verbose=False,
    )


def main() -> None:
    provider = setup_tracing()
    crew = build_crew()
    output = crew.kickoff()
    if not isinstance(output, CrewOutput):  # a crew made with stream=True streams its output
        raise TypeError(f"expected a CrewOutput, got {type(output).__name__}")
    usage = output.token_usage
    print(
        json.dumps(
            {
                "framework": "crewai",
                "agents": [agent.role for agent in crew.agents],
                "tasks": [task.name for task in crew.tasks],
                "tools": [
                    "lookup_weather",
                    "Delegate work to coworker",
                    "Ask question to coworker",
                ],
                "streamed": ["Paris"],
                "usage": {
                    "prompt_tokens": usage.prompt_tokens,
                    "completion_tokens": usage.completion_tokens,
                    "successful_requests": usage.successful_requests,
                },
                "output": output.raw,
            }
        )
    )
    provider.force_flush()
    provider.shutdown()


if __name__ == "__main__":
    main()
