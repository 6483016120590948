"""What agents raise.

- `ToolTimeoutError` (a `TimeoutError`): no tool response within the timeout; retried.
- `ToolError`: the tool answered with an error (bad arguments, unknown document); not retried.
- `ToolCallFailed`: every attempt of a tool call failed; the task fails and goes to the DLQ.
- `AgentStopping`: the process is shutting down (SIGTERM) in the middle of a task; the task is
  put back on its topic for another agent.
"""

from __future__ import annotations

__all__ = ["AgentStopping", "ToolCallFailed", "ToolError", "ToolTimeoutError"]


class ToolTimeoutError(TimeoutError):
    """No response to a tool request arrived in time."""


class ToolError(RuntimeError):
    """The tool worker answered the request with an error."""


class ToolCallFailed(RuntimeError):
    """A tool call failed on every attempt; ``__cause__`` is the last attempt's error."""

    def __init__(self, tool: str, attempts: int, last: BaseException) -> None:
        super().__init__(f"{tool} failed after {attempts} attempts: {type(last).__name__}: {last}")
        self.tool = tool
        self.attempts = attempts


class AgentStopping(Exception):
    """The agent is stopping; unwinds the task in progress."""
