"""The LLM proxy: an OpenAI- and Anthropic-compatible pass-through that traces every call.

Clients point their base URL at it (``http://host:8787/v1`` for OpenAI, ``http://host:8787``
for Anthropic). Every request is forwarded as it came: method, path, query, body and headers
(credentials included) go upstream; status, headers (``retry-after`` and the rate-limit
headers included) and body come back, server-sent-event streams chunk by chunk as they
arrive. Two things differ on the wire, both invisible to clients: hop-by-hop headers are
not forwarded, and the proxy asks upstream for an uncompressed body so it can read usage.

Which upstream: a request carrying ``x-api-key`` or ``anthropic-version`` goes to Anthropic,
any other to OpenAI. Each request the proxy forwards is one upstream attempt and gets one span
(kind CLIENT): the GenAI attributes (`oracle_monitor.genai`), time to first token for streams,
``oracle.llm.cost_usd`` from the price table (or ``oracle.llm.unpriced``), the 429 and
``retry-after`` details, which retry of the client's it is (``oracle.llm.retry_attempt``,
from the SDKs' ``x-stainless-retry-count``), the agent from an optional ``x-oracle-agent``
header, and the caller's trace context from ``traceparent`` so the span joins the agent's
trace. Credentials are forwarded and never read, logged, stored or put on a span.

Every response the proxy sends carries ``x-oracle-usage-recorded: proxy``: its span records
the call's usage and cost, so a client whose HTTP calls are auto-instrumented
(`oracle_monitor.instrumentation.llm_http`) leaves them off its own span and the call is
counted once.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDictProxy
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from oracle_monitor.genai import (
    CLIENT_DISCONNECTED,
    LLMCall,
    StreamAccumulator,
    classify,
    finish_call,
    start_call,
)
from oracle_monitor.processing.pricing import PriceTable

OPENAI_UPSTREAM = "https://api.openai.com"
ANTHROPIC_UPSTREAM = "https://api.anthropic.com"
AGENT_HEADER = "x-oracle-agent"
RETRY_COUNT_HEADER = "x-stainless-retry-count"
#: Added to every response: the proxy's span records the usage (see the module docstring).
USAGE_RECORDED_HEADER = "x-oracle-usage-recorded"
#: Not forwarded upstream: hop-by-hop headers (RFC 9110 §7.6.1), what the client sets itself, and
#: our own headers.
_REQUEST_DROP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding",
        AGENT_HEADER, "x-oracle-provider",
    }
)  # fmt: skip
_RESPONSE_DROP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "trailer", USAGE_RECORDED_HEADER}
)
_USAGE_RECORDED = (USAGE_RECORDED_HEADER.encode(), b"proxy")


class LLMProxy:
    """The proxy's request handler; `app` is the ASGI application around it."""

    def __init__(
        self,
        *,
        openai_upstream: str,
        anthropic_upstream: str,
        prices: PriceTable,
        tracer: Tracer | None = None,
    ) -> None:
        self._upstreams = {
            "openai": openai_upstream.rstrip("/"),
            "anthropic": anthropic_upstream.rstrip("/"),
        }
        self._prices = prices
        self._tracer = tracer or trace.get_tracer("oracle_monitor.llm_proxy")
        self._session: aiohttp.ClientSession | None = None
        self.app = Starlette(
            routes=[Route("/{path:path}", self.forward, methods=_METHODS)],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        # aiohttp's client: several times less CPU per request than httpx's, which matters
        # for a proxy. Bodies are relayed raw; we ask upstream for identity encoding.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1000, limit_per_host=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=600),
            auto_decompress=False,
            skip_auto_headers=("User-Agent",),
        )
        try:
            yield
        finally:
            await self._session.close()

    @staticmethod
    def provider_of(headers: Mapping[str, str]) -> str:
        """Which upstream a request is for."""
        if "x-api-key" in headers or "anthropic-version" in headers:
            return "anthropic"
        return "openai"

    async def forward(self, request: Request) -> Response:
        """Forward one request upstream and stream the answer back, tracing it."""
        body = await request.body()
        provider = self.provider_of(request.headers)
        path = request.url.path
        url = (
            self._upstreams[provider]
            + path
            + (f"?{request.url.query}" if request.url.query else "")
        )
        kind = classify(request.method, path)
        call = start_call(provider, kind[1], body) if kind else None
        name = f"{call.operation} {call.request_model or ''}".strip() if call else request.method
        span = self._tracer.start_span(
            name, context=extract(request.headers), kind=SpanKind.CLIENT, start_time=time.time_ns()
        )
        headers = [(k, v) for k, v in request.headers.items() if k not in _REQUEST_DROP]
        headers.append(("accept-encoding", "identity"))
        assert self._session is not None, "the proxy app's lifespan has not started"
        started = time.monotonic_ns()
        try:
            upstream = await self._session.request(
                request.method, url, headers=headers, data=body, allow_redirects=False
            )
        except (aiohttp.ClientError, TimeoutError) as error:
            span.set_attributes(_base_attributes(call, request, provider, self._upstreams))
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, f"upstream unreachable: {error}"))
            span.end()
            return JSONResponse(
                {"error": {"type": "upstream_unreachable", "message": str(error)}},
                status_code=502,
                headers={USAGE_RECORDED_HEADER: "proxy"},
            )
        relayed = _CallTrace(span, call, request, provider, self._upstreams, self._prices, started)
        response = StreamingResponse(relayed.relay(upstream), status_code=upstream.status)
        response.raw_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in upstream.headers.items()
            if k.lower() not in _RESPONSE_DROP
        ]
        response.raw_headers.append(_USAGE_RECORDED)
        return response


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _base_attributes(
    call: LLMCall | None, request: Request, provider: str, upstreams: Mapping[str, str]
) -> dict[str, Any]:
    attributes: dict[str, Any] = dict(call.attributes()) if call else {}
    upstream = urlsplit(upstreams[provider])
    attributes.update(
        {
            "http.request.method": request.method,
            "url.path": request.url.path,
            "server.address": upstream.hostname or "",
            "server.port": upstream.port or (443 if upstream.scheme == "https" else 80),
            "oracle.llm.proxy": True,
        }
    )
    agent = request.headers.get(AGENT_HEADER)
    if agent:
        attributes["gen_ai.agent.name"] = agent
    retry = request.headers.get(RETRY_COUNT_HEADER, "")
    if retry.isdigit():  # the openai and anthropic SDKs number their retries
        attributes["oracle.llm.retry_attempt"] = int(retry)
    return attributes


class _CallTrace:
    """Relays one upstream response and completes its span when the response has been sent."""

    def __init__(
        self,
        span: trace.Span,
        call: LLMCall | None,
        request: Request,
        provider: str,
        upstreams: Mapping[str, str],
        prices: PriceTable,
        started_ns: int,
    ) -> None:
        self._span = span
        self._call = call
        self._request = request
        self._provider = provider
        self._upstreams = upstreams
        self._prices = prices
        self._started_ns = started_ns

    async def relay(self, upstream: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        """Yield the upstream body as it arrives, reading usage on the way."""
        call = self._call
        streamed = "text/event-stream" in upstream.headers.get("content-type", "")
        accumulator = StreamAccumulator(call) if call and streamed else None
        whole: list[bytes] = []
        complete = False
        try:
            async for chunk in upstream.content.iter_any():
                if accumulator is not None:
                    accumulator.feed(chunk)
                elif call is not None:
                    whole.append(chunk)
                yield chunk
            complete = True
        finally:
            upstream.release()
            self._finish(upstream.status, upstream.headers, accumulator, b"".join(whole), complete)

    def _finish(
        self,
        status: int,
        headers: CIMultiDictProxy[str],
        accumulator: StreamAccumulator | None,
        body: bytes,
        complete: bool,
    ) -> None:
        call, span = self._call, self._span
        if call is not None:
            if accumulator is not None:
                call.status_code = status
                accumulator.finish()
                if accumulator.first_token_ns is not None:
                    ttft = (accumulator.first_token_ns - self._started_ns) / 1e9
                    span.set_attribute("oracle.llm.time_to_first_token_s", ttft)
            else:
                finish_call(call, status, headers, body)
            cost = self._prices.cost_usd(
                call.provider,
                call.response_model or call.request_model,
                input_tokens=call.prompt_tokens,
                output_tokens=call.output_tokens,
                cache_read_tokens=call.cache_read_tokens,
                cache_creation_tokens=call.cache_creation_tokens,
            )
            if cost is not None:
                span.set_attribute("oracle.llm.cost_usd", cost)
            elif call.input_tokens is not None or call.output_tokens is not None:
                span.set_attribute("oracle.llm.unpriced", True)
            if call.response_model:
                span.update_name(f"{call.operation} {call.response_model}")
        span.set_attributes(_base_attributes(call, self._request, self._provider, self._upstreams))
        span.set_attribute("http.response.status_code", status)
        if status >= 400:
            span.set_status(Status(StatusCode.ERROR, f"upstream answered {status}"))
        elif not complete:
            span.set_attribute("error.type", CLIENT_DISCONNECTED)
            span.set_status(Status(StatusCode.ERROR, "the client went away mid-response"))
        span.end()
