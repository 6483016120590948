"""One LLM HTTP attempt as one CLIENT span, from the request being sent to the body's end.

The request path of `oracle_monitor.instrumentation.llm_http` for requests that
`oracle_monitor.genai.classify` recognises. `begin` reads the request body, starts the span
with the HTTP attributes the stock instrumentor would give it (in its semantic-convention mode,
with its header-capture and excluded-URL settings) plus the GenAI ones, and injects the trace
context into the request. `LLMSpan.respond` puts a pass-through stream in place of
``response.stream``: each chunk reaches the client the moment the client asks for it,
unchanged. A JSON body is kept for parsing (a whole response, which the client buffers anyway;
at most 16 MiB). A stream's chunks are fed to a `StreamAccumulator` until its first token (its
id, model, input usage and time to first token are known by then); after that they are only
kept, unparsed, in a bounded deque of its last 256 chunks, so past the first token a chunk
costs what a pass-through generator does. When the body ends or is closed (or dropped),
`LLMSpan.finish` parses the closing events in that tail (usage, finish reason), sets the
response's attributes in one call and ends the span. With content capture on, or a compressed
body, every chunk is parsed.

Kept lean on purpose (each step costs CPU in the caller's thread on every LLM call): the span
is not made current during the transport call (nothing below it makes spans; the context is
injected explicitly, the W3C headers written directly when those are the propagators),
headers are only looked at when capture is configured, and all response attributes are set
at once. The instrumentor's HTTP duration metric is not recorded for LLM
requests: their span has the duration.
"""

from __future__ import annotations

import logging
import os
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import baggage, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.instrumentation._semconv import _report_new, _report_old
from opentelemetry.instrumentation.httpx import _normalize_headers
from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled
from opentelemetry.propagate import get_global_textmap, inject
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.http import (
    get_custom_header_attributes,
    normalise_request_header_name,
    normalise_response_header_name,
    redact_url,
)

from oracle_monitor.genai import LLMCall, StreamAccumulator, finish_call, start_call
from oracle_monitor.model import AttributeValue

log = logging.getLogger(__name__)

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
SECRET_HEADERS = ("authorization", "x-api-key", "api-key")
_INFERENCE_OPS = frozenset({"chat", "text_completion", "embeddings", "generate_content"})
_MAX_JSON_BODY = 16 << 20
_TAIL_CHUNKS = 256  # a stream's last chunks kept for its closing events (at most 16 MiB)
#: Response header of an LLM proxy whose own span records the call's usage (ours sends it).
USAGE_RECORDED_HEADER = "x-oracle-usage-recorded"
USAGE_REPORTED_BY = "oracle.llm.usage_reported_by"


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
        self, call: LLMCall, usage_here: bool, span: Any, semconv: Any, parent: Any = None
    ) -> None:
        self.call, self.usage_here, self.span = call, usage_here, span
        self.parent = parent  # the GenAI span that reports the usage, if not this one
        self.old, self.new = _report_old(semconv), _report_new(semconv)
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

    def respond(self, response: Any, options: Mapping[str, Any], body_class: type[Any]) -> None:
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
        captured = options["captured_response_headers"]
        if captured:
            self.extra = get_custom_header_attributes(
                _normalize_headers(headers, options["module"]),
                captured,
                _sensitive(options),
                normalise_response_header_name,
            )
        encoding = headers.get("content-encoding", "").lower()
        if encoding in ("gzip", "deflate"):
            self.decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)
        elif encoding not in ("", "identity"):
            self.broken = True  # br/zstd: pass through, record only what headers say
        if "text/event-stream" in headers.get("content-type", ""):
            self.accumulator = StreamAccumulator(self.call)
        else:
            self.chunks = []
        response.stream = body_class(response.stream, self)

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


def begin(request: Any, kind: tuple[str, str], options: Mapping[str, Any]) -> LLMSpan | None:
    """Start the span of an LLM request and inject its context; None when not to be traced."""
    if not is_http_instrumentation_enabled():
        return None
    url = request.url
    full = str(url)
    excluded = options["excluded_urls"]
    if excluded and excluded.url_disabled(full):
        return None
    if url.userinfo or url.query:
        full = redact_url(full)
    try:
        body = request.content
    except Exception:  # a streamed request body that was not read
        body = b""
    capture = os.environ.get(CAPTURE_CONTENT_ENV, "").lower() == "true"
    call = start_call(kind[0], kind[1], body, capture_content=capture)
    current = trace.get_current_span()
    usage_here = not _parent_reports_usage(current)
    attributes: dict[str, Any] = dict(call.attributes(usage=False))
    semconv = options["sem_conv_opt_in_mode"]
    method = request.method
    if _report_old(semconv):
        attributes["http.method"] = method
        attributes["http.url"] = full
    if _report_new(semconv):
        attributes["http.request.method"] = method
        attributes["url.full"] = full
        if url.host:
            attributes["server.address"] = attributes["network.peer.address"] = url.host
        if url.port:
            attributes["server.port"] = attributes["network.peer.port"] = url.port
    captured = options["captured_request_headers"]
    if captured:
        attributes.update(
            get_custom_header_attributes(
                _normalize_headers(request.headers, options["module"]),
                captured,
                _sensitive(options),
                normalise_request_header_name,
            )
        )
    if not usage_here:
        attributes[USAGE_REPORTED_BY] = "parent"
    name = f"{call.operation} {call.request_model}" if call.request_model else call.operation
    tracer = options["tracer"]
    span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
    _inject(request.headers, span)
    return LLMSpan(call, usage_here, span, semconv, None if usage_here else current)


def send(
    wrapped: Any,
    args: Any,
    kwargs: Any,
    request: Any,
    kind: tuple[str, str],
    options: Mapping[str, Any],
    body_class: type[Any],
) -> Any:
    """``HTTPTransport.handle_request`` for an LLM request."""
    state = begin(request, kind, options)
    if state is None:
        return wrapped(*args, **kwargs)
    try:
        response = wrapped(*args, **kwargs)
    except BaseException as error:
        state.fail(error)
        raise
    state.respond(response, options, body_class)
    return response


async def send_async(
    wrapped: Any,
    args: Any,
    kwargs: Any,
    request: Any,
    kind: tuple[str, str],
    options: Mapping[str, Any],
    body_class: type[Any],
) -> Any:
    """``AsyncHTTPTransport.handle_async_request`` for an LLM request."""
    state = begin(request, kind, options)
    if state is None:
        return await wrapped(*args, **kwargs)
    try:
        response = await wrapped(*args, **kwargs)
    except BaseException as error:
        state.fail(error)
        raise
    state.respond(response, options, body_class)
    return response


def _is_w3c(textmap: Any) -> bool:
    """Whether ``textmap`` is W3C trace context, alone or with W3C baggage."""
    if type(textmap) is CompositePropagator:
        kinds = [type(part) for part in textmap._propagators]
    else:
        kinds = [type(textmap)]
    return kinds[:1] == [TraceContextTextMapPropagator] and set(kinds) <= {
        TraceContextTextMapPropagator,
        W3CBaggagePropagator,
    }


_w3c_checked: tuple[Any, bool] = (None, False)  # the global propagator last seen, `_is_w3c`


def _w3c_only(textmap: Any) -> bool:
    """`_is_w3c`, worked out again only when the global propagator changes."""
    global _w3c_checked
    if _w3c_checked[0] is not textmap:
        _w3c_checked = (textmap, _is_w3c(textmap))
    return _w3c_checked[1]


def _inject(headers: Any, span: Any) -> None:
    """Put the span's context in the request headers, as `opentelemetry.propagate.inject` would.

    With the default propagators (W3C trace context and baggage) and no baggage, that is the
    ``traceparent`` header (and ``tracestate`` when set): written directly, which saves most
    of the propagation API's cost in the caller's thread. Anything else goes through the API.
    """
    context = span.get_span_context()
    if not _w3c_only(get_global_textmap()) or baggage.get_all():
        inject(headers, context=trace.set_span_in_context(span))
        return
    headers["traceparent"] = (
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    )
    if context.trace_state:
        headers["tracestate"] = context.trace_state.to_header()


def _parent_reports_usage(parent: Any) -> bool:
    """Whether the current span is a GenAI inference span that records this call's usage."""
    if not parent.is_recording():
        return False
    attributes: Any = getattr(parent, "attributes", None) or {}
    return attributes.get("gen_ai.operation.name") in _INFERENCE_OPS


def _sensitive(options: Mapping[str, Any]) -> list[str]:
    """The instrumentor's sanitized header patterns plus the API-key headers, always."""
    return [*(options["sensitive_headers"] or ()), *SECRET_HEADERS]


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
