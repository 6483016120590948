"""`BaseAgent`: an agent that takes tasks from Kafka, calls tools and LLMs, and is traced.

Subclass it, name its ``kind`` and write `process_task`::

    class MyCustomAgent(BaseAgent):
        kind = "custom"                       # tasks on tasks.custom, group custom-agents

        def process_task(self, task: Task) -> dict[str, Any]:
            self.reason("Look the topic up, then summarise.", tools_planned=["search"])
            hits = self.call_tool("search", query=task.input["topic"])
            return {"summary": self.ask_llm(f"Summarise: {hits}")}

`run` consumes ``tasks.<kind>`` in the group ``<kind>-agents`` until `stop` (or SIGTERM
through `oracle_monitor.agents.__main__`). Each task runs in a span ``invoke_agent <name>``
(``oracle.task.id``, ``gen_ai.agent.id``) that continues the trace the task message carries.
What `process_task` returns is the task's output: handed on as the next agent's input when the
task lists ``next`` agents, else produced on ``results``. A task that raises is produced on
``tasks.dlq`` and its span ends in error (``oracle.task.status=failed``); one interrupted by
shutdown is put back on its topic (``requeued``).

`call_tool` is a tool call over Kafka with a timeout and retries: each attempt is a span
``execute_tool <tool>`` (``retry.attempt`` on retries) holding the request's PRODUCER span
and the CONSUMER wait ``receive tool-responses``; a wait without answer ends in
`ToolTimeoutError`. Before each retry the agent asks the LLM again, re-sending the context
that accumulates over the attempts (``retry_memory_mb`` more memory held per retry), waits
an exponential backoff (at least the provider's ``retry-after`` after a 429), and tries again;
when ``max_retries`` retries failed, `ToolCallFailed` fails the task.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from confluent_kafka import KafkaException
from opentelemetry.trace import Span, Status, StatusCode

from oracle_monitor.agents.errors import AgentStopping, ToolCallFailed, ToolTimeoutError
from oracle_monitor.agents.kafka import all_topics, consumer, ensure_topics, producer
from oracle_monitor.agents.llm import LLMClient, is_llm_error, retry_after_seconds
from oracle_monitor.agents.messages import (
    DLQ_TOPIC,
    RESULTS_TOPIC,
    DeadLetter,
    InvalidMessage,
    Result,
    Task,
    agents_group,
    decode,
    task_topic,
)
from oracle_monitor.agents.retry import RetryContext, backoff_delay, rss_bytes
from oracle_monitor.agents.settings import AgentSettings, Control
from oracle_monitor.agents.tool_client import KafkaToolClient, ToolClient
from oracle_monitor.instrumentation import (
    TracedProducer,
    execute_tool,
    invoke_agent,
    process_message,
    record_reasoning,
)
from oracle_monitor.instrumentation.agent import record_exception

__all__ = ["BaseAgent", "Outcome"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a task: ``completed`` (a result), ``handed_on``, ``failed``, ``requeued``;
    ``topic`` and ``message`` are what was (or, without Kafka, would be) produced."""

    status: str
    topic: str
    message: Result | Task | DeadLetter


class BaseAgent:
    """Base class of the agents; see the module docstring."""

    #: The agent's kind: its task topic is ``tasks.<kind>``, its groups ``<kind>-agents…``.
    kind: ClassVar[str] = ""
    #: The system prompt of `ask_llm`.
    system_prompt: ClassVar[str] = "You are a careful assistant. Answer briefly."

    def __init__(
        self,
        settings: AgentSettings | None = None,
        *,
        name: str | None = None,
        agent_id: str | None = None,
        tools: ToolClient | None = None,
        llm: LLMClient | None = None,
        control: Control | None = None,
    ) -> None:
        if not self.kind:
            raise TypeError(f"{type(self).__name__} must set the class attribute `kind`")
        self.settings = settings or AgentSettings()
        self.name = name or self.kind
        self.agent_id = (
            agent_id or self.settings.pod_name or (f"{socket.gethostname()}-{os.getpid()}")
        )
        self.control = control or Control(self.settings.control_file, self.kind)
        self._tools = tools
        self._llm = llm
        self._producer: TracedProducer | None = None
        self._stop = threading.Event()
        self._task_id = ""

    # -- what subclasses write ------------------------------------------------------------
    def process_task(self, task: Task) -> dict[str, Any]:
        """Do the task and return its output (a JSON object). Raise to fail it."""
        raise NotImplementedError

    # -- what subclasses call -------------------------------------------------------------
    @property
    def llm(self) -> LLMClient:
        """The LLM client (made on first use from the settings)."""
        if self._llm is None:
            self._llm = LLMClient(self.settings, self.name)
        return self._llm

    def ask_llm(self, prompt: str, *, system: str | None = None) -> str:
        """One LLM call (the SDK retries 429s itself); its text."""
        return self.llm.complete(prompt, system=system or self.system_prompt).text

    def reason(self, text: str, tools_planned: list[str] | None = None) -> None:
        """Record a reasoning step on the current span (shown as the agent's reasoning)."""
        record_reasoning(text, tools_planned)

    def call_tool(self, tool: str, **arguments: Any) -> Any:
        """Call ``tool`` with a timeout and retries (see the module docstring)."""
        if self._tools is None:
            raise RuntimeError("no tool client: run() the agent, or pass tools=")
        max_retries = int(self.control.number("max_retries", self.settings.max_retries))
        timeout_s = self.control.number("tool_timeout_seconds", self.settings.tool_timeout_seconds)
        context = RetryContext(f"{self.name} calls {tool} with {arguments}")
        call_id = uuid.uuid4().hex[:16]
        delay = 0.0
        last: BaseException | None = None
        for attempt in range(max_retries + 1):
            extra: dict[str, Any] = {"oracle.retry.max": max_retries}
            if attempt:
                extra["retry.attempt"] = attempt
                extra["oracle.retry.backoff_s"] = round(delay, 3)
            try:
                with execute_tool(tool, call_id=call_id, **extra) as span:
                    if attempt:
                        self._before_retry(span, context, tool, last)
                    return self._tools.request(
                        tool, arguments, task_id=self._task_id, attempt=attempt, timeout_s=timeout_s
                    )
            except Exception as error:
                if not (isinstance(error, ToolTimeoutError) or is_llm_error(error)):
                    raise  # a tool's own error, a bug: retrying would not help
                last = error
                context.note(f"attempt {attempt} failed: {type(error).__name__}: {error}")
                if attempt == max_retries:
                    break
                delay = backoff_delay(
                    attempt + 1,
                    self.settings.backoff_seconds,
                    self.settings.backoff_max_seconds,
                    retry_after_s=retry_after_seconds(error),
                )
                log.warning(
                    "%s attempt %d failed (%s); retrying in %.2fs", tool, attempt, error, delay
                )
                if self._stop.wait(delay):
                    raise AgentStopping("stopping between retries") from error
        assert last is not None
        raise ToolCallFailed(tool, max_retries + 1, last) from last

    def _before_retry(
        self, span: Span, context: RetryContext, tool: str, last: BaseException | None
    ) -> None:
        """A retry re-sends the accumulated context to the LLM to decide how to go on."""
        megabytes = self.control.number("retry_memory_mb", self.settings.retry_memory_mb)
        kilobytes = self.control.number("retry_prompt_kb", self.settings.retry_prompt_kb)
        context.grow(f"retrying {tool} after {type(last).__name__}", megabytes)
        span.set_attribute("oracle.retry.context_bytes", context.held_bytes)
        span.set_attribute("oracle.process.memory.rss_bytes", rss_bytes())
        self.reason(
            f"{tool} failed ({type(last).__name__}); retrying with the context so far",
            tools_planned=[tool],
        )
        self.ask_llm(
            "An earlier attempt failed. Given what was tried so far, restate the request:\n"
            + context.prompt(context_chars=int(kilobytes * 1024 * context.retries))
        )

    # -- one task -------------------------------------------------------------------------
    def handle(self, task: Task) -> Outcome:
        """Run one task in its span and deliver its outcome (produced when running on Kafka)."""
        # No gen_ai.provider/model here: this span is the task, not an LLM call.
        attributes: dict[str, Any] = {"oracle.task.kind": task.kind}
        self._task_id = task.task_id
        log.info("started task %s", task.task_id)
        with invoke_agent(
            self.name, agent_id=self.agent_id, task_id=task.task_id, **attributes
        ) as span:
            try:
                output = self.process_task(task)
            except AgentStopping:
                log.info("task %s interrupted by shutdown; requeued", task.task_id)
                span.set_attribute("oracle.task.status", "requeued")
                return self._deliver(Outcome("requeued", task_topic(task.kind), task), span)
            except Exception as error:
                log.warning("task %s failed: %s: %s", task.task_id, type(error).__name__, error)
                record_exception(span, error)
                span.set_attribute("oracle.task.status", "failed")
                letter = self._dead_letter(error, task=task)
                return self._deliver(Outcome("failed", DLQ_TOPIC, letter), span)
            finally:
                self._task_id = ""
            if task.next:
                following = task.handed_on(output)
                span.set_attribute("oracle.task.status", "handed_on")
                span.set_attribute("oracle.task.next", following.kind)
                return self._deliver(
                    Outcome("handed_on", task_topic(following.kind), following), span
                )
            span.set_attribute("oracle.task.status", "completed")
            result = Result(
                task_id=task.task_id,
                kind=task.kind,
                agent=self.name,
                agent_id=self.agent_id,
                output=output,
            )
            return self._deliver(Outcome("completed", RESULTS_TOPIC, result), span)

    def _dead_letter(
        self, error: BaseException, *, task: Task | None = None, raw: bytes | None = None
    ) -> DeadLetter:
        return DeadLetter(
            task_id=task.task_id if task else None,
            kind=task.kind if task else self.kind,
            agent=self.name,
            agent_id=self.agent_id,
            error_type=type(error).__name__,
            error=str(error),
            task=task.model_dump(mode="json") if task else None,
            raw=raw.decode("utf-8", errors="replace")[:10_000] if raw is not None else None,
        )

    def _deliver(self, outcome: Outcome, span: Span | None = None) -> Outcome:
        if self._producer is not None:
            self._producer.produce(
                outcome.topic, outcome.message.to_bytes(), key=outcome.message.task_id or None
            )
            self._producer.poll(0)
        if span is not None:
            span.set_attribute("oracle.task.output_topic", outcome.topic)
        return outcome

    def _handle_message(self, value: bytes | None) -> Outcome:
        try:
            task = decode(Task, value)
            if task.kind != self.kind:
                raise InvalidMessage(f"a {task.kind!r} task on {task_topic(self.kind)}")
        except InvalidMessage as error:
            log.warning("bad task message sent to %s: %s", DLQ_TOPIC, error)
            return self._deliver(
                Outcome("failed", DLQ_TOPIC, self._dead_letter(error, raw=value or b""))
            )
        return self.handle(task)

    # -- the process ----------------------------------------------------------------------
    @staticmethod
    def _commit(tasks: Any, message: Any) -> None:
        try:
            tasks.commit(message, asynchronous=False)
        except KafkaException as error:  # e.g. a rebalance took the partition away
            log.warning("could not commit %s: %s", message.topic(), error)

    def stop(self) -> None:
        """Ask `run` to return: the task in progress is put back on its topic."""
        self._stop.set()

    def run(self, stop: threading.Event | None = None) -> None:
        """Consume and handle tasks until `stop` (or ``stop`` is set); then close cleanly."""
        if stop is not None:
            self._stop = stop
        settings = self.settings
        self.llm  # noqa: B018 - made now: a missing API key stops the agent at start, not mid-task
        ensure_topics(settings, sorted({*all_topics(), task_topic(self.kind)}))
        client_id = f"{self.name}-{self.agent_id}"
        self._producer = producer(settings, client_id)
        if self._tools is None:
            self._tools = KafkaToolClient(
                settings, self.kind, client_id, self._producer, self.control, self._stop
            )
        tasks = consumer(settings, agents_group(self.kind), client_id, auto_commit=False)
        tasks_topic = task_topic(self.kind)
        tasks.subscribe([tasks_topic])
        log.info("%s agent %s takes tasks from %s", self.kind, self.agent_id, tasks_topic)
        try:
            while not self._stop.is_set():
                message = tasks.poll(0.5)
                self._producer.poll(0)
                if message is None:
                    continue
                if message.error() is not None:
                    log.debug("%s: %s", tasks_topic, message.error())
                    continue
                if not settings.commit_after_processing:  # at most once: taken is done
                    self._commit(tasks, message)
                with process_message(message) as span:
                    outcome = self._handle_message(message.value())
                    if outcome.status == "failed":  # the message's processing failed too
                        span.set_status(Status(StatusCode.ERROR, f"dead-lettered to {DLQ_TOPIC}"))
                if settings.commit_after_processing:
                    self._commit(tasks, message)
        finally:
            self._stop.set()
            tasks.close()
            self._tools.close()
            self._producer.flush(10)
            if self._llm is not None:
                self._llm.close()
