"""One LLM HTTP attempt as one CLIENT span, from the request being sent to the body's end.

What `oracle_monitor.instrumentation.llm_http` does with a request that
`oracle_monitor.genai.classify` recognises. `begin` reads the request body, starts the span
(the SDK's own, through the public `Tracer.start_span`) with the HTTP attributes the stock
instrumentor would give it (in the semantic-convention mode, header capture and excluded URLs
of `HTTPSettings`) plus the GenAI ones, and injects its context into the request with
`opentelemetry.propagate.inject`. `send` then calls the transport inside
`suppress_http_instrumentation`, so the stock instrumentor's wrapper beneath adds no second
span. `LLMSpan.respond` puts a pass-through stream in place of ``response.stream``: each chunk
reaches the client the moment the client asks for it, unchanged. A JSON body is kept for
parsing (a whole response, which the client buffers anyway; at most 16 MiB). A stream's chunks
are fed to a `StreamAccumulator` until its first token (its id, model, input usage and time to
first token are known by then); after that they are only kept, unparsed, in a bounded deque of
its last 256 chunks, so past the first token a chunk costs what a pass-through generator does.
When the body ends or is closed (or dropped), `LLMSpan.finish` parses the closing events in
that tail (usage, finish reason), sets the response's attributes in one call and ends the
span. With content capture on, or a compressed body, every chunk is parsed.

Kept lean (each step costs CPU in the caller's thread on every LLM call): the span is not made
current during the transport call (nothing below it makes spans), headers are only looked at
when capture is configured, and all response attributes are set at once. No HTTP duration
metric is recorded for LLM requests: their span has the duration.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.utils import (
    is_http_instrumentation_enabled,
    suppress_http_instrumentation,
)
from opentelemetry.propagate import inject
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.http import redact_url

from oracle_monitor.genai import LLMCall, StreamAccumulator, finish_call, start_call
from oracle_monitor.instrumentation.http_settings import HTTPSettings
from oracle_monitor.model import AttributeValue

log = logging.getLogger(__name__)

_INFERENCE_OPS = frozenset({"chat", "text_completion", "embeddings", "generate_content"})
_MAX_JSON_BODY = 16 << 20
_TAIL_CHUNKS = 256  # a stream's last chunks kept for its closing events (at most 16 MiB)
#: Response header of an LLM proxy whose own span records the call's usage (ours sends it).
USAGE_RECORDED_HEADER = "x-oracle-usage-recorded"
USAGE_REPORTED_BY = "oracle.llm.usage_reported_by"


@dataclass(frozen=True, slots=True)
class Route:
    """How an instrumented transport traces its LLM requests."""

    tracer: Tracer
    settings: HTTPSettings
    body: type[Any]  # the pass-through stream class (`SyncBody` or `AsyncBody` based)


class LLMSpan:
    """The span of one attempt and what its response has said so far."""

    __slots__ = (
        "accumulator",
        "broken",
        "call",
        "chunks",
        "decoder",
        "done",
        "extra",
        "headers",
        "new",
        "old",
        "parent",
        "size",
        "span",
        "start_ns",
        "status",
        "tail",
        "usage_here",
        "version",
    )

    def __init__(
        self,
        call: LLMCall,
        usage_here: bool,
        span: Any,
        settings: HTTPSettings,
        parent: Any = None,
    ) -> None:
        self.call, self.usage_here, self.span = call, usage_here, span
        self.parent = parent  # the GenAI span that reports the usage, if not this one
        self.old, self.new = settings.old_names, settings.new_names
        self.start_ns = time.monotonic_ns()
        self.done = False
        self.status = 0
        self.version = ""
        self.headers: Mapping[str, str] = {}
        self.extra: dict[str, Any] = {}  # captured response headers
        self.accumulator: StreamAccumulator | None = None
        self.chunks: list[bytes] | None = None
        self.size = 0
        self.decoder: Any = None  # zlib decompressor for a gzip/deflate body
        self.broken = False
        self.tail: deque[bytes] | None = None  # a stream's chunks since its first token

    def respond(self, response: Any, route: Route) -> None:
        """Response headers are in: keep what the span needs and route the body through us."""
        if not self.span.is_recording():
            self.done = True
            self.span.end()
            return
        headers = response.headers
        self.status, self.headers, self.version = response.status_code, headers, ""
        if headers.get(USAGE_RECORDED_HEADER) == "proxy":
            self.usage_here = False  # decided before the body: a stream's too
            self.span.set_attribute(USAGE_REPORTED_BY, "proxy")
            if self.parent is not None:  # e.g. the Anthropic SDK's span, open around attempts
                self.parent.set_attribute(USAGE_REPORTED_BY, "proxy")
        if self.new:
            self.version = response.http_version.replace("HTTP/", "")
        self.extra = route.settings.response_header_attributes(headers)
        encoding = headers.get("content-encoding", "").lower()
        if encoding in ("gzip", "deflate"):
            self.decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)
        elif encoding not in ("", "identity"):
            self.broken = True  # br/zstd: pass through, record only what headers say
        if "text/event-stream" in headers.get("content-type", ""):
            self.accumulator = StreamAccumulator(self.call)
        else:
            self.chunks = []
        response.stream = route.body(response.stream, self)

    def fail(self, error: BaseException) -> None:
        """The transport raised: record it and end the span (as the instrumentor would)."""
        self.done = True
        span = self.span
        if span.is_recording():
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            span.set_attribute("error.type", type(error).__qualname__)
        span.end()

    def sink(self) -> Callable[[bytes], None] | None:
        """What each chunk of the body goes to (None: nothing to look at)."""
        if self.broken:
            return None
        if self.decoder is None and self.accumulator is not None:
            return self.accumulator.feed  # the common stream: no layer in between
        return self.feed

    def watch(self) -> StreamAccumulator | None:
        """The stream whose first token ends chunk-by-chunk parsing (None: parse every chunk).

        After the first token, a stream's chunks only matter for what its last events say
        (usage, finish reason), so they are kept, unparsed, in a bounded `tail` (the last
        `_TAIL_CHUNKS`), and `finish` parses the events there that can still matter. Not when
        content is captured (every delta's text is needed) or the body is compressed.
        """
        if self.decoder is None and not self.call.capture_content:
            return self.accumulator
        return None

    def keep_tail(self) -> Callable[[bytes], None]:
        """Start keeping the stream's chunks in `tail`; what to give each one."""
        self.tail = deque(maxlen=_TAIL_CHUNKS)
        return self.tail.append

    def feed(self, chunk: bytes) -> None:
        """One chunk of the body, as the client reads it (decoded, parsed or kept)."""
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

    def broke(self) -> None:
        """A chunk could not be parsed: pass the rest through untouched."""
        log.debug("could not parse an LLM response body", exc_info=True)
        self.broken = True

    def finish(self) -> None:
        """The body ended, was closed or dropped: set what it said and end the span (once)."""
        if self.done:
            return
        self.done = True
        call, span, status = self.call, self.span, self.status
        try:
            if self.accumulator is not None:
                call.status_code = status
                if self.tail is not None:
                    kept, self.tail = self.tail, None
                    self.accumulator.feed_tail(b"".join(kept), len(kept) < _TAIL_CHUNKS)
                self.accumulator.finish()
            else:
                finish_call(call, status, self.headers, b"".join(self.chunks or ()))
            attributes: dict[str, AttributeValue] = call.attributes(
                usage=self.usage_here, request=False
            )
            if self.accumulator is not None and self.accumulator.first_token_ns is not None:
                ttft = (self.accumulator.first_token_ns - self.start_ns) / 1e9
                attributes["oracle.llm.time_to_first_token_s"] = ttft
            if self.old:
                attributes["http.status_code"] = status
            if self.version:
                attributes["network.protocol.version"] = self.version
            if self.extra:
                attributes.update(self.extra)
            span.set_attributes(attributes)
            if status >= 400 or status < 100:  # a client span's error statuses
                span.set_status(Status(StatusCode.ERROR))
        except Exception:
            log.debug("could not record an LLM response", exc_info=True)
        span.end()


def begin(request: Any, kind: tuple[str, str], route: Route) -> LLMSpan | None:
    """Start the span of an LLM request and inject its context; None when not to be traced."""
    if not is_http_instrumentation_enabled():
        return None
    settings = route.settings
    url = request.url
    full = str(url)
    if settings.excluded(full):
        return None
    if url.userinfo or url.query:
        full = redact_url(full)
    try:
        body = request.content
    except Exception:  # a streamed request body that was not read
        body = b""
    call = start_call(kind[0], kind[1], body, capture_content=settings.capture_content)
    current = trace.get_current_span()
    usage_here = not _parent_reports_usage(current)
    attributes: dict[str, Any] = dict(call.attributes(usage=False))
    method = request.method
    if settings.old_names:
        attributes["http.method"] = method
        attributes["http.url"] = full
    if settings.new_names:
        attributes["http.request.method"] = method
        attributes["url.full"] = full
        if url.host:
            attributes["server.address"] = attributes["network.peer.address"] = url.host
        if url.port:
            attributes["server.port"] = attributes["network.peer.port"] = url.port
    if settings.request_headers:
        attributes.update(settings.request_header_attributes(request.headers))
    if not usage_here:
        attributes[USAGE_REPORTED_BY] = "parent"
    name = f"{call.operation} {call.request_model}" if call.request_model else call.operation
    span = route.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
    inject(request.headers, context=trace.set_span_in_context(span))
    return LLMSpan(call, usage_here, span, settings, None if usage_here else current)


def send(
    wrapped: Callable[..., Any],
    args: Any,
    kwargs: Any,
    request: Any,
    kind: tuple[str, str],
    route: Route,
) -> Any:
    """``HTTPTransport.handle_request`` for an LLM request (``wrapped``: the next one down)."""
    state = begin(request, kind, route)
    if state is None:
        return wrapped(*args, **kwargs)
    try:
        with suppress_http_instrumentation():  # no stock span beneath ours
            response = wrapped(*args, **kwargs)
    except BaseException as error:
        state.fail(error)
        raise
    state.respond(response, route)
    return response


async def send_async(
    wrapped: Callable[..., Any],
    args: Any,
    kwargs: Any,
    request: Any,
    kind: tuple[str, str],
    route: Route,
) -> Any:
    """``AsyncHTTPTransport.handle_async_request`` for an LLM request."""
    state = begin(request, kind, route)
    if state is None:
        return await wrapped(*args, **kwargs)
    try:
        with suppress_http_instrumentation():
            response = await wrapped(*args, **kwargs)
    except BaseException as error:
        state.fail(error)
        raise
    state.respond(response, route)
    return response


def _parent_reports_usage(parent: Any) -> bool:
    """Whether the current span is a GenAI inference span that records this call's usage."""
    if not parent.is_recording():
        return False
    attributes: Any = getattr(parent, "attributes", None) or {}
    return attributes.get("gen_ai.operation.name") in _INFERENCE_OPS


class SyncBody:
    """Pass-through response stream that shows each chunk to its `LLMSpan`."""

    def __init__(self, inner: Any, state: LLMSpan) -> None:
        self._inner, self._state = inner, state

    def __iter__(self) -> Any:
        state = self._state
        inner = iter(self._inner)
        sink, keep = state.sink(), None
        if sink is not None:
            watch = state.watch()
            for chunk in inner:
                try:
                    sink(chunk)
                except Exception:  # never let a bad body break the application's read
                    state.broke()
                    sink = None
                yield chunk
                if sink is None:
                    break
                if watch is not None and watch.first_token_ns is not None:
                    keep = state.keep_tail()
                    break
        if keep is None:
            yield from inner
        else:
            for chunk in inner:
                keep(chunk)
                yield chunk
        state.finish()

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._state.finish()

    def __del__(self) -> None:
        self._state.finish()


class AsyncBody:
    """Async twin of `SyncBody`."""

    def __init__(self, inner: Any, state: LLMSpan) -> None:
        self._inner, self._state = inner, state

    async def __aiter__(self) -> Any:
        state = self._state
        inner = self._inner.__aiter__()
        sink, keep = state.sink(), None
        if sink is not None:
            watch = state.watch()
            async for chunk in inner:
                try:
                    sink(chunk)
                except Exception:  # never let a bad body break the application's read
                    state.broke()
                    sink = None
                yield chunk
                if sink is None:
                    break
                if watch is not None and watch.first_token_ns is not None:
                    keep = state.keep_tail()
                    break
        if keep is None:
            async for chunk in inner:
                yield chunk
        else:
            async for chunk in inner:
                keep(chunk)
                yield chunk
        state.finish()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._state.finish()

    def __del__(self) -> None:
        self._state.finish()
