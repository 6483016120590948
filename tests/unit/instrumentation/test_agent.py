"""Agent spans: context managers, decorators, async, exceptions and task id propagation."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode

from oracle_monitor.instrumentation import execute_tool, invoke_agent, record_reasoning
from tests.unit.instrumentation.conftest import Recorder


def test_invoke_agent_span(recorder: Recorder) -> None:
    with invoke_agent("research", agent_id="agent-7", task_id="task-42", team="core") as span:
        assert trace.get_current_span() is span
    finished = recorder.named("invoke_agent research")
    assert finished.kind == SpanKind.INTERNAL
    assert dict(finished.attributes or {}) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "research",
        "gen_ai.agent.id": "agent-7",
        "oracle.task.id": "task-42",
        "team": "core",
    }
    assert finished.status.status_code == StatusCode.UNSET
    assert finished.resource.attributes["service.name"] == "unit-agent"


def test_tool_span_is_child_and_carries_task_and_agent(recorder: Recorder) -> None:
    with (
        invoke_agent("research", task_id="task-42") as agent,
        execute_tool("web_search", call_id="call-1", **{"gen_ai.tool.type": "function"}),
    ):
        pass
    tool = recorder.named("execute_tool web_search")
    assert tool.parent is not None
    assert tool.parent.span_id == agent.get_span_context().span_id
    assert tool.context.trace_id == agent.get_span_context().trace_id
    attributes = dict(tool.attributes or {})
    assert attributes["gen_ai.operation.name"] == "execute_tool"
    assert attributes["gen_ai.tool.name"] == "web_search"
    assert attributes["gen_ai.tool.call.id"] == "call-1"
    assert attributes["gen_ai.tool.type"] == "function"
    assert attributes["oracle.task.id"] == "task-42"
    assert attributes["gen_ai.agent.name"] == "research"


def test_no_task_no_task_attribute(recorder: Recorder) -> None:
    with execute_tool("lookup"):
        pass
    attributes = dict(recorder.named("execute_tool lookup").attributes or {})
    assert "oracle.task.id" not in attributes
    assert "gen_ai.agent.name" not in attributes


def test_task_id_reaches_sub_agents_and_propagated_baggage(recorder: Recorder) -> None:
    carrier: dict[str, str] = {}
    with invoke_agent("planner", task_id="task-9"), invoke_agent("writer"):
        propagate.inject(carrier)
    writer = dict(recorder.named("invoke_agent writer").attributes or {})
    assert writer["oracle.task.id"] == "task-9"
    assert writer["gen_ai.agent.name"] == "writer"
    assert "oracle.task.id=task-9" in carrier["baggage"]
    assert "traceparent" in carrier


def test_decorator_makes_one_span_per_call(recorder: Recorder) -> None:
    @execute_tool("add")
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    assert add(1, 2) == 3
    assert add(3, 4) == 7
    assert add.__name__ == "add" and add.__doc__ == "Add."
    spans = [span for span in recorder.finished() if span.name == "execute_tool add"]
    assert len(spans) == 2
    assert spans[0].context.span_id != spans[1].context.span_id


async def test_async_decorator_and_async_with(recorder: Recorder) -> None:
    @invoke_agent("async-agent", task_id="task-a")
    async def run() -> str:
        async with execute_tool("fetch") as tool:
            await asyncio.sleep(0)
            assert trace.get_current_span() is tool
        return "done"

    assert await run() == "done"
    agent = recorder.named("invoke_agent async-agent")
    tool = recorder.named("execute_tool fetch")
    assert tool.parent is not None and tool.parent.span_id == agent.context.span_id
    assert dict(tool.attributes or {})["oracle.task.id"] == "task-a"


async def test_task_id_crosses_asyncio_tasks(recorder: Recorder) -> None:
    async def tool_call(name: str) -> None:
        with execute_tool(name):
            await asyncio.sleep(0)

    with invoke_agent("fanout", task_id="task-f"):
        await asyncio.gather(tool_call("one"), tool_call("two"))
    for name in ("execute_tool one", "execute_tool two"):
        assert dict(recorder.named(name).attributes or {})["oracle.task.id"] == "task-f"


def test_exception_sets_error_and_propagates(recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="bad input"), invoke_agent("research"):
        raise ValueError("bad input")
    span = recorder.named("invoke_agent research")
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "ValueError: bad input"
    assert dict(span.attributes or {})["error.type"] == "ValueError"
    assert [event.name for event in span.events] == ["exception"]
    assert trace.get_current_span() is trace.INVALID_SPAN  # context restored


async def test_exception_in_async_decorated_function(recorder: Recorder) -> None:
    @execute_tool("flaky")
    async def flaky() -> None:
        raise TimeoutError("slow")

    with pytest.raises(TimeoutError):
        await flaky()
    span = recorder.named("execute_tool flaky")
    assert span.status.status_code == StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "TimeoutError"


def test_record_reasoning_keeps_every_step(recorder: Recorder) -> None:
    with invoke_agent("research"):
        record_reasoning("Search first.", tools_planned=["web_search"])
        record_reasoning("Now summarise.", tools_planned=["summarise", "cite"])
    span = recorder.named("invoke_agent research")
    attributes = dict(span.attributes or {})
    assert attributes["oracle.agent.reasoning"] == "Now summarise."
    assert attributes["oracle.agent.tools_planned"] == ("summarise", "cite")
    steps = [dict(event.attributes or {}) for event in span.events]
    assert [step["oracle.agent.reasoning"] for step in steps] == ["Search first.", "Now summarise."]
    assert steps[0]["oracle.agent.tools_planned"] == ("web_search",)


def test_record_reasoning_without_span_is_harmless(recorder: Recorder) -> None:
    record_reasoning("nobody listens")
    assert recorder.finished() == []
