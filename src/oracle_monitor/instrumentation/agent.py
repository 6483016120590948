"""GenAI agent spans: `invoke_agent`, `execute_tool` and `record_reasoning`.

`invoke_agent` and `execute_tool` each work as a context manager (``with`` and ``async with``)
and as a decorator of sync and async functions::

    with invoke_agent("research", task_id="task-42"):
        record_reasoning("Search first, then summarise.", tools_planned=["web_search"])
        with execute_tool("web_search"):
            ...

    @execute_tool("summarise")
    async def summarise(text: str) -> str: ...

The task id travels in OpenTelemetry baggage (``oracle.task.id``): every span these helpers
make inside a task carries it, and so do the spans of other agents the task reaches through
propagated context (e.g. a Kafka message, see `oracle_monitor.instrumentation.kafka`). The
agent name is kept in the context too, so tool spans inside an agent carry
``gen_ai.agent.name``. Spans go to the global tracer provider (see `configure`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from contextvars import Token
from types import TracebackType
from typing import Any, TypeVar, cast

from opentelemetry import baggage, context, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

__all__ = [
    "TASK_ID_KEY",
    "ScopedSpan",
    "SpanScope",
    "current_agent_name",
    "current_task_id",
    "execute_tool",
    "invoke_agent",
    "record_reasoning",
]

TRACER_NAME = "oracle_monitor.instrumentation"
TASK_ID_KEY = "oracle.task.id"
_AGENT_NAME_KEY = context.create_key("oracle.agent.name")

F = TypeVar("F", bound=Callable[..., Any])


def current_task_id(ctx: context.Context | None = None) -> str | None:
    """The task id in the (current) context's baggage, if a task set one."""
    value = baggage.get_baggage(TASK_ID_KEY, ctx)
    return str(value) if value is not None else None


def current_agent_name(ctx: context.Context | None = None) -> str | None:
    """The name of the innermost `invoke_agent` span in the (current) context."""
    value = context.get_value(_AGENT_NAME_KEY, ctx)
    return value if isinstance(value, str) else None


def record_exception(span: Span, error: BaseException) -> None:
    """Record ``error`` on ``span`` and give it ERROR status and ``error.type``."""
    span.record_exception(error)
    span.set_attribute("error.type", type(error).__qualname__)
    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))


class ScopedSpan:
    """Base of the span context managers (``with`` and ``async with``).

    Entering starts the span (`_open`), makes its context current and returns the span;
    leaving ends it. An exception leaving the block is recorded, sets ERROR status and
    propagates.
    """

    def __init__(self) -> None:
        self._active: list[tuple[Span, Token[context.Context]]] = []

    def _open(self) -> tuple[Span, context.Context]:
        raise NotImplementedError

    def __enter__(self) -> Span:
        span, ctx = self._open()
        self._active.append((span, context.attach(ctx)))
        return span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        span, token = self._active.pop()
        try:
            if isinstance(exc, Exception):
                record_exception(span, exc)
        finally:
            span.end()
            context.detach(token)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)


class SpanScope(ScopedSpan):
    """An agent or tool span to be started: a `ScopedSpan` and a decorator.

    Used as a decorator of a sync or async function, each call gets its own span.
    """

    def __init__(
        self,
        name: str,
        attributes: dict[str, AttributeValue],
        task_id: str | None = None,
        agent_name: str | None = None,
    ) -> None:
        self._name = name
        self._attributes = attributes
        self._task_id = task_id
        self._agent_name = agent_name
        super().__init__()

    def _fresh(self) -> SpanScope:
        return SpanScope(self._name, self._attributes, self._task_id, self._agent_name)

    def _open(self) -> tuple[Span, context.Context]:
        ctx = context.get_current()
        task_id = self._task_id or current_task_id(ctx)
        if self._task_id:
            ctx = baggage.set_baggage(TASK_ID_KEY, self._task_id, ctx)
        if self._agent_name:
            ctx = context.set_value(_AGENT_NAME_KEY, self._agent_name, ctx)
        attributes = dict(self._attributes)
        if task_id:
            attributes.setdefault(TASK_ID_KEY, task_id)
        agent_name = current_agent_name(ctx)
        if agent_name:
            attributes.setdefault("gen_ai.agent.name", agent_name)
        tracer = trace.get_tracer(TRACER_NAME)
        span = tracer.start_span(self._name, ctx, SpanKind.INTERNAL, attributes)
        return span, trace.set_span_in_context(span, ctx)

    def __call__(self, function: F) -> F:
        """Decorate ``function`` (sync or async) so each call runs inside a new span."""
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self._fresh():
                    return await function(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return function(*args, **kwargs)

        return cast(F, wrapper)


def invoke_agent(
    name: str,
    *,
    agent_id: str | None = None,
    task_id: str | None = None,
    **attributes: AttributeValue,
) -> SpanScope:
    """A span ``invoke_agent {name}`` for one run of an agent.

    Attributes: ``gen_ai.operation.name=invoke_agent``, ``gen_ai.agent.name``,
    ``gen_ai.agent.id`` and ``oracle.task.id`` when given (or inherited from the context),
    plus ``attributes`` as given (use ``**{"gen_ai.request.model": "gpt-4o"}`` for dotted
    names). A ``task_id`` is put in baggage, so child spans and downstream agents carry it.
    """
    span_attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": name,
    }
    if agent_id is not None:
        span_attributes["gen_ai.agent.id"] = agent_id
    if task_id is not None:
        span_attributes[TASK_ID_KEY] = task_id
    span_attributes.update(attributes)
    return SpanScope(f"invoke_agent {name}", span_attributes, task_id=task_id, agent_name=name)


def execute_tool(
    tool: str, *, call_id: str | None = None, **attributes: AttributeValue
) -> SpanScope:
    """A span ``execute_tool {tool}`` for one tool call of an agent.

    Attributes: ``gen_ai.operation.name=execute_tool``, ``gen_ai.tool.name``,
    ``gen_ai.tool.call.id`` when given, ``gen_ai.agent.name`` and ``oracle.task.id`` of the
    enclosing agent and task, plus ``attributes`` as given.
    """
    span_attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
    }
    if call_id is not None:
        span_attributes["gen_ai.tool.call.id"] = call_id
    span_attributes.update(attributes)
    return SpanScope(f"execute_tool {tool}", span_attributes)


def record_reasoning(text: str, tools_planned: Sequence[str] | None = None) -> None:
    """Record an agent's reasoning step on the current span.

    Sets ``oracle.agent.reasoning`` (and ``oracle.agent.tools_planned``) to the latest step and
    adds an ``oracle.agent.reasoning`` event per call, so every step of a span is kept. Does
    nothing when no span is recording.
    """
    span = trace.get_current_span()
    if not span.is_recording():
        return
    attributes: dict[str, AttributeValue] = {"oracle.agent.reasoning": text}
    if tools_planned is not None:
        attributes["oracle.agent.tools_planned"] = list(tools_planned)
    span.set_attributes(attributes)
    span.add_event("oracle.agent.reasoning", attributes)
