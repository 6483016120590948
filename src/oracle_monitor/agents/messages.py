"""The messages agents exchange over Kafka, and the topics and consumer groups they use.

Every message is a JSON object. Tasks (``tasks.<kind>``)::

    {"task_id": "t-1", "kind": "research", "input": {"question": "..."}, "next": ["writer"]}

``next`` lists the agents the task goes to after this one: each hands its output on as the
next one's input (merged over its own input); the last one produces a `Result` on ``results``.
Tool calls go out on ``tool-requests`` (`ToolRequest`, keyed by task id) and come back on
``tool-responses`` (`ToolResponse`) in the partition the request asked for, one the caller's
consumer owns. Tasks that failed for good go to ``tasks.dlq`` (`DeadLetter`).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "DLQ_TOPIC",
    "RESULTS_TOPIC",
    "TOOL_REQUESTS_TOPIC",
    "TOOL_RESPONSES_TOPIC",
    "TOOL_WORKERS_GROUP",
    "DeadLetter",
    "InvalidMessage",
    "Result",
    "Task",
    "ToolRequest",
    "ToolResponse",
    "agents_group",
    "decode",
    "task_topic",
    "tool_responses_group",
]

TOOL_REQUESTS_TOPIC = "tool-requests"
TOOL_RESPONSES_TOPIC = "tool-responses"
RESULTS_TOPIC = "results"
DLQ_TOPIC = "tasks.dlq"
TOOL_WORKERS_GROUP = "tool-workers"


def task_topic(kind: str) -> str:
    """The topic an agent of ``kind`` takes its tasks from."""
    return f"tasks.{kind}"


def agents_group(kind: str) -> str:
    """The consumer group of the agents of ``kind`` on their task topic."""
    return f"{kind}-agents"


def tool_responses_group(kind: str) -> str:
    """The consumer group of the agents of ``kind`` on ``tool-responses``."""
    return f"{kind}-agents-tool-responses"


class InvalidMessage(ValueError):
    """A message that is not the JSON the topic carries; the text says what is wrong."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    def to_bytes(self) -> bytes:
        """The message as UTF-8 JSON."""
        return self.model_dump_json(exclude_none=True).encode()


M = TypeVar("M", bound=_Message)


class Task(_Message):
    """A unit of work for an agent of ``kind``."""

    task_id: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1)
    input: dict[str, Any] = Field(default_factory=dict)
    next: list[str] = Field(default_factory=list)

    def handed_on(self, output: dict[str, Any]) -> Task:
        """The task for the next agent in ``next``: this output over this input."""
        if not self.next:
            raise ValueError(f"task {self.task_id} has no next agent")
        extra = self.model_extra or {}
        return Task(
            task_id=self.task_id,
            kind=self.next[0],
            input={**self.input, **output},
            next=self.next[1:],
            **extra,
        )


class ToolRequest(_Message):
    """One tool call of an agent; the answer goes to ``reply_partition`` of tool-responses."""

    request_id: str = Field(min_length=1)
    task_id: str = ""
    tool: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    reply_partition: int | None = Field(default=None, ge=0)
    reply_group: str | None = None
    attempt: int = Field(default=0, ge=0)


class ToolResponse(_Message):
    """The tool worker's answer to one `ToolRequest`: a result or an error."""

    request_id: str
    task_id: str = ""
    tool: str = ""
    reply_group: str | None = None
    ok: bool = True
    result: Any = None
    error: str | None = None


class Result(_Message):
    """A finished task, on ``results``."""

    task_id: str
    kind: str
    agent: str
    agent_id: str
    status: str = "completed"
    output: dict[str, Any] = Field(default_factory=dict)


class DeadLetter(_Message):
    """A task that failed for good, on ``tasks.dlq``: the task (or its raw text) and why."""

    task_id: str | None = None
    kind: str | None = None
    agent: str
    agent_id: str
    error_type: str
    error: str
    task: dict[str, Any] | None = None
    raw: str | None = None


def decode(kind: type[M], value: bytes | str | None) -> M:
    """Parse a message value as ``kind``; `InvalidMessage` says what is wrong."""
    if value is None:
        raise InvalidMessage(f"empty {kind.__name__} message")
    try:
        return kind.model_validate_json(value)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in error.errors()
        )
        raise InvalidMessage(f"not a {kind.__name__}: {problems}") from error
