"""A LangGraph supervisor with two worker agents, traced by OpenInference's LangChain instrumentor.

What it runs: the supervisor pattern of LangGraph's multi-agent docs, built with the agent
factory LangChain 1.x recommends (``langchain.agents.create_agent``; LangGraph's
``create_react_agent`` is deprecated in its favour). Three agents, each a compiled graph added
as a node of a parent ``StateGraph``:

* ``supervisor`` has two handoff tools, ``transfer_to_researcher`` and ``transfer_to_writer``,
  that return ``Command(goto=<agent>, graph=Command.PARENT)``;
* ``researcher`` has one function tool, ``get_weather``;
* ``writer`` has no tool.

Each worker goes back to the supervisor when it is done. The graph runs twice, on two threads
(conversations) of an in-memory checkpointer: once with ``invoke`` (plain chat completions)
and once with ``stream(..., stream_mode="messages")`` (every chat completion streamed, with the
usage chunk that ``stream_usage=True`` asks for). The model is ``gpt-4o-mini`` through
``ChatOpenAI``, at ``OPENAI_BASE_URL`` with ``OPENAI_API_KEY``.

How it is traced: as OpenInference's docs show, a ``TracerProvider`` with a
``BatchSpanProcessor`` and the OTLP/HTTP span exporter (configured by the standard ``OTEL_*``
variables only), handed to ``LangChainInstrumentor().instrument(tracer_provider=...)``.

It prints one JSON line saying what it ran.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, cast

from langchain.agents import AgentState, create_agent
from langchain.tools import ToolRuntime, tool
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from openinference.instrumentation.langchain import LangChainInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pydantic import SecretStr

SUPERVISOR = "supervisor"
RESEARCHER = "researcher"
WRITER = "writer"


def setup_tracing() -> TracerProvider:
    """OTLP/HTTP export of the LangChain/LangGraph runs, endpoint from ``OTEL_*``."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    LangChainInstrumentor().instrument(tracer_provider=tracer_provider)
    return tracer_provider


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny and 21 degrees C in {city}."


def create_handoff_tool(agent_name: str) -> BaseTool:
    """A tool that hands the conversation over to ``agent_name``, a node of the parent graph."""
    name = f"transfer_to_{agent_name}"

    @tool(name, description=f"Hand the task over to the {agent_name} agent.")
    def handoff(runtime: ToolRuntime[None, AgentState]) -> Command[str]:
        done = ToolMessage(
            content=f"Successfully transferred to {agent_name}",
            name=name,
            tool_call_id=runtime.tool_call_id,
        )
        return Command(
            goto=agent_name,
            update={"messages": [*runtime.state["messages"], done]},
            graph=Command.PARENT,
        )

    return handoff


def build_graph(model: ChatOpenAI) -> CompiledStateGraph[AgentState, None, AgentState, AgentState]:
    """The supervisor and its two workers, as nodes of one graph with a checkpointer."""
    researcher = create_agent(
        model,
        tools=[get_weather],
        system_prompt=(
            f"[agent:{RESEARCHER}] You are a researcher. Look facts up with your tools, "
            "then report them to the supervisor."
        ),
        name=RESEARCHER,
    )
    writer = create_agent(
        model,
        tools=[],
        system_prompt=f"[agent:{WRITER}] You are a writer. Turn the research into one sentence.",
        name=WRITER,
    )
    supervisor = create_agent(
        model,
        tools=[create_handoff_tool(RESEARCHER), create_handoff_tool(WRITER)],
        system_prompt=(
            f"[agent:{SUPERVISOR}] You are a supervisor managing a researcher and a writer. "
            "Assign work to one agent at a time; answer the user when both are done."
        ),
        name=SUPERVISOR,
    )
    return (
        StateGraph(AgentState)
        .add_node(SUPERVISOR, supervisor, destinations=(RESEARCHER, WRITER, END))
        .add_node(RESEARCHER, researcher)
        .add_node(WRITER, writer)
        .add_edge(START, SUPERVISOR)
        .add_edge(RESEARCHER, SUPERVISOR)
        .add_edge(WRITER, SUPERVISOR)
        .compile(checkpointer=InMemorySaver())
    )


def final_text(messages: Sequence[object]) -> str:
    """The last AI message's text."""
    last = next(m for m in reversed(messages) if isinstance(m, AIMessage))
    return last.text


def main() -> None:
    tracer_provider = setup_tracing()
    model = ChatOpenAI(
        model="gpt-4o-mini",
        base_url=os.environ["OPENAI_BASE_URL"],
        api_key=SecretStr(os.environ["OPENAI_API_KEY"]),
        stream_usage=True,
    )
    graph = build_graph(model)
    question: AgentState = {"messages": [HumanMessage("What is the weather in Paris?")]}

    # One run with plain (non-streamed) chat completions.
    invoke_config: RunnableConfig = {"configurable": {"thread_id": "thread-invoke"}}
    result = graph.invoke(question, config=invoke_config)
    invoked = final_text(result["messages"])

    # One run streaming the LLM tokens of every agent, subgraphs included.
    streamed_tokens: list[str] = []
    stream_config: RunnableConfig = {"configurable": {"thread_id": "thread-stream"}}
    for item in graph.stream(question, config=stream_config, stream_mode="messages"):
        chunk, metadata = cast(tuple[BaseMessage, dict[str, Any]], item)
        if metadata.get("lc_agent_name") == SUPERVISOR and isinstance(chunk.content, str):
            streamed_tokens.append(chunk.content)

    print(
        json.dumps(
            {
                "agents": [SUPERVISOR, RESEARCHER, WRITER],
                "tools": ["transfer_to_researcher", "transfer_to_writer", "get_weather"],
                "threads": ["thread-invoke", "thread-stream"],
                "invoked_answer": invoked,
                "streamed_answer": "".join(streamed_tokens),
            }
        )
    )
    tracer_provider.force_flush()
    tracer_provider.shutdown()


if __name__ == "__main__":
    main()
