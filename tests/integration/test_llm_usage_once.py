"""An auto-instrumented client calling through the LLM proxy: each call's usage counted once.

The real `openai` and `anthropic` SDKs, instrumented by `instrument_llm_http`, call the real
proxy, whose upstream is `oracle_monitor.demo.llm_provider` (no hosted LLM can be reached
here). The proxy's span records usage and cost; the client's span of the same attempt keeps
its HTTP and GenAI attributes but no usage (``oracle.llm.usage_reported_by=proxy``), so
``/api/v1/costs`` of a real ``oracle-monitor serve`` counts each call (and each 429) once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from oracle_monitor.demo.llm_provider import LLMProvider, running_llm_provider
from oracle_monitor.instrumentation.llm_http import instrument_llm_http, uninstrument_llm_http
from oracle_monitor.processing.conventions import derive
from tests.integration.conftest import StartServer
from tests.integration.test_llm_proxy import finished, running_proxy

pytestmark = pytest.mark.integration

OPENAI_KEY = "sk-test-openai-0123456789"
ANTHROPIC_KEY = "sk-ant-test-anthropic-0123456789"
USER: Any = [{"role": "user", "content": "Say hello"}]
CLAUDE = "claude-sonnet-4-20250514"
#: The local provider's usage: (whole prompt, output) per vendor, JSON and streamed alike.
USAGE = {"openai": (2006, 300), "anthropic": (2095 + 4102 + 2051, 503)}


@pytest.fixture
def upstream() -> Iterator[LLMProvider]:
    with running_llm_provider() as fake:
        yield fake


@pytest.fixture
def client_spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """The client's instrumentation, its spans kept in memory."""
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    instrument_llm_http(provider)
    yield provider, memory
    uninstrument_llm_http()


def call(
    vendor: str,
    base_url: str,
    stream: bool,
    agent: str | None = None,
    sdk_provider: TracerProvider | None = None,
) -> None:
    """One call through the vendor's SDK, its stream (if any) read to the end.

    With ``sdk_provider``, the Anthropic SDK emits its own call spans to it.
    """
    headers = {"x-oracle-agent": agent} if agent else {}
    if vendor == "openai":
        client = openai.OpenAI(
            api_key=OPENAI_KEY, base_url=f"{base_url}/v1", default_headers=headers, max_retries=2
        )
        if stream:
            chunks = client.chat.completions.create(
                model="o4-mini", messages=USER, stream=True,
                stream_options={"include_usage": True},
            )  # fmt: skip
            assert [c.usage for c in chunks if c.usage][-1].prompt_tokens == USAGE[vendor][0]
        else:
            usage = client.chat.completions.create(model="o4-mini", messages=USER).usage
            assert usage is not None and usage.completion_tokens == USAGE[vendor][1]
        return
    claude = anthropic.Anthropic(
        api_key=ANTHROPIC_KEY, base_url=base_url, default_headers=headers, max_retries=2,
        open_telemetry={"tracer_provider": sdk_provider} if sdk_provider else False,
    )  # fmt: skip
    if stream:
        with claude.messages.stream(model=CLAUDE, max_tokens=64, messages=USER) as events:
            assert events.get_final_message().usage.output_tokens == USAGE[vendor][1]
    else:
        message = claude.messages.create(model=CLAUDE, max_tokens=64, messages=USER)
        assert message.usage.output_tokens == USAGE[vendor][1]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def usage_of(span: ReadableSpan) -> dict[str, Any]:
    return {k: v for k, v in attrs(span).items() if k.startswith("gen_ai.usage.")}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_client_span_leaves_usage_to_the_proxy(
    upstream: LLMProvider,
    client_spans: tuple[TracerProvider, InMemorySpanExporter],
    vendor: str,
    stream: bool,
) -> None:
    _, memory = client_spans
    with running_proxy(upstream) as (url, proxy_spans):
        call(vendor, url, stream)
        (ours,) = finished(memory, 1)
        (theirs,) = finished(proxy_spans, 1)
    assert usage_of(ours) == {}
    assert attrs(ours)["oracle.llm.usage_reported_by"] == "proxy"
    assert attrs(ours)["gen_ai.provider.name"] == vendor
    assert attrs(ours)["gen_ai.response.model"] == attrs(theirs)["gen_ai.response.model"]
    assert attrs(ours)["http.response.status_code"] == 200
    assert "oracle.llm.cost_usd" not in attrs(ours)
    assert theirs.parent is not None and theirs.parent.span_id == ours.context.span_id
    tokens = usage_of(theirs)
    assert (tokens["gen_ai.usage.input_tokens"], tokens["gen_ai.usage.output_tokens"]) == (
        USAGE[vendor]
    )
    assert attrs(theirs)["oracle.llm.cost_usd"] > 0
    if stream:
        assert attrs(ours)["oracle.llm.time_to_first_token_s"] > 0

    # The same call without the proxy: the client's span has the usage.
    memory.clear()
    call(vendor, upstream.base_url, stream)
    (direct,) = finished(memory, 1)
    assert "oracle.llm.usage_reported_by" not in attrs(direct)
    assert usage_of(direct)["gen_ai.usage.input_tokens"] == USAGE[vendor][0]
    assert usage_of(direct)["gen_ai.usage.output_tokens"] == USAGE[vendor][1]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_anthropic_sdk_span_behind_the_proxy_is_marked(
    upstream: LLMProvider,
    client_spans: tuple[TracerProvider, InMemorySpanExporter],
    stream: bool,
) -> None:
    """The SDK's own span keeps its usage attributes but says the proxy records the call."""
    provider, memory = client_spans
    with running_proxy(upstream) as (url, proxy_spans):
        claude = anthropic.Anthropic(
            api_key=ANTHROPIC_KEY, base_url=url, max_retries=2,
            open_telemetry={"tracer_provider": provider},
        )  # fmt: skip
        if stream:
            with claude.messages.stream(model=CLAUDE, max_tokens=64, messages=USER) as events:
                events.get_final_message()
        else:
            claude.messages.create(model=CLAUDE, max_tokens=64, messages=USER)
        ours, sdk = sorted(finished(memory, 2), key=lambda span: span.start_time or 0)[::-1]
        finished(proxy_spans, 1)
    assert sdk.instrumentation_scope is not None
    assert "anthropic" in sdk.instrumentation_scope.name
    assert ours.parent is not None and ours.parent.span_id == sdk.context.span_id
    assert attrs(sdk)["oracle.llm.usage_reported_by"] == "proxy"
    assert attrs(ours)["oracle.llm.usage_reported_by"] == "proxy"
    assert usage_of(ours) == {}
    derived = derive(attrs(sdk), {})
    assert derived["provider"] == "anthropic"
    assert derived["input_tokens"] is None and derived["cost_usd"] is None


def test_rate_limited_attempts_keep_their_details(
    upstream: LLMProvider, client_spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    _, memory = client_spans
    upstream.fail_next(1, retry_after="0.05")
    with running_proxy(upstream) as (url, proxy_spans):
        call("openai", url, stream=False)
        limited, ok = finished(memory, 2)
        finished(proxy_spans, 2)
    assert attrs(limited)["oracle.llm.rate_limited"] is True
    assert attrs(limited)["oracle.llm.retry_after_s"] == 0.05
    assert attrs(limited)["http.response.status_code"] == 429
    assert attrs(limited)["error.type"] == "rate_limit_exceeded"
    assert not limited.status.is_ok
    for span in (limited, ok):
        assert usage_of(span) == {}
        assert attrs(span)["oracle.llm.usage_reported_by"] == "proxy"


def test_costs_count_each_call_once(start_server: StartServer, upstream: LLMProvider) -> None:
    server = start_server()
    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=server.grpc_target, insecure=True))
    )
    instrument_llm_http(provider)
    proxy_provider = TracerProvider()
    proxy_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=server.grpc_target, insecure=True))
    )
    try:
        with running_proxy(upstream, proxy_provider) as (url, proxy_spans):
            upstream.fail_next(1, retry_after="0")  # the first attempt: a 429, then a retry
            for vendor in ("openai", "anthropic"):
                for stream in (False, True):
                    # The Anthropic SDK's own spans go to the server too.
                    call(vendor, url, stream, agent="research", sdk_provider=provider)
            finished(proxy_spans, 5)
        call("openai", upstream.base_url, stream=False)  # no proxy: the client's span counts
        assert provider.force_flush(10_000) and proxy_provider.force_flush(10_000)
    finally:
        uninstrument_llm_http()
        provider.shutdown()
        proxy_provider.shutdown()
    groups: dict[Any, Any] = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        costs = server.api("/api/v1/costs", group_by="agent").json()
        groups = {group["key"]: group for group in costs["groups"]}
        if sum(group["requests"] for group in groups.values()) >= 6:
            break
        time.sleep(0.1)
    time.sleep(0.3)  # and no more arrive
    costs = server.api("/api/v1/costs", group_by="agent").json()
    groups = {group["key"]: group for group in costs["groups"]}
    assert set(groups) == {"research", None}
    research, direct = groups["research"], groups[None]
    assert (research["requests"], research["rate_limited"], research["errors"]) == (5, 1, 1)
    assert research["tokens"]["input"] == 2 * USAGE["openai"][0] + 2 * USAGE["anthropic"][0]
    assert research["tokens"]["output"] == 2 * USAGE["openai"][1] + 2 * USAGE["anthropic"][1]
    assert research["cost_usd"] > 0
    assert direct["requests"] == 1
    assert (direct["tokens"]["input"], direct["tokens"]["output"]) == USAGE["openai"]
    assert costs["total"]["requests"] == 6
    assert costs["total"]["rate_limited"] == 1
