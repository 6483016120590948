"""The real OpenAI and Anthropic clients against the fake upstream, with LLM instrumentation on."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest
import wrapt
from opentelemetry import baggage, propagate, trace
from opentelemetry.context import attach, detach
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator, default_setter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from oracle_monitor.demo.llm_payloads import sse_chunks
from oracle_monitor.demo.llm_provider import LLMProvider, running_llm_provider
from oracle_monitor.instrumentation import llm_http, setup
from oracle_monitor.instrumentation.llm_http import instrument_llm_http, uninstrument_llm_http
from tests.otel_reset import reset_instrumentation

OPENAI_KEY = "sk-test-SECRET-openai-0123456789"
ANTHROPIC_KEY = "sk-ant-test-SECRET-anthropic-0123456789"
USER: Any = [{"role": "user", "content": "Say hello"}]
CLAUDE = "claude-sonnet-4-20250514"
STOCK_SCOPE = "opentelemetry.instrumentation.httpx"


@pytest.fixture(scope="module")
def server() -> Iterator[LLMProvider]:
    with running_llm_provider() as upstream:
        yield upstream


@pytest.fixture
def upstream(server: LLMProvider) -> LLMProvider:
    server.requests.clear()
    server.fail_next(0)
    server.chunk_delay_s = 0.0
    server.stream_parts = None
    return server


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    tracer_provider = TracerProvider()
    instrument_llm_http(tracer_provider)
    yield tracer_provider
    uninstrument_llm_http()


@pytest.fixture
def exporter(provider: TracerProvider) -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield memory
    for span in memory.get_finished_spans():  # every test: no API key anywhere on a span
        text = json.dumps({k: str(v) for k, v in (span.attributes or {}).items()}) + span.name
        assert "SECRET" not in text


def oai(upstream: LLMProvider) -> openai.OpenAI:
    return openai.OpenAI(api_key=OPENAI_KEY, base_url=upstream.openai_base_url, max_retries=2)


def claude(upstream: LLMProvider, provider: TracerProvider | None) -> anthropic.Anthropic:
    telemetry: Any = {"tracer_provider": provider} if provider else False
    return anthropic.Anthropic(
        api_key=ANTHROPIC_KEY, base_url=upstream.base_url, max_retries=2, open_telemetry=telemetry
    )


def http_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """The HTTP client spans: the stock instrumentor's and our LLM ones."""
    return [
        s
        for s in exporter.get_finished_spans()
        if s.instrumentation_scope
        and s.instrumentation_scope.name in (STOCK_SCOPE, llm_http.__name__)
    ]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_openai_json_calls(upstream: LLMProvider, exporter: InMemorySpanExporter) -> None:
    client = oai(upstream)
    client.chat.completions.create(model="o4-mini", messages=USER)
    client.responses.create(model="gpt-4.1", input="Tell me a story")
    vector = client.embeddings.create(model="text-embedding-3-small", input="hello")
    assert vector.data[0].embedding[0] == pytest.approx(0.0023064255)
    chat, responses, embeddings = http_spans(exporter)
    assert chat.name == "chat o4-mini"
    assert attrs(chat) | {
        "gen_ai.provider.name": "openai",
        "gen_ai.response.model": "o4-mini-2025-04-16",
        "gen_ai.usage.input_tokens": 2006,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 1920,
        "gen_ai.usage.reasoning.output_tokens": 256,
        "gen_ai.response.finish_reasons": ("stop",),
    } == attrs(chat)
    assert responses.name == "chat gpt-4.1"
    assert attrs(responses)["gen_ai.usage.input_tokens"] == 1536
    assert attrs(responses)["gen_ai.usage.reasoning.output_tokens"] == 64
    assert embeddings.name == "embeddings text-embedding-3-small"
    assert attrs(embeddings)["gen_ai.operation.name"] == "embeddings"
    assert attrs(embeddings)["gen_ai.usage.input_tokens"] == 8
    assert "gen_ai.input.messages" not in attrs(chat)  # content capture is off by default


async def test_async_clients(upstream: LLMProvider, exporter: InMemorySpanExporter) -> None:
    client = openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=upstream.openai_base_url)
    await client.chat.completions.create(model="o4-mini", messages=USER)
    aclaude = anthropic.AsyncAnthropic(
        api_key=ANTHROPIC_KEY, base_url=upstream.base_url, open_telemetry=False
    )
    message = await aclaude.messages.create(model=CLAUDE, max_tokens=64, messages=USER)
    assert message.usage.input_tokens == 2095
    chat, messages = http_spans(exporter)
    assert attrs(chat)["gen_ai.usage.output_tokens"] == 300
    assert messages.name == f"chat {CLAUDE}"
    assert attrs(messages)["gen_ai.usage.input_tokens"] == 2095 + 4102 + 2051  # whole prompt
    assert attrs(messages)["gen_ai.usage.cache_creation.input_tokens"] == 2051


def test_plain_httpx_and_non_llm_requests(
    upstream: LLMProvider, exporter: InMemorySpanExporter
) -> None:
    with httpx.Client(base_url=upstream.base_url) as client:
        client.post("/v1/chat/completions", json={"model": "o4-mini", "messages": USER})
        client.get("/v1/models")
    llm, other = http_spans(exporter)
    assert llm.name == "chat o4-mini"
    assert attrs(llm)["gen_ai.usage.input_tokens"] == 2006
    assert other.name == "GET"
    assert not any(key.startswith(("gen_ai.", "oracle.")) for key in attrs(other))


STREAMS = [
    ("openai", "/v1/chat/completions", {"stream_options": {"include_usage": True}}),
    ("openai", "/v1/responses", {}),
    ("anthropic", "/v1/messages", {}),
]


@pytest.mark.parametrize(("vendor", "path", "extra"), STREAMS)
def test_stream_passes_through_unbuffered(
    upstream: LLMProvider,
    exporter: InMemorySpanExporter,
    vendor: str,
    path: str,
    extra: dict[str, Any],
) -> None:
    upstream.chunk_delay_s = 0.1
    expected = sse_chunks(path, extra)
    arrivals: list[tuple[float, bytes]] = []
    ended_early: list[ReadableSpan] = []
    start = time.monotonic()
    if vendor == "anthropic":
        manager: Any = claude(upstream, None).messages.with_streaming_response.create(
            model=CLAUDE,
            max_tokens=64,
            messages=USER,
            stream=True,
        )
    elif path == "/v1/responses":
        manager = oai(upstream).responses.with_streaming_response.create(
            model="gpt-4.1", input="hi", stream=True
        )
    else:
        manager = oai(upstream).chat.completions.with_streaming_response.create(
            model="o4-mini",
            messages=USER,
            stream=True,
            **extra,
        )
    with manager as response:
        for chunk in response.iter_bytes():
            arrivals.append((time.monotonic() - start, chunk))
            if len(arrivals) == 1:
                ended_early = list(http_spans(exporter))
    received_at = time.monotonic()
    assert b"".join(chunk for _, chunk in arrivals) == b"".join(expected)
    assert len(arrivals) >= len(expected) - 1  # chunks arrive as sent, not all at once
    total = 0.1 * (len(expected) - 1)  # the provider's pauses between chunks
    # Spread over the pauses as sent, not held back and delivered together (measured from the
    # first chunk, so that a slow machine's start-up does not count).
    assert arrivals[-1][0] - arrivals[0][0] > total / 2
    assert ended_early == []  # the span stays open while the body streams
    (span,) = http_spans(exporter)
    assert span.end_time is not None and span.start_time is not None
    duration = (span.end_time - span.start_time) / 1e9
    assert duration >= total * 0.9
    assert span.end_time / 1e9 <= time.time() - (time.monotonic() - received_at) + 0.05
    usage = {"/v1/chat/completions": 2006, "/v1/responses": 1536, "/v1/messages": 8248}[path]
    assert attrs(span)["gen_ai.usage.input_tokens"] == usage
    # At the first token, most of the stream's pauses before the end (not at the end).
    assert 0 < attrs(span)["oracle.llm.time_to_first_token_s"] < duration - total / 2


@pytest.mark.parametrize(("vendor", "path", "extra"), STREAMS)
def test_a_long_stream_is_read_once_and_ends_with_its_usage(
    upstream: LLMProvider,
    exporter: InMemorySpanExporter,
    vendor: str,
    path: str,
    extra: dict[str, Any],
) -> None:
    """Past its first token a stream is only kept, not parsed: its closing events still count."""
    upstream.stream_parts = [f" w{i}" for i in range(2000)]  # far more chunks than are kept
    texts: list[str] = []
    if vendor == "anthropic":
        for event in claude(upstream, None).messages.create(
            model=CLAUDE, max_tokens=64, messages=USER, stream=True
        ):
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                texts.append(event.delta.text)
    elif path == "/v1/responses":
        for item in oai(upstream).responses.create(model="gpt-4.1", input="hi", stream=True):
            if item.type == "response.output_text.delta":
                texts.append(item.delta)
    else:
        for chunk in oai(upstream).chat.completions.create(
            model="o4-mini", messages=USER, stream=True, **extra
        ):
            texts.extend(choice.delta.content or "" for choice in chunk.choices)
    assert "".join(texts) == "".join(upstream.stream_parts)
    (span,) = http_spans(exporter)
    usage = {"/v1/chat/completions": 2006, "/v1/responses": 1536, "/v1/messages": 8248}[path]
    assert attrs(span)["gen_ai.usage.input_tokens"] == usage
    assert attrs(span)["gen_ai.usage.output_tokens"] > 0
    reason = {"/v1/chat/completions": "stop", "/v1/responses": "completed"}.get(path, "end_turn")
    assert attrs(span)["gen_ai.response.finish_reasons"] == (reason,)
    assert attrs(span)["oracle.llm.time_to_first_token_s"] > 0


async def test_async_stream_parsed_by_sdk(
    upstream: LLMProvider, exporter: InMemorySpanExporter
) -> None:
    client = anthropic.AsyncAnthropic(
        api_key=ANTHROPIC_KEY, base_url=upstream.base_url, open_telemetry=False
    )
    async with client.messages.stream(model=CLAUDE, max_tokens=64, messages=USER) as stream:
        text = await stream.get_final_text()
    assert text == "Hello! How can I help?"
    (span,) = http_spans(exporter)
    assert attrs(span)["gen_ai.usage.output_tokens"] == 503
    assert attrs(span)["gen_ai.response.finish_reasons"] == ("end_turn",)


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_rate_limited_attempts(
    upstream: LLMProvider, exporter: InMemorySpanExporter, vendor: str
) -> None:
    upstream.fail_next(2, retry_after="0.05")
    if vendor == "openai":
        oai(upstream).chat.completions.create(model="o4-mini", messages=USER)
        error, usage = "rate_limit_exceeded", 2006
    else:
        claude(upstream, None).messages.create(model=CLAUDE, max_tokens=64, messages=USER)
        error, usage = "rate_limit_error", 8248
    first, second, last = http_spans(exporter)
    assert len(upstream.requests) == 3
    for span in (first, second):
        assert attrs(span)["oracle.llm.rate_limited"] is True
        assert attrs(span)["oracle.llm.retry_after_s"] == 0.05
        assert attrs(span)["error.type"] == error
        assert "gen_ai.usage.input_tokens" not in attrs(span)
    assert "oracle.llm.rate_limited" not in attrs(last)
    assert attrs(last)["gen_ai.usage.input_tokens"] == usage


@pytest.mark.parametrize("stream", [False, True])
def test_no_double_counting_with_anthropic_spans(
    upstream: LLMProvider,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    stream: bool,
) -> None:
    upstream.fail_next(1, retry_after="0.05")
    client = claude(upstream, provider)
    if stream:
        with client.messages.stream(model=CLAUDE, max_tokens=64, messages=USER) as events:
            events.get_final_text()
    else:
        client.messages.create(model=CLAUDE, max_tokens=64, messages=USER)
    spans = exporter.get_finished_spans()
    sdk = [s for s in spans if s.name == "anthropic.messages.create"]
    ours = http_spans(exporter)
    assert len(sdk) == 1 and len(ours) == 2
    # Both count the whole prompt, cache reads and writes included: 2095 + 4102 + 2051.
    assert sum(attrs(s).get("gen_ai.usage.input_tokens", 0) for s in spans) == 8248
    assert sum(attrs(s).get("gen_ai.usage.output_tokens", 0) for s in spans) == 503
    assert all(attrs(s)["oracle.llm.usage_reported_by"] == "parent" for s in ours)
    assert all(s.parent and s.parent.span_id == sdk[0].context.span_id for s in ours)
    assert attrs(ours[1])["gen_ai.response.id"] == "msg_013Zva2CMHLNnXjNJJKqJ2EF"


def test_content_capture(
    upstream: LLMProvider,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    leaky: Any = [{"role": "user", "content": f"debug: my key is {OPENAI_KEY}, Bearer abc.def"}]
    oai(upstream).chat.completions.create(model="o4-mini", messages=leaky)
    # Read when instrumented, as OpenTelemetry's GenAI instrumentations read it.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    oai(upstream).chat.completions.create(model="o4-mini", messages=leaky)
    uninstrument_llm_http()
    instrument_llm_http(provider)
    oai(upstream).chat.completions.create(model="o4-mini", messages=leaky)
    claude(upstream, None).messages.create(model=CLAUDE, max_tokens=9, messages=leaky)
    off, still_off, on, anthropic_on = http_spans(exporter)
    for span in (off, still_off):
        assert "gen_ai.input.messages" not in attrs(span)
        assert "gen_ai.output.messages" not in attrs(span)
    (message,) = json.loads(attrs(on)["gen_ai.input.messages"])
    assert message["parts"][0]["content"] == "debug: my key is [REDACTED], [REDACTED]"
    output = json.loads(attrs(on)["gen_ai.output.messages"])
    assert output[0]["parts"][0]["content"] == "Hello! How can I assist you today?"
    output = json.loads(attrs(anthropic_on)["gen_ai.output.messages"])
    assert output[0]["parts"][0]["content"] == "Hi! My name is Claude."
    assert OPENAI_KEY in upstream.requests[-2].body.decode()  # the key did reach the upstream


def test_instrument_is_idempotent_and_uninstrument_stops(
    upstream: LLMProvider, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    instrument_llm_http(provider)
    client = oai(upstream)
    client.chat.completions.create(model="o4-mini", messages=USER)
    assert len(http_spans(exporter)) == 1
    uninstrument_llm_http()
    client.chat.completions.create(model="o4-mini", messages=USER)
    assert len(http_spans(exporter)) == 1
    instrument_llm_http(provider)
    client.chat.completions.create(model="o4-mini", messages=USER)
    assert len(http_spans(exporter)) == 2


def test_trace_context_goes_upstream(upstream: LLMProvider, exporter: InMemorySpanExporter) -> None:
    oai(upstream).chat.completions.create(model="o4-mini", messages=USER)
    (span,) = http_spans(exporter)
    assert span.context is not None
    trace_id, span_id = f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"
    assert upstream.requests[-1].headers["traceparent"].startswith(f"00-{trace_id}-{span_id}-")
    assert attrs(span)["http.method"] == "POST"  # the stock instrumentor's HTTP attributes
    assert attrs(span)["http.url"] == upstream.openai_base_url + "/chat/completions"
    assert attrs(span)["http.status_code"] == 200


def test_an_unsampled_call_still_sends_its_trace_upstream(upstream: LLMProvider) -> None:
    memory = InMemorySpanExporter()
    tracer_provider = TracerProvider(sampler=ALWAYS_OFF)
    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    instrument_llm_http(tracer_provider)
    try:
        oai(upstream).chat.completions.create(model="o4-mini", messages=USER, stream=True)
    finally:
        uninstrument_llm_http()
    assert memory.get_finished_spans() == ()
    version, trace_id, span_id, flags = upstream.requests[-1].headers["traceparent"].split("-")
    assert version == "00" and not int(flags, 16) & 1  # the sampled bit is off
    assert int(trace_id, 16) and int(span_id, 16)


def test_baggage_and_other_propagators_go_upstream_too(
    upstream: LLMProvider, exporter: InMemorySpanExporter
) -> None:
    with use_context(baggage.set_baggage("tenant", "acme")):
        oai(upstream).chat.completions.create(model="o4-mini", messages=USER)
    assert upstream.requests[-1].headers["baggage"] == "tenant=acme"
    assert "traceparent" in upstream.requests[-1].headers
    before = propagate.get_global_textmap()
    propagate.set_global_textmap(CompositePropagator([JaegerStylePropagator()]))
    try:
        oai(upstream).chat.completions.create(model="o4-mini", messages=USER)
    finally:
        propagate.set_global_textmap(before)
    headers = upstream.requests[-1].headers
    span = http_spans(exporter)[-1]
    assert span.context is not None
    assert "traceparent" not in headers
    assert headers["uber-trace-id"] == f"{span.context.trace_id:032x}:{span.context.span_id:016x}"
    oai(upstream).chat.completions.create(model="o4-mini", messages=USER)
    assert "traceparent" in upstream.requests[-1].headers  # back to the default


class JaegerStylePropagator(TextMapPropagator):
    """A propagator that is not W3C's: its header alone must go upstream."""

    def extract(self, carrier: Any, context: Any = None, getter: Any = None) -> Any:
        return context

    def inject(self, carrier: Any, context: Any = None, setter: Any = default_setter) -> None:
        span_context = trace.get_current_span(context).get_span_context()
        value = f"{span_context.trace_id:032x}:{span_context.span_id:016x}"
        setter.set(carrier, "uber-trace-id", value)

    @property
    def fields(self) -> set[str]:
        return {"uber-trace-id"}


@contextmanager
def use_context(context: Any) -> Iterator[None]:
    token = attach(context)
    try:
        yield
    finally:
        detach(token)


def test_transport_error_ends_the_span(exporter: InMemorySpanExporter) -> None:
    client = openai.OpenAI(api_key=OPENAI_KEY, base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="o4-mini", messages=USER)
    (span,) = http_spans(exporter)
    assert span.name == "chat o4-mini"
    assert not span.status.is_ok
    assert attrs(span)["error.type"] == "ConnectError"
    assert [event.name for event in span.events] == ["exception"]


def test_captured_headers_hide_api_keys(
    upstream: LLMProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST", ".*")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE", "content-type")
    memory = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    instrument_llm_http(tracer_provider)  # the instrumentor reads the settings here
    try:
        oai(upstream).chat.completions.create(model="o4-mini", messages=USER)
        claude(upstream, None).messages.create(model=CLAUDE, max_tokens=9, messages=USER)
    finally:
        uninstrument_llm_http()
    chat, messages = http_spans(memory)
    for span in (chat, messages):
        assert attrs(span)["http.request.header.authorization"] == ("[REDACTED]",)
    assert attrs(chat)["http.request.header.x_stainless_lang"] == ("python",)
    assert attrs(chat)["http.response.header.content_type"] == ("application/json",)
    for span in (chat, messages):
        assert "SECRET" not in json.dumps({k: str(v) for k, v in attrs(span).items()})


def test_stock_instrumentor_already_on_is_left_alone(
    upstream: LLMProvider, caplog: pytest.LogCaptureFixture
) -> None:
    memory = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    stock = HTTPX2ClientInstrumentor()
    stock.instrument(tracer_provider=tracer_provider)
    try:
        instrument_llm_http(tracer_provider)
        oai(upstream).chat.completions.create(model="o4-mini", messages=USER)
    finally:
        uninstrument_llm_http()
        stock.uninstrument()
    (span,) = http_spans(memory)  # one span, not two
    assert span.name == "POST"
    assert "httpx2 is already instrumented" in caplog.text


def test_configure_instruments_the_llm_clients(
    upstream: LLMProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("K8S_POD_NAME", "research-0")
    memory = InMemorySpanExporter()
    reset_instrumentation()
    try:
        setup.configure("research-agent", span_exporter=memory)
        oai(upstream).chat.completions.create(model="o4-mini", messages=USER)
        assert setup.force_flush()
    finally:
        reset_instrumentation()
    (span,) = http_spans(memory)
    assert span.name == "chat o4-mini"
    assert attrs(span)["gen_ai.usage.output_tokens"] == 300
    assert span.resource.attributes["service.name"] == "research-agent"
    assert span.resource.attributes["k8s.pod.name"] == "research-0"


@contextmanager
def instrumented() -> Iterator[InMemorySpanExporter]:
    """`instrument_llm_http` with the environment as it is now, spans kept in memory."""
    memory = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    instrument_llm_http(tracer_provider)
    try:
        yield memory
    finally:
        uninstrument_llm_http()


@pytest.mark.parametrize("opt_in", ["http", "http/dup"])
def test_stable_http_attribute_names_when_opted_in(
    upstream: LLMProvider, monkeypatch: pytest.MonkeyPatch, opt_in: str
) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", f"database, {opt_in}")
    with instrumented() as memory:
        oai(upstream).chat.completions.create(model="o4-mini", messages=USER)
    (span,) = http_spans(memory)
    port = int(upstream.base_url.rsplit(":", 1)[1])
    assert attrs(span) | {
        "http.request.method": "POST",
        "url.full": upstream.openai_base_url + "/chat/completions",
        "server.address": "127.0.0.1",
        "server.port": port,
        "network.peer.port": port,
        "http.response.status_code": 200,
        "network.protocol.version": "1.1",
    } == attrs(span)
    old = {"http.method", "http.url", "http.status_code"}
    assert old <= set(attrs(span)) if opt_in == "http/dup" else not old & set(attrs(span))


def test_excluded_urls_are_not_traced(
    upstream: LLMProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_HTTPX_EXCLUDED_URLS", "/v1/chat/completions$")
    with instrumented() as memory:
        oai(upstream).chat.completions.create(model="o4-mini", messages=USER)
        oai(upstream).embeddings.create(model="text-embedding-3-small", input="hello")
    (span,) = http_spans(memory)  # neither ours nor the stock instrumentor's for the chat call
    assert span.name == "embeddings text-embedding-3-small"
    assert "traceparent" not in upstream.requests[-2].headers


def test_uninstrument_keeps_a_wrapper_put_over_ours(
    upstream: LLMProvider, caplog: pytest.LogCaptureFixture
) -> None:
    """Another tool wrapped the transport after us: uninstrumenting must not remove its wrapper."""
    transport = httpx2.HTTPTransport
    originals = dict(transport.__dict__), dict(httpx2.AsyncHTTPTransport.__dict__)
    seen: list[str] = []

    def other_tool(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        seen.append(args[0].url.path)
        return wrapped(*args, **kwargs)

    try:
        with instrumented() as memory:
            wrapt.wrap_function_wrapper(transport, "handle_request", other_tool)
        oai(upstream).chat.completions.create(model="o4-mini", messages=USER)
        assert seen == ["/v1/chat/completions"]  # the other tool's wrapper is still there
        assert "a transport method was wrapped again over ours" in caplog.text
        (span,) = http_spans(memory)  # ours passes requests through: the stock span alone
        assert span.name == "POST"
    finally:
        HTTPX2ClientInstrumentor().uninstrument()
        transport.handle_request = originals[0]["handle_request"]  # type: ignore[method-assign]
        httpx2.AsyncHTTPTransport.handle_async_request = originals[1]["handle_async_request"]  # type: ignore[method-assign]
    with instrumented() as memory:  # and all is as new afterwards
        oai(upstream).chat.completions.create(model="o4-mini", messages=USER)
    (span,) = http_spans(memory)
    assert span.name == "chat o4-mini"
