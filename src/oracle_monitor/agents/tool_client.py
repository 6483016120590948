"""How an agent calls tools: over Kafka (`KafkaToolClient`) or in process (`LocalToolClient`).

`KafkaToolClient` sends a `ToolRequest` on ``tool-requests`` and waits for the `ToolResponse`
with the same request id on ``tool-responses``. A listener thread consumes ``tool-responses``
in the group ``<kind>-agents-tool-responses`` and hands each response to the call waiting for
it; a request names as its reply partition one the listener owns, so with several replicas in
the group each gets its own answers. Responses nobody waits for any more (the call timed out)
are dropped, and so are responses to agents of another kind (whose groups read the same
topic): only a delivered response continues the task's trace (a CONSUMER span ``process
tool-responses``); the others get no span, or they would look like work on a task that may
have died with its process (a new pod re-reading the old one's backlog).

The wait is a CONSUMER span ``receive tool-responses`` with the messaging attributes of the
reply partition and group, so lag on that partition is correlated with it; when no response
comes in time it ends with a `ToolTimeoutError`.

``response_delay_seconds`` (setting or control file) makes the listener take that long over
each response: a slow consumer, whose lag grows.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import TopicPartition
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from oracle_monitor.agents.errors import AgentStopping, ToolError, ToolTimeoutError
from oracle_monitor.agents.kafka import plain_consumer
from oracle_monitor.agents.messages import (
    TOOL_REQUESTS_TOPIC,
    TOOL_RESPONSES_TOPIC,
    InvalidMessage,
    ToolRequest,
    ToolResponse,
    decode,
    tool_responses_group,
)
from oracle_monitor.agents.settings import AgentSettings, Control
from oracle_monitor.instrumentation import (
    TracedProducer,
    current_agent_name,
    current_task_id,
    process_message,
)

__all__ = ["KafkaToolClient", "LocalToolClient", "ToolClient"]

log = logging.getLogger(__name__)
TRACER = "oracle_monitor.agents"


class ToolClient(Protocol):
    """Sends one tool request and returns its result."""

    def request(
        self, tool: str, arguments: dict[str, Any], *, task_id: str, attempt: int, timeout_s: float
    ) -> Any:
        """The tool's result; `ToolTimeoutError` when none came in ``timeout_s``, `ToolError`
        when the tool failed."""
        ...

    def close(self) -> None:
        """Release the client's resources."""
        ...


class LocalToolClient:
    """Runs tools in this process (tests, notebooks): a name → function table."""

    def __init__(self, tools: dict[str, Callable[..., Any]]) -> None:
        self._tools = tools

    def request(
        self, tool: str, arguments: dict[str, Any], *, task_id: str, attempt: int, timeout_s: float
    ) -> Any:
        function = self._tools.get(tool)
        if function is None:
            raise ToolError(f"unknown tool {tool!r}")
        try:
            return function(**arguments)
        except (TypeError, ValueError, KeyError) as error:
            raise ToolError(f"{tool}: {error}") from error

    def close(self) -> None:
        pass


@dataclass
class _Waiter:
    done: threading.Event = field(default_factory=threading.Event)
    response: ToolResponse | None = None


class KafkaToolClient:
    """Tool calls over Kafka for an agent of ``kind`` (see the module docstring)."""

    def __init__(
        self,
        settings: AgentSettings,
        kind: str,
        client_id: str,
        producer: TracedProducer,
        control: Control,
        stop: threading.Event,
    ) -> None:
        self.group = tool_responses_group(kind)
        self._producer = producer
        self._control = control
        self._delay_s = settings.response_delay_seconds
        self._stop = stop
        self._waiting: dict[str, _Waiter] = {}
        self._lock = threading.Lock()
        self._assigned: list[int] = []
        self._has_partition = threading.Event()
        self._consumer = plain_consumer(settings, self.group, client_id)
        self._consumer.subscribe(
            [TOOL_RESPONSES_TOPIC], on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        self._thread = threading.Thread(target=self._listen, name="tool-responses", daemon=True)
        self._thread.start()

    # -- the caller's side ----------------------------------------------------------------
    def request(
        self, tool: str, arguments: dict[str, Any], *, task_id: str, attempt: int, timeout_s: float
    ) -> Any:
        partition = self._reply_partition(timeout_s)
        request = ToolRequest(
            request_id=uuid.uuid4().hex,
            task_id=task_id,
            tool=tool,
            arguments=arguments,
            reply_partition=partition,
            reply_group=self.group,
            attempt=attempt,
        )
        waiter = _Waiter()
        with self._lock:
            self._waiting[request.request_id] = waiter
        try:
            self._producer.produce(TOOL_REQUESTS_TOPIC, request.to_bytes(), key=task_id or None)
            self._producer.poll(0)
            response = self._wait(request, waiter, partition, timeout_s)
        finally:
            with self._lock:
                self._waiting.pop(request.request_id, None)
        if not response.ok:
            raise ToolError(f"{tool}: {response.error or 'tool failed'}")
        return response.result

    def _wait(
        self, request: ToolRequest, waiter: _Waiter, partition: int | None, timeout_s: float
    ) -> ToolResponse:
        attributes: dict[str, Any] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "receive",
            "messaging.operation.name": "receive",
            "messaging.destination.name": TOOL_RESPONSES_TOPIC,
            "messaging.consumer.group.name": self.group,
            "messaging.kafka.consumer.group": self.group,
            "messaging.message.conversation_id": request.request_id,
            "gen_ai.tool.name": request.tool,
        }
        if partition is not None:
            attributes["messaging.destination.partition.id"] = str(partition)
        task_id = current_task_id()
        if task_id:
            attributes["oracle.task.id"] = task_id
        agent = current_agent_name()
        if agent:
            attributes["gen_ai.agent.name"] = agent
        tracer = trace.get_tracer(TRACER)
        with tracer.start_as_current_span(
            f"receive {TOOL_RESPONSES_TOPIC}",
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            deadline_steps = max(1, int(timeout_s / 0.1))
            for _ in range(deadline_steps):
                if waiter.done.wait(timeout_s / deadline_steps):
                    assert waiter.response is not None
                    return waiter.response
                if self._stop.is_set():
                    raise AgentStopping("stopping while waiting for a tool response")
            error = ToolTimeoutError(f"no {request.tool} response in {timeout_s:g}s")
            span.record_exception(error)
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            raise error

    def _reply_partition(self, timeout_s: float) -> int | None:
        if not self._has_partition.wait(timeout_s):
            log.warning(
                "%s owns no partition of %s (more replicas than partitions?); the response "
                "goes where the task id hashes to",
                self.group,
                TOOL_RESPONSES_TOPIC,
            )
        with self._lock:
            return self._assigned[0] if self._assigned else None

    # -- the listener thread --------------------------------------------------------------
    def _on_assign(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        with self._lock:
            self._assigned = sorted(p.partition for p in partitions)
            if self._assigned:
                self._has_partition.set()

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        with self._lock:
            gone = {p.partition for p in partitions}
            self._assigned = [p for p in self._assigned if p not in gone]
            if not self._assigned:
                self._has_partition.clear()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                message = self._consumer.poll(0.2)
            except Exception:  # a closed consumer at shutdown, a broker error
                log.exception("polling %s failed", TOOL_RESPONSES_TOPIC)
                self._stop.wait(1.0)
                continue
            if message is None:
                continue
            if message.error() is not None:
                log.debug("%s: %s", TOOL_RESPONSES_TOPIC, message.error())
                continue
            delay = self._control.number("response_delay_seconds", self._delay_s)
            if delay and self._stop.wait(delay):  # a slow consumer: its backlog grows
                break
            self._dispatch(message)

    def _dispatch(self, message: Any) -> None:
        try:
            response = decode(ToolResponse, message.value())
        except InvalidMessage as error:
            log.warning("dropped a bad tool response: %s", error)
            return
        if response.reply_group and response.reply_group != self.group:
            return  # an answer to an agent of another kind
        with self._lock:
            waiter = self._waiting.get(response.request_id)
        if waiter is None:
            log.info("late response to %s request %s dropped", response.tool, response.request_id)
            return
        with process_message(message, self.group) as span:
            span.set_attribute("oracle.tool.response", "delivered")
            waiter.response = response
            waiter.done.set()

    def close(self) -> None:
        """Stop the listener (the caller sets ``stop`` first) and leave the group."""
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()
