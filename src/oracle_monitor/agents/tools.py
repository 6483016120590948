"""The tools agents call, and the tool worker process that serves them over Kafka.

Tools (over the local `Corpus`): ``search(query, limit=3)`` → ranked passages;
``fetch(doc_id)`` → a whole article; ``find_datasets(query, limit=3)`` → matching series;
``dataset(name)`` → a series' points.

`ToolWorker` consumes ``tool-requests`` in the group ``tool-workers`` and answers each on
``tool-responses`` (in the request's reply partition, keyed by task id), inside the request's
trace: the CONSUMER span of the request, an ``execute_tool <tool>`` span, the PRODUCER span of
the answer. ``tool_delay_seconds`` (setting or control file) adds that long to every call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from oracle_monitor.agents.corpus import Corpus
from oracle_monitor.agents.kafka import consumer, producer
from oracle_monitor.agents.messages import (
    TOOL_REQUESTS_TOPIC,
    TOOL_RESPONSES_TOPIC,
    TOOL_WORKERS_GROUP,
    InvalidMessage,
    ToolRequest,
    ToolResponse,
    decode,
)
from oracle_monitor.agents.settings import AgentSettings, Control
from oracle_monitor.instrumentation import execute_tool, process_message

__all__ = ["ToolWorker", "corpus_tools"]

log = logging.getLogger(__name__)
MAX_LIMIT = 10


def corpus_tools(corpus: Corpus) -> dict[str, Callable[..., Any]]:
    """The tool functions over ``corpus``, by name; bad arguments raise ValueError/KeyError."""

    def search(query: str, limit: int = 3) -> list[dict[str, Any]]:
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query must be a non-empty string")
        return [
            {
                "passage_id": p.passage_id,
                "doc_id": p.doc_id,
                "title": p.title,
                "text": p.text,
                "score": score,
            }
            for p, score in corpus.search(query, max(1, min(int(limit), MAX_LIMIT)))
        ]

    def fetch(doc_id: str) -> dict[str, Any]:
        document = corpus.documents.get(doc_id)
        if document is None:
            raise KeyError(f"no document {doc_id!r}")
        return {
            "doc_id": document.doc_id,
            "title": document.title,
            "tags": list(document.tags),
            "paragraphs": [p.text for p in document.passages],
        }

    def find_datasets(query: str, limit: int = 3) -> list[dict[str, Any]]:
        found = corpus.find_datasets(query, max(1, min(int(limit), MAX_LIMIT)))
        return [{"name": d.name, "title": d.title, "unit": d.unit} for d in found]

    def dataset(name: str) -> dict[str, Any]:
        found = corpus.datasets.get(name)
        if found is None:
            raise KeyError(f"no dataset {name!r}")
        return found.to_json()

    return {"search": search, "fetch": fetch, "find_datasets": find_datasets, "dataset": dataset}


def run_tool(tools: dict[str, Callable[..., Any]], request: ToolRequest) -> ToolResponse:
    """Run one request; a failure becomes an error response, never an exception."""
    base: dict[str, Any] = {
        "request_id": request.request_id,
        "task_id": request.task_id,
        "tool": request.tool,
        "reply_group": request.reply_group,
    }
    function = tools.get(request.tool)
    if function is None:
        return ToolResponse(**base, ok=False, error=f"unknown tool {request.tool!r}")
    try:
        return ToolResponse(**base, result=function(**request.arguments))
    except (TypeError, ValueError, KeyError) as error:
        message = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
        return ToolResponse(**base, ok=False, error=message)


class ToolWorker:
    """Serves tool requests from Kafka until ``stop`` is set (see the module docstring)."""

    def __init__(
        self, settings: AgentSettings, control: Control, *, client_id: str = "tool-worker"
    ) -> None:
        self.settings = settings
        self.control = control
        self.tools = corpus_tools(Corpus.load())
        self._client_id = client_id

    def run(self, stop: threading.Event) -> None:
        """Consume, answer, repeat; leaves the group and flushes on the way out."""
        requests = consumer(self.settings, TOOL_WORKERS_GROUP, self._client_id)
        responses = producer(self.settings, self._client_id)
        requests.subscribe([TOOL_REQUESTS_TOPIC])
        log.info("tool worker serving %s", ", ".join(sorted(self.tools)))
        try:
            while not stop.is_set():
                message = requests.poll(0.5)
                responses.poll(0)
                if message is None:
                    continue
                if message.error() is not None:
                    log.debug("%s: %s", TOOL_REQUESTS_TOPIC, message.error())
                    continue
                with process_message(message):
                    self._serve(message.value(), responses, stop)
        finally:
            requests.close()
            responses.flush(10)

    def _serve(self, value: bytes | None, responses: Any, stop: threading.Event) -> None:
        try:
            request = decode(ToolRequest, value)
        except InvalidMessage as error:
            log.warning("dropped a bad tool request: %s", error)
            return
        delay = self.control.number("tool_delay_seconds", self.settings.tool_delay_seconds)
        with execute_tool(request.tool, call_id=request.request_id) as span:
            if delay:
                span.set_attribute("oracle.tool.delay_s", delay)
                if stop.wait(delay):
                    return  # shutting down: the caller times out and retries elsewhere
            response = run_tool(self.tools, request)
            if not response.ok:
                span.set_attribute("error.type", "ToolError")
                span.set_attribute("oracle.tool.error", response.error or "")
            extra = (
                {} if request.reply_partition is None else {"partition": request.reply_partition}
            )
            responses.produce(
                TOOL_RESPONSES_TOPIC, response.to_bytes(), key=request.task_id or None, **extra
            )
            responses.poll(0)
