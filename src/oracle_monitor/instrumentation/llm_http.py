"""GenAI attributes on the HTTP client spans of LLM calls, with no change to the calling code.

`instrument_llm_http` turns on OpenTelemetry's httpx and httpx2 instrumentation (the OpenAI 3.x
and Anthropic 2.x SDKs use httpx2) with hooks that recognise LLM API requests
(`oracle_monitor.genai.classify`). Each such HTTP span is renamed ``"{operation} {model}"`` and
gets the GenAI attributes of `oracle_monitor.genai.LLMCall.attributes`; every attempt (retries
included) is its own span, and a 429 span says ``oracle.llm.rate_limited`` and
``oracle.llm.retry_after_s``.

The body. The instrumentor ends its span as soon as the response *headers* are in, before the
client reads any of the body, and the usage of a streamed call is only in its last event. So
for LLM spans the response hook defers the span's end, and a wrapper around the transport puts a
pass-through stream in place of ``response.stream``: each chunk goes to the client the moment
the client asks for it, unchanged, after being fed to a `StreamAccumulator` (SSE) or kept for
JSON parsing (a whole response, which the client buffers anyway; at most 16 MiB). When the body
ends or is closed (or dropped), the attributes are set and the span ends, so its duration is
the whole call, as the GenAI conventions ask. A body the application never finishes ends its
span when the stream is garbage-collected.

Double counting. The Anthropic SDK emits its own ``anthropic.messages.create`` span (scope
``com.anthropic.sdk.python``, kind CLIENT, ``gen_ai.operation.name=chat``) around all attempts
of a call, and sets ``gen_ai.usage.*`` on it; the HTTP requests run with it as the current
span. Rule: if the span current when the request is sent is a recording GenAI inference span
(``gen_ai.operation.name`` is chat, text_completion, embeddings or generate_content: the
Anthropic SDK's, an LLM proxy's or another library's), that span reports the usage; our HTTP
span then carries no ``gen_ai.usage.*`` attributes and says
``oracle.llm.usage_reported_by=parent``. Otherwise the HTTP span carries the usage. Both
count ``gen_ai.usage.input_tokens`` the same way: the whole prompt, cache reads and writes
included (see `oracle_monitor.genai`).

Content. Prompts and completions are recorded only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` (read per call), as redacted JSON.
Request headers are never copied onto spans; should the httpx instrumentor have been told to
capture them, Authorization and API-key headers are overwritten with ``[REDACTED]``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import zlib
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor, HTTPXClientInstrumentor
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.sdk.trace import TracerProvider
from wrapt import wrap_function_wrapper

from oracle_monitor.genai import LLMCall, StreamAccumulator, classify, finish_call, start_call

log = logging.getLogger(__name__)

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_INFERENCE_OPS = frozenset({"chat", "text_completion", "embeddings", "generate_content"})
_MAX_JSON_BODY = 16 << 20
_SECRET_HEADER_ATTRS = tuple(
    f"http.request.header.{name}" for name in ("authorization", "x-api-key", "api-key")
)
_CURRENT: ContextVar[_LLMSpan | None] = ContextVar("oracle_llm_span", default=None)


@dataclass(slots=True)
class _LLMSpan:
    """One LLM HTTP attempt, from the request being sent to its body's end."""

    call: LLMCall
    usage_here: bool
    start_ns: int
    span: Any = None  # the instrumentor's span, once its request hook ran
    real_end: Callable[..., None] | None = None  # span.end, while the end is deferred
    end_requested: bool = False
    done: bool = False
    status: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    accumulator: StreamAccumulator | None = None
    chunks: list[bytes] | None = None
    size: int = 0
    decoder: Any = None  # zlib decompressor for a gzip/deflate body
    broken: bool = False

    def feed(self, chunk: bytes) -> None:
        if self.broken or not chunk:
            return
        try:
            if self.decoder is not None:
                chunk = self.decoder.decompress(chunk)
            if self.accumulator is not None:
                self.accumulator.feed(chunk)
            elif self.chunks is not None:
                self.size += len(chunk)
                if self.size > _MAX_JSON_BODY:
                    self.chunks = None
                else:
                    self.chunks.append(chunk)
        except Exception:  # never let a bad body break the application's read
            log.debug("could not parse an LLM response body", exc_info=True)
            self.broken = True

    def finish(self) -> None:
        """Set the attributes the body gave; end the span if the instrumentor is done with it."""
        if self.done:
            return
        self.done = True
        if self.real_end is None:  # the span was not deferred: it has ended, leave it
            return
        call, span = self.call, self.span
        try:
            if self.accumulator is not None:
                call.status_code = self.status
                self.accumulator.finish()
                first = self.accumulator.first_token_ns
                if first is not None:
                    span.set_attribute(
                        "oracle.llm.time_to_first_token_s", (first - self.start_ns) / 1e9
                    )
            else:
                finish_call(call, self.status, self.headers, b"".join(self.chunks or ()))
            span.set_attributes(call.attributes(usage=self.usage_here))
            attributes = getattr(span, "attributes", None) or {}
            for key in _SECRET_HEADER_ATTRS:
                if key in attributes:
                    span.set_attribute(key, ["[REDACTED]"])
        except Exception:
            log.debug("could not record an LLM response", exc_info=True)
        self._maybe_end()

    def deferred_end(self, end_time: int | None = None) -> None:
        """Stands in for ``span.end`` while the body is still being read."""
        self.end_requested = True
        self._maybe_end()

    def _maybe_end(self) -> None:
        if self.done and self.end_requested and self.real_end is not None:
            real_end, self.real_end = self.real_end, None
            with contextlib.suppress(AttributeError):
                del self.span.end  # the instance attribute that shadowed the method
            real_end()


def _parent_reports_usage(parent: Any) -> bool:
    """Whether the current span is a GenAI inference span that records this call's usage."""
    if not parent.is_recording():
        return False
    attributes: Any = getattr(parent, "attributes", None) or {}
    return attributes.get("gen_ai.operation.name") in _INFERENCE_OPS


def _begin(request: Any) -> _LLMSpan | None:
    kind = classify(request.method, request.url.path)
    if kind is None:
        return None
    try:
        body = request.content
    except Exception:  # a streamed request body that was not read
        body = b""
    capture = os.environ.get(CAPTURE_CONTENT_ENV, "").lower() == "true"
    call = start_call(kind[0], kind[1], body, capture_content=capture)
    usage_here = not _parent_reports_usage(trace.get_current_span())
    return _LLMSpan(call, usage_here, time.monotonic_ns())


def _request_hook(span: Any, request: Any) -> None:
    state = _CURRENT.get()
    if state is None or state.span is not None or not span.is_recording():
        return
    state.span = span
    call = state.call
    span.update_name(
        f"{call.operation} {call.request_model}" if call.request_model else call.operation
    )
    span.set_attributes(call.attributes(usage=False))
    if not state.usage_here:
        span.set_attribute("oracle.llm.usage_reported_by", "parent")


def _response_hook(span: Any, request: Any, response: Any) -> None:
    state = _CURRENT.get()
    if state is None or state.span is not span or state.real_end is not None:
        return
    state.status = response.status_code
    state.headers = response.headers
    state.real_end = span.end
    span.end = state.deferred_end


async def _async_request_hook(span: Any, request: Any) -> None:
    _request_hook(span, request)


async def _async_response_hook(span: Any, request: Any, response: Any) -> None:
    _response_hook(span, request, response)


def _attach(state: _LLMSpan, response: Any, body_class: type[Any]) -> None:
    """Route the response body through ``state``, or finish now when there is nothing to read."""
    if state.real_end is None:  # the hooks did not take this span (not recording, excluded URL)
        return
    headers = response.headers
    encoding = headers.get("content-encoding", "").lower()
    if encoding in ("gzip", "deflate"):
        state.decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)
    elif encoding not in ("", "identity"):
        state.broken = True  # br/zstd: pass through, record only what headers say
    if "text/event-stream" in headers.get("content-type", ""):
        state.accumulator = StreamAccumulator(state.call)
    else:
        state.chunks = []
    response.stream = body_class(response.stream, state)


def _abandon(state: _LLMSpan) -> None:
    state.chunks = None
    state.finish()


class _SyncBody:
    """Pass-through response stream that shows each chunk to its `_LLMSpan`."""

    def __init__(self, inner: Any, state: _LLMSpan) -> None:
        self._inner, self._state = inner, state

    def __iter__(self) -> Any:
        for chunk in self._inner:
            self._state.feed(chunk)
            yield chunk
        self._state.finish()

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._state.finish()

    def __del__(self) -> None:
        self._state.finish()


class _AsyncBody:
    """Async twin of `_SyncBody`."""

    def __init__(self, inner: Any, state: _LLMSpan) -> None:
        self._inner, self._state = inner, state

    async def __aiter__(self) -> Any:
        async for chunk in self._inner:
            self._state.feed(chunk)
            yield chunk
        self._state.finish()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._state.finish()

    def __del__(self) -> None:
        self._state.finish()


def _sync_wrapper(
    body_class: type[Any], wrapped: Any, instance: Any, args: Any, kwargs: Any
) -> Any:
    request = args[0] if args else kwargs.get("request")
    state = _begin(request) if request is not None else None
    if state is None:
        return wrapped(*args, **kwargs)
    token = _CURRENT.set(state)
    try:
        response = wrapped(*args, **kwargs)
    except BaseException:
        _abandon(state)
        raise
    finally:
        _CURRENT.reset(token)
    _attach(state, response, body_class)
    return response


async def _async_wrapper(
    body_class: type[Any], wrapped: Any, instance: Any, args: Any, kwargs: Any
) -> Any:
    request = args[0] if args else kwargs.get("request")
    state = _begin(request) if request is not None else None
    if state is None:
        return await wrapped(*args, **kwargs)
    token = _CURRENT.set(state)
    try:
        response = await wrapped(*args, **kwargs)
    except BaseException:
        _abandon(state)
        raise
    finally:
        _CURRENT.reset(token)
    _attach(state, response, body_class)
    return response


_INSTRUMENTORS: tuple[tuple[str, Any], ...] = (
    ("httpx", HTTPXClientInstrumentor),
    ("httpx2", HTTPX2ClientInstrumentor),
)
_installed: list[tuple[Any, Any]] = []  # (instrumentor, module) we instrumented


def instrument_llm_http(tracer_provider: TracerProvider | None = None) -> None:
    """Trace the LLM calls made through httpx and httpx2 with GenAI attributes.

    Instruments both libraries with OpenTelemetry's httpx instrumentor (every HTTP request gets
    a CLIENT span, as usual) plus the LLM hooks. ``tracer_provider`` defaults to the global one.
    Idempotent: a second call while instrumented does nothing. A library whose instrumentor was
    already turned on by someone else is left as it is, without LLM attributes (logged).
    """
    if _installed:
        return
    for module_name, instrumentor_class in _INSTRUMENTORS:
        instrumentor = instrumentor_class()
        module = instrumentor_class._module
        if module is None:
            continue
        if instrumentor.is_instrumented_by_opentelemetry:
            log.warning(
                "%s is already instrumented; its LLM spans get no GenAI attributes", module_name
            )
            continue
        instrumentor.instrument(
            tracer_provider=tracer_provider,
            request_hook=_request_hook,
            response_hook=_response_hook,
            async_request_hook=_async_request_hook,
            async_response_hook=_async_response_hook,
        )
        sync_body = type("SyncLLMBody", (_SyncBody, module.SyncByteStream), {})
        async_body = type("AsyncLLMBody", (_AsyncBody, module.AsyncByteStream), {})
        # Outside the instrumentor's wrappers, so the current span is the caller's and the
        # response object can have its stream replaced.
        wrap_function_wrapper(
            module, "HTTPTransport.handle_request", partial(_sync_wrapper, sync_body)
        )
        wrap_function_wrapper(
            module, "AsyncHTTPTransport.handle_async_request", partial(_async_wrapper, async_body)
        )
        _installed.append((instrumentor, module))


def uninstrument_llm_http() -> None:
    """Undo `instrument_llm_http` (our wrappers first, then the instrumentors). Idempotent."""
    while _installed:
        instrumentor, module = _installed.pop()
        unwrap(module.HTTPTransport, "handle_request")
        unwrap(module.AsyncHTTPTransport, "handle_async_request")
        instrumentor.uninstrument()
