"""`BaseAgent.handle`: one task in its span, tool calls with timeouts and retries, the DLQ.

In process: tools run through `LocalToolClient` (the Kafka transport is covered by the
integration tests), LLM calls go through the real openai SDK to the fake upstream.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from oracle_monitor.agents import (
    AgentStopping,
    DeadLetter,
    ResearchAgent,
    Result,
    Task,
    ToolTimeoutError,
    WriterAgent,
)
from oracle_monitor.agents.analysis import AnalysisAgent
from oracle_monitor.agents.corpus import Corpus
from oracle_monitor.agents.tools import corpus_tools
from oracle_monitor.demo.llm_provider import LLMProvider
from tests.unit.agents.conftest import MakeAgent, Spans, attrs

QUESTION = "How do batteries help solar and wind?"


def research_task(**extra: Any) -> Task:
    return Task(task_id="task-1", kind="research", input={"question": QUESTION}, **extra)


def test_research_hands_its_findings_to_the_writer(
    make_agent: MakeAgent, spans: Spans, upstream: LLMProvider
) -> None:
    outcome = make_agent(ResearchAgent).handle(research_task(next=["writer"]))
    assert outcome.status == "handed_on" and outcome.topic == "tasks.writer"
    handed = outcome.message
    assert isinstance(handed, Task)
    assert handed.kind == "writer" and handed.next == [] and handed.task_id == "task-1"
    assert handed.input["searches"] == ["battery help", "solar help", "wind help"]
    assert {f["doc_id"] for f in handed.input["findings"]} >= {"battery-storage", "wind-power"}
    assert len(upstream.requests) == 2  # the plan and the summary

    (task_span,) = spans.named("invoke_agent research")
    attributes = attrs(task_span)
    assert attributes["oracle.task.id"] == "task-1"
    assert attributes["gen_ai.agent.id"] == "unit-0"
    assert attributes["oracle.task.status"] == "handed_on"
    assert attributes["oracle.task.next"] == "writer"
    steps = [dict(e.attributes or {})["oracle.agent.reasoning"] for e in task_span.events]
    assert steps[0] == "Split the question into 3 searches: battery help; solar help; wind help"
    tool_spans = spans.named("execute_tool search")
    assert len(tool_spans) == 3
    assert all(s.parent and s.parent.span_id == task_span.context.span_id for s in tool_spans)
    chats = [s for s in spans.all() if attrs(s).get("gen_ai.operation.name") == "chat"]
    assert len(chats) == 2 and all(attrs(s)["gen_ai.usage.input_tokens"] for s in chats)


def test_writer_and_analysis_finish_with_a_result(make_agent: MakeAgent) -> None:
    findings = corpus_tools(Corpus.load())["search"](query="heat pumps cold weather", limit=3)
    task = Task(task_id="t-w", kind="writer", input={"question": "Do heat pumps work in cold?"})
    written = make_agent(WriterAgent).handle(task.model_copy(update={"input": {
        **task.input, "findings": findings}}))  # fmt: skip
    assert written.status == "completed" and written.topic == "results"
    assert isinstance(written.message, Result)
    assert written.message.output["sources"][0]["doc_id"] == "heat-pumps"
    assert written.message.output["editor_note"] == "Hello! How can I assist you today?"

    question = {"question": "How fast did solar and wind capacity grow?"}
    analysed = make_agent(AnalysisAgent).handle(
        Task(task_id="t-a", kind="analysis", input=question)
    )
    assert isinstance(analysed.message, Result)
    names = [s["name"] for s in analysed.message.output["series"]]
    assert names == ["solar_capacity_gw", "wind_capacity_gw"]
    assert analysed.message.output["comparison"].startswith(
        "Fastest annual growth: Installed solar"
    )


def flaky_search(failures: int) -> Any:
    """A search tool whose first ``failures`` calls get no answer in time."""
    search = corpus_tools(Corpus.load())["search"]
    calls = {"n": 0}

    def tool(**arguments: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise ToolTimeoutError("no search response in 0.1s")
        return search(**arguments)

    return tool


def test_a_timed_out_tool_call_is_retried_with_the_grown_context(
    make_agent: MakeAgent, spans: Spans, upstream: LLMProvider
) -> None:
    agent = make_agent(
        ResearchAgent,
        control={"research": {"retry_memory_mb": 2, "retry_prompt_kb": 4}},
        tools={"search": flaky_search(1)},
    )
    outcome = agent.handle(Task(task_id="t-r", kind="research", input={"question": "wind"}))
    assert outcome.status == "completed"
    first, retry = spans.named("execute_tool search")
    assert first.status.status_code == StatusCode.ERROR
    assert attrs(first)["error.type"] == "ToolTimeoutError"
    assert "retry.attempt" not in attrs(first)
    attributes = attrs(retry)
    assert attributes["retry.attempt"] == 1 and attributes["oracle.retry.max"] == 3
    assert attributes["oracle.retry.context_bytes"] == 2 << 20
    assert attributes["oracle.process.memory.rss_bytes"] > 2 << 20
    assert 0.01 <= attributes["oracle.retry.backoff_s"] <= 0.012
    assert attrs(first)["gen_ai.tool.call.id"] == attributes["gen_ai.tool.call.id"]
    assert retry.status.status_code != StatusCode.ERROR
    # plan, the retry's re-ask (re-sending what was tried), summary
    assert len(upstream.requests) == 3
    re_ask = upstream.requests[1].json["messages"][-1]["content"]
    assert "attempt 0 failed: ToolTimeoutError: no search response in 0.1s" in re_ask
    assert len(re_ask) > 4096  # the context carried into the re-sent prompt
    # each LLM request carries the trace (for the proxy's span) and the agent's name
    headers = upstream.requests[1].headers
    assert headers["traceparent"].split("-")[1] == f"{retry.context.trace_id:032x}"
    assert headers["x-oracle-agent"] == "research"
    assert "oracle.task.id=t-r" in headers["baggage"]
    (re_ask_span,) = [
        s for s in spans.all() if s.parent and s.parent.span_id == retry.context.span_id
    ]
    assert attrs(re_ask_span)["gen_ai.operation.name"] == "chat"


def test_exhausted_retries_fail_the_task_to_the_dead_letter_queue(
    make_agent: MakeAgent, spans: Spans
) -> None:
    agent = make_agent(ResearchAgent, tools={"search": flaky_search(99)}, max_retries=2)
    outcome = agent.handle(Task(task_id="t-d", kind="research", input={"question": "wind"}))
    assert outcome.status == "failed" and outcome.topic == "tasks.dlq"
    letter = outcome.message
    assert isinstance(letter, DeadLetter)
    assert letter.error_type == "ToolCallFailed"
    assert letter.error == (
        "search failed after 3 attempts: ToolTimeoutError: no search response in 0.1s"
    )
    assert letter.task == {"task_id": "t-d", "kind": "research", "input": {"question": "wind"},
                           "next": []}  # fmt: skip
    assert [attrs(s).get("retry.attempt") for s in spans.named("execute_tool search")] == [
        None, 1, 2,
    ]  # fmt: skip
    (task_span,) = spans.named("invoke_agent research")
    assert task_span.status.status_code == StatusCode.ERROR
    assert attrs(task_span)["oracle.task.status"] == "failed"
    assert attrs(task_span)["error.type"] == "ToolCallFailed"


def test_a_rate_limited_retry_counts_as_a_failed_attempt(
    make_agent: MakeAgent, spans: Spans, upstream: LLMProvider
) -> None:
    def search(**_: Any) -> Any:  # times out, and the provider starts refusing
        upstream.fail_next(2, retry_after=None, retry_after_ms="10")
        raise ToolTimeoutError("no search response in 0.1s")

    agent = make_agent(ResearchAgent, tools={"search": search}, max_retries=1, llm_max_retries=1)
    outcome = agent.handle(Task(task_id="t-429", kind="research", input={"question": "wind"}))
    assert isinstance(outcome.message, DeadLetter)
    assert outcome.message.error.startswith("search failed after 2 attempts: RateLimitError")
    _, retry = spans.named("execute_tool search")
    assert attrs(retry)["error.type"] == "RateLimitError"
    limited = [s for s in spans.all() if attrs(s).get("oracle.llm.rate_limited")]
    assert len(limited) == 2  # the re-ask and the SDK's own retry of it, both under the retry
    assert all(s.parent and s.parent.span_id == retry.context.span_id for s in limited)


def test_bad_task_messages_go_to_the_dead_letter_queue_as_they_came(make_agent: MakeAgent) -> None:
    agent = make_agent(ResearchAgent)
    for raw, reason in [
        (b"not json", "not a Task: message: Invalid JSON"),
        (b'{"kind": "research"}', "not a Task: task_id: Field required"),
        (
            json.dumps({"task_id": "x", "kind": "writer"}).encode(),
            "a 'writer' task on tasks.research",
        ),
    ]:
        outcome = agent._handle_message(raw)
        assert outcome.status == "failed"
        letter = outcome.message
        assert isinstance(letter, DeadLetter)
        assert letter.raw == raw.decode() and letter.error.startswith(reason), letter.error
    missing = agent.handle(Task(task_id="t-q", kind="research", input={}))
    assert isinstance(missing.message, DeadLetter)
    assert missing.message.error == "task t-q has no input.question"


def test_shutdown_mid_task_requeues_it(make_agent: MakeAgent, spans: Spans) -> None:
    def stopping(**_: Any) -> Any:
        raise AgentStopping("stopping while waiting for a tool response")

    agent = make_agent(ResearchAgent, tools={"search": stopping})
    outcome = agent.handle(research_task())
    assert outcome.status == "requeued" and outcome.topic == "tasks.research"
    assert outcome.message == research_task()
    (task_span,) = spans.named("invoke_agent research")
    assert attrs(task_span)["oracle.task.status"] == "requeued"
    assert task_span.status.status_code != StatusCode.ERROR


def test_an_agent_needs_a_kind() -> None:
    from oracle_monitor.agents import BaseAgent

    with pytest.raises(TypeError, match="must set the class attribute `kind`"):
        BaseAgent()


def test_the_anthropic_sdk_works_the_same(
    make_agent: MakeAgent, upstream: LLMProvider, spans: Spans
) -> None:
    agent = make_agent(WriterAgent, provider="anthropic", anthropic_base_url=upstream.base_url)
    task = Task(task_id="t-an", kind="writer", input={"question": "What is hydrogen used for?"})
    outcome = agent.handle(task)
    assert isinstance(outcome.message, Result)
    assert outcome.message.output["editor_note"] == "Hi! My name is Claude."
    (request,) = upstream.requests
    assert request.path == "/v1/messages"
    assert request.json["model"] == "claude-sonnet-4-5"
    assert request.json["system"] == WriterAgent.system_prompt
    assert request.headers["x-oracle-agent"] == "writer"
    (task_span,) = spans.named("invoke_agent writer")
    assert request.headers["traceparent"].split("-")[1] == f"{task_span.context.trace_id:032x}"


def test_the_public_surface() -> None:
    import oracle_monitor.agents as agents

    assert sorted(agents.__all__) == [
        "AGENTS", "AgentSettings", "AgentStopping", "AnalysisAgent", "BaseAgent", "Control",
        "DeadLetter", "KafkaToolClient", "LocalToolClient", "Outcome", "ResearchAgent",
        "Result", "Task", "ToolCallFailed", "ToolClient", "ToolError", "ToolRequest",
        "ToolResponse", "ToolTimeoutError", "ToolWorker", "WriterAgent", "corpus_tools",
    ]  # fmt: skip
    assert all(hasattr(agents, name) for name in agents.__all__)
    assert sorted(agents.AGENTS) == ["analysis", "research", "writer"]
