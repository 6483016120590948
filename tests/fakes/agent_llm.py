"""A fake OpenAI- and Anthropic-compatible LLM that drives agent frameworks through their paces.

Agent frameworks (the OpenAI Agents SDK, LangGraph, pydantic-ai, CrewAI…) need a model that
calls their tools and hands off between agents; no hosted LLM can be reached from the tests,
so this in-process server speaks the providers' wire protocol (``POST /v1/chat/completions``,
``/v1/responses``, ``/v1/messages``; JSON and server-sent-event streams, with usage and tool
calls, in the bodies' documented shapes) with one simple policy:

* while the request offers a tool that the conversation has not called yet, call the first
  such tool (arguments made from its JSON schema); a handoff is a tool like any other;
* otherwise answer with text.

Every answer's usage is fixed by a counter (``input = 100 + 10·n``, ``output = 20 + n`` for
the n-th call, n from 1), and `AgentLLM.calls` records each call's path, model, streaming,
the tool it called and the system prompt, so a test knows exactly which tokens each agent
was served. A prompt naming ``[agent:<name>]`` says which agent made the call.

    with running_agent_llm() as llm:
        ...  # point the framework at llm.openai_base_url / llm.anthropic_base_url
        llm.calls
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from oracle_monitor.demo.llm_provider import serve_in_thread

_AGENT = re.compile(r"\[agent:([A-Za-z0-9_\- ]+)\]")


@dataclass(frozen=True)
class ServedCall:
    """One call the fake answered."""

    path: str
    model: str
    stream: bool
    agent: str | None
    tool_called: str | None
    input_tokens: int
    output_tokens: int


@dataclass
class AgentLLM:
    """The fake's state: the calls served, in order."""

    port: int = 0
    calls: list[ServedCall] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def openai_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tokens_by_agent(self) -> dict[str | None, tuple[int, int]]:
        """(input, output) tokens served per agent."""
        totals: dict[str | None, tuple[int, int]] = {}
        for call in self.calls:
            inp, out = totals.get(call.agent, (0, 0))
            totals[call.agent] = (inp + call.input_tokens, out + call.output_tokens)
        return totals

    async def handle(self, request: Request) -> Response:
        body = await request.json()
        path = request.url.path
        kind = "messages" if path.endswith("/messages") else path.rsplit("/", 1)[-1]
        tools = _offered_tools(kind, body)
        called = _called_tools(kind, body)
        tool = next((name for name, _ in tools if name not in called), None)
        arguments = json.dumps(_arguments(dict(tools)[tool])) if tool else ""
        with self._lock:
            n = len(self.calls) + 1
            call = ServedCall(
                path=path,
                model=str(body.get("model", "")),
                stream=bool(body.get("stream")),
                agent=_agent_of(body),
                tool_called=tool,
                input_tokens=100 + 10 * n,
                output_tokens=20 + n,
            )
            self.calls.append(call)
        answer = _Answer(n, call, tool, arguments, body)
        if not call.stream:
            return JSONResponse(answer.body(kind))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events = answer.events(kind, include_usage)
        return StreamingResponse(iter(events), media_type="text/event-stream")


def _offered_tools(kind: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    tools: list[tuple[str, dict[str, Any]]] = []
    for tool in body.get("tools") or []:
        if kind == "completions" and tool.get("type") == "function":
            function = tool["function"]
            tools.append((function["name"], function.get("parameters") or {}))
        elif kind == "responses" and tool.get("type") == "function":
            tools.append((tool["name"], tool.get("parameters") or {}))
        elif kind == "messages" and "name" in tool:
            tools.append((tool["name"], tool.get("input_schema") or {}))
    return tools


def _called_tools(kind: str, body: dict[str, Any]) -> set[str]:
    called: set[str] = set()
    if kind == "responses":
        items = body.get("input")
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("type") == "function_call":
                called.add(item["name"])
    for message in body.get("messages") or []:
        for tool_call in message.get("tool_calls") or []:
            called.add(tool_call["function"]["name"])
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                called.add(block["name"])
    return called


def _agent_of(body: dict[str, Any]) -> str | None:
    match = _AGENT.search(json.dumps(body))
    return match.group(1) if match else None


def _arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments that satisfy a JSON schema's required properties."""
    values: dict[str, Any] = {}
    properties = schema.get("properties") or {}
    for name in schema.get("required") or list(properties):
        prop = properties.get(name) or {}
        if "enum" in prop:
            values[name] = prop["enum"][0]
            continue
        kind = prop.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        values[name] = {
            "integer": 3, "number": 1.5, "boolean": True, "array": [], "object": {}, "null": None
        }.get(str(kind), "Paris")  # fmt: skip
    return values


def _sse(data: Any, name: str | None = None) -> bytes:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@dataclass
class _Answer:
    """The n-th answer: a tool call or a text, in each API's body and stream shapes."""

    n: int
    call: ServedCall
    tool: str | None
    arguments: str
    request: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return f"Answer {self.n}: it is sunny in Paris."

    @property
    def words(self) -> list[str]:
        """The text in stream deltas, each word with the space after it: they join to the text."""
        return re.findall(r"\S+\s*", self.text)

    def body(self, kind: str) -> dict[str, Any]:
        return {"completions": self._chat, "responses": self._response, "messages": self._message}[
            kind
        ]()

    def events(self, kind: str, include_usage: bool) -> list[bytes]:
        if kind == "completions":
            return self._chat_events(include_usage)
        if kind == "responses":
            return self._response_events()
        return self._message_events()

    # OpenAI chat completions
    def _chat_usage(self) -> dict[str, Any]:
        c = self.call
        return {
            "prompt_tokens": c.input_tokens, "completion_tokens": c.output_tokens,
            "total_tokens": c.input_tokens + c.output_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }  # fmt: skip

    def _chat_base(self, obj: str) -> dict[str, Any]:
        return {"id": f"chatcmpl-fake{self.n}", "object": obj, "created": int(time.time()),
                "model": self.call.model, "system_fingerprint": "fp_fake"}  # fmt: skip

    def _chat(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if self.tool:
            message["tool_calls"] = [
                {"id": f"call_{self.n}", "type": "function",
                 "function": {"name": self.tool, "arguments": self.arguments}}
            ]  # fmt: skip
        else:
            message["content"] = self.text
        choice = {"index": 0, "message": message, "logprobs": None,
                  "finish_reason": "tool_calls" if self.tool else "stop"}  # fmt: skip
        return {**self._chat_base("chat.completion"), "choices": [choice],
                "usage": self._chat_usage()}  # fmt: skip

    def _chat_events(self, include_usage: bool) -> list[bytes]:
        base = self._chat_base("chat.completion.chunk")

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return _sse({**base, "choices": [choice]})

        out = [chunk({"role": "assistant", "content": None if self.tool else ""})]
        if self.tool:
            out.append(chunk({"tool_calls": [{"index": 0, "id": f"call_{self.n}",
                              "type": "function",
                              "function": {"name": self.tool, "arguments": ""}}]}))  # fmt: skip
            out.append(chunk({"tool_calls": [{"index": 0,
                              "function": {"arguments": self.arguments}}]}))  # fmt: skip
            out.append(chunk({}, "tool_calls"))
        else:
            out += [chunk({"content": word}) for word in self.words]
            out.append(chunk({}, "stop"))
        if include_usage:
            out.append(_sse({**base, "choices": [], "usage": self._chat_usage()}))
        return [*out, b"data: [DONE]\n\n"]

    # OpenAI responses
    def _output_item(self) -> dict[str, Any]:
        if self.tool:
            return {
                "type": "function_call", "id": f"fc_{self.n}", "call_id": f"call_{self.n}",
                "name": self.tool, "arguments": self.arguments, "status": "completed",
            }  # fmt: skip
        text = {"type": "output_text", "text": self.text, "annotations": []}
        return {
            "type": "message", "id": f"msg_{self.n}", "status": "completed", "role": "assistant",
            "content": [text],
        }  # fmt: skip

    def _response(self, status: str = "completed") -> dict[str, Any]:
        c = self.call
        done = status == "completed"
        return {
            "id": f"resp_fake{self.n}", "object": "response", "created_at": int(time.time()),
            "status": status, "error": None, "incomplete_details": None,
            # the API echoes the request's instructions and tools
            "instructions": self.request.get("instructions"),
            "max_output_tokens": None, "model": c.model,
            "output": [self._output_item()] if done else [],
            "parallel_tool_calls": True, "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None}, "store": True, "temperature": 1.0,
            "text": {"format": {"type": "text"}}, "tool_choice": "auto",
            "tools": self.request.get("tools") or [],
            "top_p": 1.0, "truncation": "disabled", "user": None, "metadata": {},
            "usage": {
                "input_tokens": c.input_tokens, "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": c.output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": c.input_tokens + c.output_tokens,
            } if done else None,
        }  # fmt: skip

    def _response_events(self) -> list[bytes]:
        item = self._output_item()
        started = self._response("in_progress")
        opened = {**item, "status": "in_progress"}
        events: list[tuple[str, dict[str, Any]]] = [
            ("response.created", {"response": started}),
            ("response.in_progress", {"response": started}),
        ]
        if self.tool:
            events += [
                ("response.output_item.added",
                 {"output_index": 0, "item": {**opened, "arguments": ""}}),
                ("response.function_call_arguments.delta",
                 {"item_id": item["id"], "output_index": 0, "delta": self.arguments}),
                ("response.function_call_arguments.done",
                 {"item_id": item["id"], "output_index": 0, "arguments": self.arguments}),
            ]  # fmt: skip
        else:
            where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
            events += [
                ("response.output_item.added",
                 {"output_index": 0, "item": {**opened, "content": []}}),
                ("response.content_part.added",
                 {**where, "part": {"type": "output_text", "text": "", "annotations": []}}),
                *(("response.output_text.delta", {**where, "delta": word, "logprobs": []})
                  for word in self.words),
                ("response.output_text.done", {**where, "text": self.text, "logprobs": []}),
                ("response.content_part.done", {**where, "part": item["content"][0]}),
            ]  # fmt: skip
        events += [
            ("response.output_item.done", {"output_index": 0, "item": item}),
            ("response.completed", {"response": self._response()}),
        ]
        return [
            _sse({"type": name, "sequence_number": seq, **data}, name)
            for seq, (name, data) in enumerate(events)
        ]

    # Anthropic messages
    def _blocks(self) -> list[dict[str, Any]]:
        if self.tool:
            return [{"type": "tool_use", "id": f"toolu_{self.n}", "name": self.tool,
                     "input": json.loads(self.arguments)}]  # fmt: skip
        return [{"type": "text", "text": self.text}]

    def _message(self) -> dict[str, Any]:
        c = self.call
        return {
            "id": f"msg_fake{self.n}", "type": "message", "role": "assistant", "model": c.model,
            "content": self._blocks(), "stop_reason": "tool_use" if self.tool else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": c.input_tokens, "output_tokens": c.output_tokens,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }  # fmt: skip

    def _message_events(self) -> list[bytes]:
        message = self._message()
        start = {**message, "content": [], "stop_reason": None,
                 "usage": {**message["usage"], "output_tokens": 1}}  # fmt: skip
        block = self._blocks()[0]
        events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
        if self.tool:
            events += [
                {"type": "content_block_start", "index": 0,
                 "content_block": {**block, "input": {}}},
                {"type": "content_block_delta", "index": 0,
                 "delta": {"type": "input_json_delta", "partial_json": self.arguments}},
            ]  # fmt: skip
        else:
            events.append({"type": "content_block_start", "index": 0,
                           "content_block": {"type": "text", "text": ""}})  # fmt: skip
            events += [
                {"type": "content_block_delta", "index": 0,
                 "delta": {"type": "text_delta", "text": word}}
                for word in self.words
            ]  # fmt: skip
        events += [
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta",
             "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
             "usage": {"output_tokens": self.call.output_tokens}},
            {"type": "message_stop"},
        ]  # fmt: skip
        return [_sse(event, event["type"]) for event in events]


def agent_llm_app(llm: AgentLLM) -> Starlette:
    """The fake's routes."""
    paths = ("/v1/chat/completions", "/v1/responses", "/v1/messages")
    return Starlette(routes=[Route(p, llm.handle, methods=["POST"]) for p in paths])


@contextmanager
def running_agent_llm() -> Iterator[AgentLLM]:
    """The fake, serving on a free loopback port until the block ends."""
    llm = AgentLLM()
    stop, llm.port = serve_in_thread(agent_llm_app(llm))
    try:
        yield llm
    finally:
        stop()


if __name__ == "__main__":  # for recording by hand: python -m tests.fakes.agent_llm PORT
    import sys

    import uvicorn

    fake = AgentLLM(port=int(sys.argv[1]))
    uvicorn.run(agent_llm_app(fake), host="127.0.0.1", port=fake.port, log_level="warning")
