"""A local LLM provider: the OpenAI and Anthropic HTTP APIs, served on a loopback port.

It speaks the *wire protocol* of ``POST /v1/chat/completions``, ``/v1/responses``,
``/v1/embeddings``, ``/v1/completions`` (OpenAI) and ``/v1/messages`` (Anthropic): paths,
JSON bodies, server-sent-event framing, error bodies and rate-limit headers, JSON and
streamed (``"stream": true``), so the official SDKs and the LLM proxy cannot tell it from the
real thing. It is what the demo's agents call, and what the tests and benchmarks run the
SDKs against.

Two modes:

* exact (default): the providers' documented example bodies (`llm_payloads`), whatever the
  prompt; tests compare them byte for byte.
* realistic (``realistic=True``): an answer made from the prompt, usage counted from the
  request (about four characters a token, prompt-cache hits on repeated long prompts), time
  to first token and per-token latency (``latency_scale`` 0 makes it instant), a sliding
  request window per provider (`RateLimit`) that a burst exhausts — then 429 with the
  provider's body, ``retry-after`` and its ``x-ratelimit-*`` / ``anthropic-ratelimit-*``
  headers —, and an optional token quota whose end is ``insufficient_quota``.

    with running_llm_provider() as provider:
        client = openai.OpenAI(api_key="sk-test", base_url=provider.openai_base_url)
        provider.fail_next(2)            # the next two calls get 429 + retry-after
        provider.chunk_delay_s = 0.1     # sleep between SSE events
        provider.stream_parts = ["Hi"] * 1000  # a stream's text deltas (exact mode)
        provider.requests                # every request seen, in order
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from oracle_monitor.demo import llm_payloads as bodies
from oracle_monitor.demo.llm_text import answer_for, prompt_text, split_tokens, tokens_in

PATHS = ("/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/completions",
         "/v1/messages")  # fmt: skip
_BAD_JSON = {
    "error": {
        "message": "We could not parse the JSON body of your request.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
}


@dataclass
class RecordedRequest:
    """One request the provider received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any


@dataclass
class RateLimit:
    """Per provider, in any ``window_s`` seconds (a sliding window): at most ``requests``
    calls and, when set, ``tokens`` tokens (prompt and answer: OpenAI's TPM)."""

    requests: int
    window_s: float = 60.0
    tokens: int | None = None


@dataclass
class LLMProvider:
    """Controls, counters and records of a running provider; see the module docstring."""

    base_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    record: bool = True
    chunk_delay_s: float = 0.0
    #: Exact mode: the text deltas a stream sends (default the examples' `STREAM_TEXT`).
    stream_parts: list[str] | None = None
    failures_left: int = 0
    failure_status: int = 429
    retry_after: str | None = "1"
    retry_after_ms: str | None = None
    realistic: bool = False
    latency_scale: float = 1.0
    rate_limit: RateLimit | None = None
    quota_tokens: int | None = None
    tokens_used: int = 0
    #: ``calls``, ``ok``, ``rate_limited``, ``quota_exhausted``, ``bad_request``.
    counts: Counter[str] = field(default_factory=Counter)
    _recent: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)
    _prefixes: set[int] = field(default_factory=set)

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
        """Answer one API request."""
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        path = request.url.path
        if self.record:
            self.requests.append(
                RecordedRequest(request.method, path, dict(request.headers), raw, body)
            )
        self.counts["calls"] += 1
        anthropic = path.endswith("/messages")
        if self.failures_left > 0:
            self.failures_left -= 1
            self.counts["rate_limited"] += 1
            return self._forced_failure(anthropic)
        if not isinstance(body, dict):
            self.counts["bad_request"] += 1
            return JSONResponse(_BAD_JSON, 400)
        if not self.realistic:
            self.counts["ok"] += 1
            if body.get("stream"):
                chunks = bodies.sse_chunks(path, body, None, self.stream_parts)
                return self._streaming(chunks, 0.0)
            headers = {"request-id": "req_018EeWyXxfu5pfWkrYcMdjWG"} if anthropic else {}
            return JSONResponse(bodies.example(path, body), headers=headers)
        return await self._realistic(path, body, anthropic)

    def _forced_failure(self, anthropic: bool) -> Response:
        headers = {"x-request-id": "req_fake_429"}
        if self.retry_after is not None:
            headers["retry-after"] = self.retry_after
        if self.retry_after_ms is not None:
            headers["retry-after-ms"] = self.retry_after_ms
        error = bodies.ANTHROPIC_RATE_LIMIT if anthropic else bodies.OPENAI_RATE_LIMIT
        return JSONResponse(error, self.failure_status, headers=headers)

    def _admit(self, provider: str, tokens: int) -> tuple[bool, dict[str, str]]:
        """Count a call of ``tokens`` against the window; (allowed, rate-limit headers)."""
        limit = self.rate_limit
        if limit is None:
            return True, {}
        now = time.monotonic()
        recent = self._recent.setdefault(provider, deque())
        while recent and recent[0][0] <= now - limit.window_s:
            recent.popleft()
        used = sum(n for _, n in recent)
        allowed = len(recent) < limit.requests and (
            limit.tokens is None or used + tokens <= limit.tokens
        )
        if allowed:
            recent.append((now, tokens))
            used += tokens
        reset_s = max(0.001, recent[0][0] + limit.window_s - now) if recent else limit.window_s
        remaining = max(0, limit.requests - len(recent))
        if provider == "anthropic":
            reset_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + reset_s))
            headers = {
                "anthropic-ratelimit-requests-limit": str(limit.requests),
                "anthropic-ratelimit-requests-remaining": str(remaining),
                "anthropic-ratelimit-requests-reset": reset_at,
            }
        else:
            headers = {
                "x-ratelimit-limit-requests": str(limit.requests),
                "x-ratelimit-remaining-requests": str(remaining),
                "x-ratelimit-reset-requests": f"{reset_s:.3f}s",
            }
            if limit.tokens is not None:
                headers["x-ratelimit-limit-tokens"] = str(limit.tokens)
                headers["x-ratelimit-remaining-tokens"] = str(max(0, limit.tokens - used))
                headers["x-ratelimit-reset-tokens"] = f"{reset_s:.3f}s"
        if not allowed:
            headers["retry-after"] = str(max(1, round(reset_s)))
            over_requests = len(recent) >= limit.requests
            headers["x-demo-limit"] = (
                f"requests per {limit.window_s:g}s: Limit {limit.requests}, Used {len(recent)}"
                if over_requests
                else f"tokens per {limit.window_s:g}s: Limit {limit.tokens}, Used {used}"
            )
        return allowed, headers

    async def _realistic(self, path: str, body: dict[str, Any], anthropic: bool) -> Response:
        provider = "anthropic" if anthropic else "openai"
        request_id = uuid.uuid4().hex[:24]
        prompt = prompt_text(body)
        inp = tokens_in(prompt)
        allowed, headers = self._admit(provider, inp)
        headers["x-request-id" if not anthropic else "request-id"] = f"req_{request_id}"
        if not allowed:
            self.counts["rate_limited"] += 1
            await asyncio.sleep(0.02 * self.latency_scale)
            model = str(body.get("model") or "")
            which = headers.pop("x-demo-limit")
            error = bodies.rate_limit_error(anthropic, model, which, inp, headers["retry-after"])
            return JSONResponse(error, 429, headers=headers)
        if self.quota_tokens is not None and self.tokens_used >= self.quota_tokens:
            self.counts["quota_exhausted"] += 1
            if anthropic:
                return JSONResponse(bodies.ANTHROPIC_QUOTA, 400, headers=headers)
            return JSONResponse(bodies.OPENAI_QUOTA, 429, headers=headers)
        if path.endswith("/embeddings"):
            self.counts["ok"] += 1
            return JSONResponse(bodies.embeddings(body), headers=headers)
        text = answer_for(prompt, int(body.get("max_tokens") or body.get("max_output_tokens") or 0))
        parts = split_tokens(text)
        out = len(parts)
        cached = self._cached(prompt, inp)
        self.tokens_used += inp + out
        self.counts["ok"] += 1
        model = str(body.get("model") or ("claude-sonnet-4-5" if anthropic else "gpt-4o-mini"))
        answer = bodies.with_answer(path, model, text, (inp, cached, out), request_id)
        first = (0.25 + 0.00005 * inp) * self.latency_scale
        per_token = 0.008 * self.latency_scale
        if body.get("stream"):
            chunks = bodies.sse_chunks(path, body, answer, parts)
            await asyncio.sleep(first)
            return self._streaming(chunks, per_token, headers)
        await asyncio.sleep(first + per_token * out)
        return JSONResponse(answer, headers=headers)

    def _cached(self, prompt: str, tokens: int) -> int:
        """Prompt-cache hits: a prompt of 1024+ tokens whose start was seen before."""
        if tokens < 1024:
            return 0
        key = hash(prompt[:4096])
        if key not in self._prefixes:
            self._prefixes.add(key)
            return 0
        return (tokens * 8 // 10) // 128 * 128

    def _streaming(
        self, chunks: list[bytes], per_chunk_s: float, headers: dict[str, str] | None = None
    ) -> StreamingResponse:
        return StreamingResponse(
            self._stream(chunks, per_chunk_s), media_type="text/event-stream", headers=headers
        )

    async def _stream(self, chunks: list[bytes], per_chunk_s: float) -> AsyncIterator[bytes]:
        for index, chunk in enumerate(chunks):
            delay = self.chunk_delay_s or per_chunk_s
            if index and delay:
                await asyncio.sleep(delay)
            yield chunk


def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> tuple[Any, int]:
    """Run an ASGI app with uvicorn in a daemon thread; returns (stop function, port)."""
    import socket

    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle + delayed-ACK stalls
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", access_log=False, loop="asyncio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            sock.close()
            raise RuntimeError("the server did not start")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)
        sock.close()

    return stop, int(sock.getsockname()[1])


def provider_app(provider: LLMProvider) -> Starlette:
    """The provider's routes as a Starlette app."""
    return Starlette(routes=[Route(p, provider.handle, methods=["POST"]) for p in PATHS])


@contextmanager
def running_llm_provider(**options: Any) -> Iterator[LLMProvider]:
    """Serve an `LLMProvider` (``options`` are its fields) on a free 127.0.0.1 port."""
    provider = LLMProvider(**options)
    stop, port = serve_in_thread(provider_app(provider))
    provider.base_url = f"http://127.0.0.1:{port}"
    try:
        yield provider
    finally:
        stop()
