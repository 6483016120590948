"""GenAI attributes on the HTTP client spans of LLM calls, with no change to the calling code.

`instrument_llm_http` turns on OpenTelemetry's stock httpx and httpx2 instrumentors (the
OpenAI 3.x and Anthropic 2.x SDKs use httpx2) through their public ``instrument()``, and wraps
the same transport methods (``HTTPTransport.handle_request``,
``AsyncHTTPTransport.handle_async_request``) once more, outside the stock wrapper. A request
that `oracle_monitor.genai.classify` does not recognise as an LLM API call goes straight on to
the stock wrapper and gets its span. An LLM API request gets ours
(`oracle_monitor.instrumentation.llm_span`), and the stock wrapper beneath is told, through
the public `suppress_http_instrumentation`, to add none. An LLM span is named
``"{operation} {model}"``, has the HTTP attributes the stock instrumentor would give it (in
the ``OTEL_SEMCONV_STABILITY_OPT_IN`` mode, with the header-capture and excluded-URL settings,
all read when instrumenting: `oracle_monitor.instrumentation.http_settings`; no HTTP duration
metric for LLM requests) and the GenAI attributes of `oracle_monitor.genai.LLMCall.attributes`;
its instrumentation scope is this module. Every attempt (retries included) is its own span,
and a 429 span says ``oracle.llm.rate_limited`` and ``oracle.llm.retry_after_s``.

The body. The usage of a streamed call is only in its last event, so the span of an LLM call
stays open while the client reads the body, through a pass-through stream: each chunk reaches
the client the moment it asks for it, unchanged. When the body ends or is closed (or dropped),
the attributes are set and the span ends, so its duration is the whole call, as the GenAI
conventions ask. A body the application never finishes ends its span when the stream is
garbage-collected.

Double counting. The Anthropic SDK emits its own ``anthropic.messages.create`` span (scope
``com.anthropic.sdk.python``, kind CLIENT, ``gen_ai.operation.name=chat``) around all attempts
of a call, and sets ``gen_ai.usage.*`` on it; the HTTP requests run with it as the current
span. Rule: if the span current when the request is sent is a recording GenAI inference span
(``gen_ai.operation.name`` is chat, text_completion, embeddings or generate_content: the
Anthropic SDK's, an LLM proxy's or another library's), that span reports the usage; our HTTP
span then carries no ``gen_ai.usage.*`` attributes and says
``oracle.llm.usage_reported_by=parent``. Likewise, a response with the header
``x-oracle-usage-recorded: proxy`` comes through an LLM proxy whose own span records the
usage (Oracle Monitor's proxy sends it on every response): our span still has the HTTP and
GenAI attributes, status and 429 details, but no ``gen_ai.usage.*``, and says
``oracle.llm.usage_reported_by=proxy`` (decided when the response's headers arrive, before a
stream's body); the stores' cost and LLM-problem queries leave such a span's 429 or error to
the proxy's span too. When a parent span reports the usage (the Anthropic SDK's, still open
while its attempts run), it is marked ``oracle.llm.usage_reported_by=proxy`` as well: its
``gen_ai.usage.*`` attributes stay as the SDK set them, but the stores derive no token counts
or cost from a span so marked, so the proxy's span alone counts the call. Otherwise the HTTP
span carries the usage. Both count ``gen_ai.usage.input_tokens`` the same way: the whole
prompt, cache reads and writes included (see `oracle_monitor.genai`).

Content. Prompts and completions are recorded only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` (read when instrumented, as
OpenTelemetry's GenAI instrumentations read it), as redacted JSON.
Request headers are never copied onto LLM spans unless the instrumentor is told to capture
them (``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST``); then Authorization and
API-key headers read ``[REDACTED]``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor, HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider

from oracle_monitor import __version__
from oracle_monitor.genai import classify
from oracle_monitor.instrumentation.http_settings import CAPTURE_CONTENT_ENV, HTTPSettings
from oracle_monitor.instrumentation.llm_span import (
    AsyncBody,
    Route,
    SyncBody,
    send,
    send_async,
)

__all__ = ["CAPTURE_CONTENT_ENV", "instrument_llm_http", "uninstrument_llm_http"]

log = logging.getLogger(__name__)

#: The libraries instrumented: import name and the stock instrumentor's class.
LIBRARIES: tuple[tuple[str, type[HTTPXClientInstrumentor | HTTPX2ClientInstrumentor]], ...] = (
    ("httpx", HTTPXClientInstrumentor),
    ("httpx2", HTTPX2ClientInstrumentor),
)


class _SyncHook:
    """Our wrapper of ``HTTPTransport.handle_request`` (wrapt's signature)."""

    __slots__ = ("on", "request_type", "route")

    def __init__(self, module: Any, route: Route) -> None:
        self.request_type: type[Any] = module.Request
        self.route = route
        self.on = True  # off: pass every request through (when it could not be removed)

    def __call__(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        request = args[0] if args else kwargs.get("request")
        kind = self.kind(request)
        if kind is None:
            return wrapped(*args, **kwargs)
        return send(wrapped, args, kwargs, request, kind, self.route)

    def kind(self, request: Any) -> tuple[str, str] | None:
        """``(provider, operation)`` of an LLM API request, None for any other."""
        if not self.on or not isinstance(request, self.request_type):
            return None
        return classify(request.method, request.url.path)


class _AsyncHook(_SyncHook):
    """Our wrapper of ``AsyncHTTPTransport.handle_async_request``."""

    __slots__ = ()

    async def __call__(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        request = args[0] if args else kwargs.get("request")
        kind = self.kind(request)
        if kind is None:
            return await wrapped(*args, **kwargs)
        return await send_async(wrapped, args, kwargs, request, kind, self.route)


@dataclass
class _Patch:
    """One transport method we wrapped, and our wrapper (to remove it, or turn it off)."""

    owner: type[Any]
    name: str
    wrapper: wrapt.FunctionWrapper[..., Any]
    hook: _SyncHook

    def remove(self) -> bool:
        """Put back what we wrapped if ours is still outermost; else turn ours off. Removed?"""
        original = self.wrapper.__wrapped__
        if self.owner.__dict__.get(self.name) is self.wrapper:
            setattr(self.owner, self.name, original)
            return True
        self.hook.on = False
        return False


@dataclass
class _Instrumented:
    stock: HTTPXClientInstrumentor | HTTPX2ClientInstrumentor
    stock_is_ours: bool  # we turned the stock instrumentor on
    patches: list[_Patch]


_lock = threading.Lock()
_instrumented: dict[str, _Instrumented] = {}
_BODIES: dict[Any, tuple[type[Any], type[Any]]] = {}  # module -> (sync, async) body


def instrument_llm_http(tracer_provider: TracerProvider | None = None) -> None:
    """Trace the LLM calls made through httpx and httpx2 with GenAI attributes.

    Every HTTP request through either library gets a CLIENT span, as with the stock
    instrumentors; LLM API requests get the GenAI span described in this module.
    ``tracer_provider`` defaults to the global one. Idempotent: a second call while
    instrumented does nothing. A library that is not installed is skipped; one that the stock
    instrumentor already instruments is left as it is, without LLM attributes (logged).
    """
    with _lock:
        settings: HTTPSettings | None = None
        for name, stock_class in LIBRARIES:
            if name in _instrumented:
                continue
            try:
                module = import_module(name)
            except ImportError:
                continue
            stock = stock_class()
            if stock.is_instrumented_by_opentelemetry:
                log.warning(
                    "%s is already instrumented; its LLM spans get no GenAI attributes", name
                )
                continue
            if settings is None:
                settings = HTTPSettings.from_environment()
            tracer = trace.get_tracer(__name__, __version__, tracer_provider)
            stock.instrument(tracer_provider=tracer_provider)
            sync_route = Route(tracer, settings, _bodies(module)[0])
            async_route = Route(tracer, settings, _bodies(module)[1])
            _instrumented[name] = _Instrumented(
                stock,
                stock.is_instrumented_by_opentelemetry,
                [
                    _wrap(module.HTTPTransport, "handle_request", _SyncHook(module, sync_route)),
                    _wrap(
                        module.AsyncHTTPTransport,
                        "handle_async_request",
                        _AsyncHook(module, async_route),
                    ),
                ],
            )


def uninstrument_llm_http() -> None:
    """Undo `instrument_llm_http`. Idempotent.

    Our wrappers come off first, then the stock instrumentor's (which removes whatever wrapper
    is outermost). If something else has wrapped a transport method over ours since, ours is
    left in place but passes every request through, and the stock instrumentor stays on for
    that library (logged): removing it then would remove the other wrapper instead. For the
    same reason, turn the stock instrumentors off through this function, not their own
    ``uninstrument()``, which would remove our wrapper and leave theirs.
    """
    with _lock:
        for name, state in list(_instrumented.items()):
            del _instrumented[name]
            removed = [patch.remove() for patch in state.patches]
            if not all(removed):
                log.warning(
                    "%s: a transport method was wrapped again over ours; ours now passes "
                    "requests through and the stock instrumentor stays on",
                    name,
                )
            elif state.stock_is_ours:
                state.stock.uninstrument()


def _wrap(owner: type[Any], name: str, hook: _SyncHook) -> _Patch:
    wrapper = wrapt.wrap_function_wrapper(owner, name, hook)
    return _Patch(owner, name, wrapper, hook)


def _bodies(module: Any) -> tuple[type[Any], type[Any]]:
    """Body classes that are also the module's own ``SyncByteStream``/``AsyncByteStream``."""
    bodies = _BODIES.get(module)
    if bodies is None:
        bodies = _BODIES[module] = (
            type("SyncLLMBody", (SyncBody, module.SyncByteStream), {}),
            type("AsyncLLMBody", (AsyncBody, module.AsyncByteStream), {}),
        )
    return bodies
