"""The LLM proxy, driven by the real `openai` and `anthropic` SDKs.

The upstream is `oracle_monitor.demo.llm_provider`, the local provider of the OpenAI and Anthropic
wire protocols (no hosted LLM can be reached here). Responses and streams must come back
unchanged; each upstream attempt must leave one span with tokens and cost; credentials must
appear nowhere but upstream.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
import uvicorn
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from oracle_monitor.demo.llm_payloads import sse_chunks
from oracle_monitor.demo.llm_provider import LLMProvider, running_llm_provider
from oracle_monitor.processing.pricing import load_prices
from oracle_monitor.proxy import LLMProxy
from tests.integration.conftest import StartServer
from tests.integration.oracle_server import free_port

pytestmark = pytest.mark.integration

OPENAI_KEY = "sk-proj-ProxyTestSecretKey0123456789"
ANTHROPIC_KEY = "sk-ant-api03-ProxyTestSecretKey0123456789"


@contextmanager
def running_proxy(
    upstream: LLMProvider, provider: TracerProvider | None = None
) -> Iterator[tuple[str, InMemorySpanExporter]]:
    """The proxy in a background thread, its spans kept in memory (and sent to ``provider``'s
    other processors when one is given)."""
    spans = InMemorySpanExporter()
    provider = provider or TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    proxy = LLMProxy(
        openai_upstream=upstream.base_url,
        anthropic_upstream=upstream.base_url,
        prices=load_prices(),
        tracer=provider.get_tracer("test"),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(proxy.app, log_level="warning", access_log=False, loop="asyncio")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", spans
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def upstream() -> Iterator[LLMProvider]:
    with running_llm_provider() as fake:
        yield fake


@pytest.fixture
def proxy(upstream: LLMProvider) -> Iterator[tuple[str, InMemorySpanExporter]]:
    with running_proxy(upstream) as running:
        yield running


def finished(spans: InMemorySpanExporter, count: int) -> tuple[ReadableSpan, ...]:
    """The spans once ``count`` have ended (a span ends just after its response's last byte)."""
    deadline = time.monotonic() + 5
    while len(spans.get_finished_spans()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # and no more than that
    done = spans.get_finished_spans()
    assert len(done) == count, [span.name for span in done]
    return done


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def only_span(spans: InMemorySpanExporter) -> ReadableSpan:
    return finished(spans, 1)[0]


def no_secret_in(spans: InMemorySpanExporter) -> None:
    for span in spans.get_finished_spans():
        text = repr(attrs(span)) + span.name
        assert OPENAI_KEY not in text and ANTHROPIC_KEY not in text


def test_openai_chat_unchanged_and_traced(
    upstream: LLMProvider, proxy: tuple[str, InMemorySpanExporter]
) -> None:
    url, spans = proxy
    direct = openai.OpenAI(api_key=OPENAI_KEY, base_url=upstream.openai_base_url)
    via = openai.OpenAI(
        api_key=OPENAI_KEY, base_url=f"{url}/v1", default_headers={"x-oracle-agent": "research"}
    )
    messages: Any = [{"role": "user", "content": "Hello!"}]
    expected = direct.chat.completions.create(model="gpt-4o", messages=messages)
    got = via.chat.completions.create(model="gpt-4o", messages=messages)
    assert got.model_dump() == expected.model_dump()
    # The upstream saw the client's credentials but not our own header.
    assert upstream.requests[-1].headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert "x-oracle-agent" not in upstream.requests[-1].headers

    span = only_span(spans)
    attributes = attrs(span)
    assert span.name == f"chat {expected.model}"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.agent.name"] == "research"
    assert expected.usage is not None
    assert attributes["gen_ai.usage.input_tokens"] == expected.usage.prompt_tokens
    assert attributes["gen_ai.usage.output_tokens"] == expected.usage.completion_tokens
    cost = load_prices().cost_usd(
        "openai", expected.model, input_tokens=expected.usage.prompt_tokens,
        output_tokens=expected.usage.completion_tokens,
        cache_read_tokens=attributes.get("gen_ai.usage.cache_read.input_tokens"),
    )  # fmt: skip
    assert cost is not None
    assert attributes["oracle.llm.cost_usd"] == pytest.approx(cost)
    assert attributes["http.response.status_code"] == 200
    no_secret_in(spans)


def test_every_response_says_the_proxy_records_usage(
    upstream: LLMProvider, proxy: tuple[str, InMemorySpanExporter]
) -> None:
    url, _ = proxy
    direct = httpx.post(f"{upstream.base_url}/v1/chat/completions", json={"model": "gpt-4o"})
    assert "x-oracle-usage-recorded" not in direct.headers
    for path in ("/v1/chat/completions", "/v1/models", "/nowhere"):
        response = httpx.post(url + path, json={"model": "gpt-4o", "messages": []})
        assert response.headers.get_list("x-oracle-usage-recorded") == ["proxy"], path
    with httpx.stream(
        "POST", f"{url}/v1/chat/completions",
        json={"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "x"}]},
    ) as streamed:  # fmt: skip
        assert streamed.headers["content-type"].startswith("text/event-stream")
        assert streamed.headers["x-oracle-usage-recorded"] == "proxy"
        streamed.read()


def test_anthropic_messages_unchanged_and_traced(
    upstream: LLMProvider, proxy: tuple[str, InMemorySpanExporter]
) -> None:
    url, spans = proxy
    direct = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=upstream.base_url)
    via = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=url)
    messages: Any = [{"role": "user", "content": "Hello, Claude"}]
    expected = direct.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=messages)
    got = via.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=messages)
    assert got.model_dump() == expected.model_dump()
    # anthropic 2.x sends its key as a bearer token (1.x used x-api-key); either is forwarded.
    seen = upstream.requests[-1].headers
    assert ANTHROPIC_KEY in (seen.get("x-api-key"), seen.get("authorization", "")[7:])

    attributes = attrs(only_span(spans))
    assert attributes["gen_ai.provider.name"] == "anthropic"
    usage = expected.usage  # the span counts the whole prompt, cache reads and writes included
    assert attributes["gen_ai.usage.input_tokens"] == usage.input_tokens + (
        usage.cache_read_input_tokens or 0
    ) + (usage.cache_creation_input_tokens or 0)
    assert attributes["gen_ai.usage.output_tokens"] == expected.usage.output_tokens
    assert attributes["oracle.llm.cost_usd"] > 0
    no_secret_in(spans)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_streams_pass_through_unchanged_and_undelayed(
    upstream: LLMProvider, proxy: tuple[str, InMemorySpanExporter], provider: str
) -> None:
    url, spans = proxy
    upstream.chunk_delay_s = 0.05
    if provider == "openai":
        path, headers = "/v1/chat/completions", {"authorization": f"Bearer {OPENAI_KEY}"}
        body: dict[str, Any] = {
            "model": "gpt-4o", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "Hi"}],
        }  # fmt: skip
    else:
        path = "/v1/messages"
        headers = {"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01"}
        body = {
            "model": "claude-haiku-4-5", "max_tokens": 64, "stream": True,
            "messages": [{"role": "user", "content": "Hi"}],
        }  # fmt: skip
    expected = sse_chunks(path, body)
    received: list[bytes] = []
    arrivals: list[float] = []
    started = time.perf_counter()
    with httpx.stream("POST", url + path, json=body, headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for chunk in response.iter_raw():
            received.append(chunk)
            arrivals.append(time.perf_counter() - started)
    assert b"".join(received) == b"".join(expected)
    # Chunk by chunk: the first arrived well before the last (the fake waits 50 ms each).
    assert arrivals[0] < arrivals[-1] - 0.05 * (len(expected) - 2)

    attributes = attrs(only_span(spans))
    assert attributes["gen_ai.usage.output_tokens"] > 0
    assert 0 < attributes["oracle.llm.time_to_first_token_s"] < arrivals[-1]


def test_a_caller_leaving_mid_stream_leaves_a_client_disconnected_span(
    upstream: LLMProvider, proxy: tuple[str, InMemorySpanExporter]
) -> None:
    """A caller killed mid-answer (an OOM-killed agent): the span says the client went away,
    which the causal chain tells from a failed LLM call."""
    url, spans = proxy
    upstream.chunk_delay_s = 0.05
    upstream.stream_parts = ["Hi"] * 100  # five seconds of stream if read to the end
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    started = time.monotonic()
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        first = next(response.iter_raw())
    assert first.startswith(b"data: ")
    span = only_span(spans)
    assert time.monotonic() - started < 4  # ended when the caller left, not with the stream
    assert attrs(span)["error.type"] == "client_disconnected"
    assert attrs(span)["http.response.status_code"] == 200
    assert not span.status.is_ok and span.status.description == "the client went away mid-response"


def test_rate_limits_pass_through_and_each_attempt_is_a_span(
    upstream: LLMProvider, proxy: tuple[str, InMemorySpanExporter]
) -> None:
    url, spans = proxy
    upstream.fail_next(1, retry_after="0")
    client = openai.OpenAI(api_key=OPENAI_KEY, base_url=f"{url}/v1", max_retries=2)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    first, second = finished(spans, 2)
    limited = attrs(first)
    assert limited["http.response.status_code"] == 429
    assert limited["oracle.llm.rate_limited"] is True
    assert limited["oracle.llm.retry_after_s"] == 0.0
    assert attrs(second)["http.response.status_code"] == 200
    assert (limited["oracle.llm.retry_attempt"], attrs(second)["oracle.llm.retry_attempt"]) == (
        0,
        1,
    )

    upstream.fail_next(1, retry_after="7")
    raw = httpx.post(
        f"{url}/v1/chat/completions", json={"model": "gpt-4o", "messages": []},
        headers={"authorization": f"Bearer {OPENAI_KEY}"},
    )  # fmt: skip
    assert raw.status_code == 429
    assert raw.headers["retry-after"] == "7"
    assert raw.json()["error"]["type"] == "requests"  # the provider's own error body


def test_proxy_spans_join_the_callers_trace(
    upstream: LLMProvider, proxy: tuple[str, InMemorySpanExporter]
) -> None:
    url, spans = proxy
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
        headers={"traceparent": f"00-{trace_id}-{parent_id}-01"},
    )
    span = only_span(spans)
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None and format(span.parent.span_id, "016x") == parent_id


def test_unreachable_upstream_is_502_and_a_failed_span() -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    dead = LLMProvider(base_url=f"http://127.0.0.1:{free_port()}")
    with running_proxy(dead) as (url, spans):
        response = httpx.post(f"{url}/v1/chat/completions", json={"model": "gpt-4o"})
        assert response.status_code == 502
        assert response.headers["x-oracle-usage-recorded"] == "proxy"
        span = only_span(spans)
        assert not span.status.is_ok
        assert "Connect" in attrs(span)["error.type"]


def test_proxy_command_sends_priced_spans_to_the_server_and_keeps_no_keys(
    start_server: StartServer, upstream: LLMProvider, tmp_path: Path
) -> None:
    server = start_server()
    port = free_port()
    log = tmp_path / "proxy.log"
    with log.open("wb") as output:
        proxy = subprocess.Popen(
            [sys.executable, "-m", "oracle_monitor", "proxy", "--port", str(port),
             "--openai-upstream", upstream.base_url, "--anthropic-upstream", upstream.base_url],
            env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{server.grpc_target}",
                 "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_BSP_SCHEDULE_DELAY": "100"},
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            for _ in range(200):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            client = openai.OpenAI(api_key=OPENAI_KEY, base_url=f"http://127.0.0.1:{port}/v1")
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "x"}]
            )
            claude = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=f"http://127.0.0.1:{port}")
            claude.messages.create(
                model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}]
            )
            deadline = time.monotonic() + 20
            costs: dict[str, Any] = {}
            while time.monotonic() < deadline:
                costs = server.api("/api/v1/costs", group_by="provider").json()
                if costs["total"]["requests"] >= 2:
                    break
                time.sleep(0.1)
        finally:
            proxy.terminate()
            proxy.wait(20)
    providers = {group["key"]: group for group in costs["groups"]}
    assert set(providers) == {"openai", "anthropic"}
    assert all(group["cost_usd"] > 0 for group in providers.values())
    assert all(group["tokens"]["input"] > 0 for group in providers.values())
    server.stop()
    for path in [*server.data_dir.rglob("*"), log, server.log_path]:
        if path is not None and path.is_file():
            content = path.read_bytes()
            assert OPENAI_KEY.encode() not in content, path
            assert ANTHROPIC_KEY.encode() not in content, path
