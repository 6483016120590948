"""An in-process fake of the OpenAI and Anthropic HTTP APIs, for tests and benchmarks.

No hosted LLM can be reached from here, so this is a faithful fake of the *wire protocol*: the
paths, JSON bodies, server-sent-event framing, error bodies and rate-limit headers of
``POST /v1/chat/completions``, ``/v1/responses``, ``/v1/embeddings``, ``/v1/completions``
(OpenAI) and ``/v1/messages`` (Anthropic), JSON and streamed (``"stream": true``). The bodies
are the providers' documented example responses, with usage objects that have cached and
reasoning tokens. It generates nothing: the answers are fixed, whatever the prompt.

    with running_llm_upstream() as upstream:
        client = openai.OpenAI(api_key="sk-test", base_url=upstream.openai_base_url)
        upstream.fail_next(2)            # the next two calls get 429 + retry-after
        upstream.chunk_delay_s = 0.1     # sleep between SSE events
        ...
        upstream.requests                # every request seen, in order

`sse_chunks(path, body)` gives the exact bytes a stream sends, one item per event, so a test can
compare them with what a client received.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

OPENAI_CHAT: dict[str, Any] = {
    "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "o4-mini-2025-04-16",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! How can I assist you today?",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 256,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_44709d6fcb",
}
OPENAI_RESPONSE: dict[str, Any] = {
    "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
    "object": "response",
    "created_at": 1741476542,
    "status": "completed",
    "error": None,
    "incomplete_details": None,
    "instructions": None,
    "max_output_tokens": None,
    "model": "gpt-4.1-2025-04-14",
    "output": [
        {
            "type": "message",
            "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b",
            "status": "completed",
            "role": "assistant",
            "content": [
                {
                    "type": "output_text",
                    "text": "In a peaceful grove beneath a silver moon, a unicorn named Lumina "
                    "discovered a hidden pool that reflected the stars.",
                    "annotations": [],
                }
            ],
        }
    ],
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "reasoning": {"effort": None, "summary": None},
    "store": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "truncation": "disabled",
    "usage": {
        "input_tokens": 1536,
        "input_tokens_details": {"cached_tokens": 1024},
        "output_tokens": 87,
        "output_tokens_details": {"reasoning_tokens": 64},
        "total_tokens": 1623,
    },
    "user": None,
    "metadata": {},
}
EMBEDDING = [0.0023064255, -0.009327292, 0.015797347, -0.0077780345]
OPENAI_EMBEDDINGS: dict[str, Any] = {
    "object": "list",
    "data": [{"object": "embedding", "embedding": EMBEDDING, "index": 0}],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 8, "total_tokens": 8},
}
OPENAI_COMPLETION: dict[str, Any] = {
    "id": "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7",
    "object": "text_completion",
    "created": 1589478378,
    "model": "gpt-3.5-turbo-instruct",
    "system_fingerprint": "fp_44709d6fcb",
    "choices": [
        {
            "text": "\n\nThis is indeed a test",
            "index": 0,
            "logprobs": None,
            "finish_reason": "length",
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
}
ANTHROPIC_MESSAGE: dict[str, Any] = {
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-20250514",
    "content": [{"type": "text", "text": "Hi! My name is Claude."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 2095,
        "output_tokens": 503,
        "cache_creation_input_tokens": 2051,
        "cache_read_input_tokens": 4102,
    },
}
OPENAI_RATE_LIMIT: dict[str, Any] = {
    "error": {
        "message": "Rate limit reached for o4-mini in organization org-fake on requests per min "
        "(RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}
ANTHROPIC_RATE_LIMIT: dict[str, Any] = {
    "type": "error",
    "error": {
        "type": "rate_limit_error",
        "message": "Number of request tokens has exceeded your per-minute rate limit",
    },
    "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
}
STREAM_TEXT = ["Hello", "!", " How", " can", " I", " help", "?"]


def _event(data: Any, name: str | None = None) -> bytes:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _chat_chunks(include_usage: bool) -> list[bytes]:
    base = {k: OPENAI_CHAT[k] for k in ("id", "created", "model", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _event({**base, "choices": [choice]})

    out = [chunk({"role": "assistant", "content": "", "refusal": None})]
    out += [chunk({"content": text}) for text in STREAM_TEXT]
    out.append(chunk({}, "stop"))
    if include_usage:
        out.append(_event({**base, "choices": [], "usage": OPENAI_CHAT["usage"]}))
    return [*out, b"data: [DONE]\n\n"]


def _responses_chunks() -> list[bytes]:
    item_id = OPENAI_RESPONSE["output"][0]["id"]
    started = {**OPENAI_RESPONSE, "status": "in_progress", "output": [], "usage": None}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": started}),
        ("response.in_progress", {"response": started}),
        (
            "response.output_item.added",
            {
                "output_index": 0,
                "item": {
                    "id": item_id,
                    "status": "in_progress",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                },
            },
        ),
        (
            "response.content_part.added",
            {
                "item_id": item_id,
                "output_index": 0,
                "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []},
            },
        ),
    ]
    events += [
        (
            "response.output_text.delta",
            {"item_id": item_id, "output_index": 0, "content_index": 0, "delta": text},
        )
        for text in STREAM_TEXT
    ]
    events += [
        (
            "response.output_text.done",
            {
                "item_id": item_id,
                "output_index": 0,
                "content_index": 0,
                "text": "".join(STREAM_TEXT),
            },
        ),
        ("response.output_item.done", {"output_index": 0, "item": OPENAI_RESPONSE["output"][0]}),
        ("response.completed", {"response": OPENAI_RESPONSE}),
    ]
    return [
        _event({"type": name, "sequence_number": n, **data}, name)
        for n, (name, data) in enumerate(events)
    ]


def _messages_chunks() -> list[bytes]:
    usage = {**ANTHROPIC_MESSAGE["usage"], "output_tokens": 1}
    start = {**ANTHROPIC_MESSAGE, "content": [], "stop_reason": None, "usage": usage}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        *(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}
            for t in STREAM_TEXT
        ),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": ANTHROPIC_MESSAGE["usage"]["output_tokens"]},
        },
        {"type": "message_stop"},
    ]
    return [_event(event, event["type"]) for event in events]


def sse_chunks(path: str, body: dict[str, Any] | None = None) -> list[bytes]:
    """The SSE events (exact bytes, one per item) the fake streams for a request to ``path``."""
    if path.endswith("/chat/completions"):
        return _chat_chunks(bool(((body or {}).get("stream_options") or {}).get("include_usage")))
    if path.endswith("/responses"):
        return _responses_chunks()
    return _messages_chunks()


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("encoding_format") != "base64":
        return OPENAI_EMBEDDINGS
    packed = base64.b64encode(struct.pack(f"<{len(EMBEDDING)}f", *EMBEDDING)).decode()
    return {**OPENAI_EMBEDDINGS, "data": [{**OPENAI_EMBEDDINGS["data"][0], "embedding": packed}]}


@dataclass
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any


@dataclass
class FakeLLMUpstream:
    """Controls and records of a running fake; see the module docstring."""

    base_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    chunk_delay_s: float = 0.0
    failures_left: int = 0
    failure_status: int = 429
    retry_after: str | None = "1"
    retry_after_ms: str | None = None

    @property
    def openai_base_url(self) -> str:
        """``base_url`` for `openai.OpenAI` (with ``/v1``); Anthropic's client takes `base_url`."""
        return self.base_url + "/v1"

    def fail_next(
        self,
        count: int,
        status: int = 429,
        retry_after: str | None = "1",
        retry_after_ms: str | None = None,
    ) -> None:
        """Make the next ``count`` LLM calls answer ``status`` with the provider's error body."""
        self.failures_left, self.failure_status = count, status
        self.retry_after, self.retry_after_ms = retry_after, retry_after_ms

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        path = request.url.path
        self.requests.append(
            RecordedRequest(request.method, path, dict(request.headers), raw, body)
        )
        anthropic = path.endswith("/messages")
        if self.failures_left > 0:
            self.failures_left -= 1
            headers = {"x-request-id": "req_fake_429"}
            if self.retry_after is not None:
                headers["retry-after"] = self.retry_after
            if self.retry_after_ms is not None:
                headers["retry-after-ms"] = self.retry_after_ms
            error = ANTHROPIC_RATE_LIMIT if anthropic else OPENAI_RATE_LIMIT
            return JSONResponse(error, self.failure_status, headers=headers)
        if not isinstance(body, dict):
            return JSONResponse(
                {
                    "error": {
                        "message": "We could not parse the JSON body of your request.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
                400,
            )
        if body.get("stream"):
            return StreamingResponse(
                self._stream(sse_chunks(path, body)), media_type="text/event-stream"
            )
        if path.endswith("/chat/completions"):
            return JSONResponse(OPENAI_CHAT)
        if path.endswith("/responses"):
            return JSONResponse(OPENAI_RESPONSE)
        if path.endswith("/embeddings"):
            return JSONResponse(_embeddings(body))
        if path.endswith("/completions"):
            return JSONResponse(OPENAI_COMPLETION)
        return JSONResponse(
            ANTHROPIC_MESSAGE, headers={"request-id": "req_018EeWyXxfu5pfWkrYcMdjWG"}
        )

    async def _stream(self, chunks: list[bytes]) -> AsyncIterator[bytes]:
        for index, chunk in enumerate(chunks):
            if index and self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            yield chunk


@contextmanager
def running_llm_upstream() -> Iterator[FakeLLMUpstream]:
    """Serve a `FakeLLMUpstream` on a free 127.0.0.1 port in a background thread."""
    upstream = FakeLLMUpstream()
    paths = [
        "/v1/chat/completions",
        "/v1/responses",
        "/v1/embeddings",
        "/v1/completions",
        "/v1/messages",
    ]
    app = Starlette(routes=[Route(p, upstream.handle, methods=["POST"]) for p in paths])
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle + delayed-ACK stalls
    sock.bind(("127.0.0.1", 0))
    upstream.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", access_log=False, loop="asyncio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake LLM upstream did not start")
        time.sleep(0.01)
    try:
        yield upstream
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
