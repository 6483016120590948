"""GenAI attributes on the HTTP client spans of LLM calls, with no change to the calling code.

`instrument_llm_http` turns on OpenTelemetry's httpx and httpx2 instrumentation (the OpenAI 3.x
and Anthropic 2.x SDKs use httpx2) through subclasses of its instrumentors that route each
request: one that `oracle_monitor.genai.classify` recognises as an LLM API call takes a lean
path of ours (`oracle_monitor.instrumentation.llm_span`), every other request the stock
instrumentor's code, unchanged. An LLM span is named ``"{operation} {model}"``, has the HTTP
attributes the instrumentor would give it (in its ``OTEL_SEMCONV_STABILITY_OPT_IN`` mode, with
its header-capture and excluded-URL settings; its HTTP duration metric is not recorded for LLM
requests) and the GenAI attributes of `oracle_monitor.genai.LLMCall.attributes`; every attempt
(retries included) is its own span, and a 429 span says ``oracle.llm.rate_limited`` and
``oracle.llm.retry_after_s``.

Why not the stock request path for LLM calls. Measured with ``bench/llm_instrumentation.py``
(CPU time of the calling thread, the real SDKs against the in-process local provider, all
modes side by side), the stock instrumentor alone costs 210-390 µs per call: more than half of
it normalises every request's and response's headers into a dict even when none is captured
(the OpenAI SDK sends 17), and it parses the URL again; our former hooks on top of it (a second
transport wrapper, ``span.end`` deferred by shadowing it, attributes set three times) made it
320-620 µs. Configuration does not help: no setting turns the normalisation off, the
semantic-convention mode only changes attribute names, and 0.66b2 is the newest release. So
the subclasses keep the instrumentor's setup (tracer, scope, settings, uninstrumentation) and
its code for plain HTTP, and give LLM requests a lean path that starts the span with all its
request attributes at once, owns its end and sets the response's attributes in one call, and
parses a stream only up to its first token and then its closing events: about half the stock
instrumentor's cost, and no parse per chunk of a long stream. Its span is the SDK's own
(`Tracer.start_span`, public API only). The figures are in docs/benchmarks.md.

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
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` (read per call), as redacted JSON.
Request headers are never copied onto LLM spans unless the instrumentor is told to capture
them (``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST``); then Authorization and
API-key headers read ``[REDACTED]``.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from opentelemetry.instrumentation.httpx import (
    HTTPX2ClientInstrumentor,
    HTTPXClientInstrumentor,
    _BaseHTTPXClientInstrumentor,
)
from opentelemetry.sdk.trace import TracerProvider

from oracle_monitor.genai import classify
from oracle_monitor.instrumentation.llm_span import (
    CAPTURE_CONTENT_ENV,
    AsyncBody,
    SyncBody,
    send,
    send_async,
)

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "LLMHTTPX2ClientInstrumentor",
    "LLMHTTPXClientInstrumentor",
    "instrument_llm_http",
    "uninstrument_llm_http",
]

log = logging.getLogger(__name__)

_BODIES: dict[ModuleType, tuple[type[Any], type[Any]]] = {}  # module -> (sync, async) body


def _bodies(module: Any) -> tuple[type[Any], type[Any]]:
    """Body classes that are also the module's own ``SyncByteStream``/``AsyncByteStream``."""
    bodies = _BODIES.get(module)
    if bodies is None:
        bodies = _BODIES[module] = (
            type("SyncLLMBody", (SyncBody, module.SyncByteStream), {}),
            type("AsyncLLMBody", (AsyncBody, module.AsyncByteStream), {}),
        )
    return bodies


def _llm_kind(request: Any, module: Any) -> tuple[str, str] | None:
    if not isinstance(request, module.Request):
        return None
    return classify(request.method, request.url.path)


class _LLMRouting:
    """Sends LLM API requests down the lean path, all others down the stock one."""

    _instance = None  # BaseInstrumentor keeps one instance per class: not the parent's
    _is_instrumented_by_opentelemetry = False

    @staticmethod
    def _handle_request_wrapper(
        wrapped: Any, instance: Any, args: Any, kwargs: Any, **options: Any
    ) -> Any:
        request = args[0] if args else kwargs.get("request")
        kind = _llm_kind(request, options["module"])
        if kind is None:
            return _BaseHTTPXClientInstrumentor._handle_request_wrapper(
                wrapped, instance, args, kwargs, **options
            )
        body = _bodies(options["module"])[0]
        return send(wrapped, args, kwargs, request, kind, options, body)

    @staticmethod
    async def _handle_async_request_wrapper(
        wrapped: Any, instance: Any, args: Any, kwargs: Any, **options: Any
    ) -> Any:
        request = args[0] if args else kwargs.get("request")
        kind = _llm_kind(request, options["module"])
        if kind is None:
            return await _BaseHTTPXClientInstrumentor._handle_async_request_wrapper(
                wrapped, instance, args, kwargs, **options
            )
        body = _bodies(options["module"])[1]
        return await send_async(wrapped, args, kwargs, request, kind, options, body)


class LLMHTTPXClientInstrumentor(_LLMRouting, HTTPXClientInstrumentor):
    """`HTTPXClientInstrumentor` whose LLM API requests become GenAI spans."""


class LLMHTTPX2ClientInstrumentor(_LLMRouting, HTTPX2ClientInstrumentor):
    """`HTTPX2ClientInstrumentor` whose LLM API requests become GenAI spans."""


_PAIRS: tuple[tuple[type[Any], type[Any]], ...] = (
    (LLMHTTPXClientInstrumentor, HTTPXClientInstrumentor),
    (LLMHTTPX2ClientInstrumentor, HTTPX2ClientInstrumentor),
)


def instrument_llm_http(tracer_provider: TracerProvider | None = None) -> None:
    """Trace the LLM calls made through httpx and httpx2 with GenAI attributes.

    Every HTTP request through either library gets a CLIENT span, as with the stock
    instrumentors; LLM API requests get the GenAI span described in this module.
    ``tracer_provider`` defaults to the global one. Idempotent: a second call while
    instrumented does nothing. A library that the stock instrumentor already instruments is
    left as it is, without LLM attributes (logged).
    """
    for ours, stock in _PAIRS:
        if stock._module is None or ours().is_instrumented_by_opentelemetry:
            continue
        if stock().is_instrumented_by_opentelemetry:
            log.warning(
                "%s is already instrumented; its LLM spans get no GenAI attributes",
                stock._module_name,
            )
            continue
        ours().instrument(tracer_provider=tracer_provider)


def uninstrument_llm_http() -> None:
    """Undo `instrument_llm_http`. Idempotent."""
    for ours, _ in _PAIRS:
        if ours().is_instrumented_by_opentelemetry:
            ours().uninstrument()
