"""A rate-limit storm, as a user's agent meets it: the real `openai` SDK, instrumented by
`instrument_llm_http`, calls a provider (the local fake of OpenAI's API,
`oracle_monitor.demo.llm_provider`: no hosted LLM can be reached here) that answers 429 with
``retry-after``; the SDK retries, gives up, and the task fails. The spans go over OTLP/gRPC
from the OpenTelemetry SDK's exporter to a running ``oracle-monitor serve``, whose LLM
collector reads them back as stored and raises the burst.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from oracle_monitor.demo.llm_provider import LLMProvider, running_llm_provider
from oracle_monitor.instrumentation.llm_http import instrument_llm_http, uninstrument_llm_http
from tests.integration.conftest import StartServer
from tests.integration.test_incidents import alert_kinds, chain_when

pytestmark = pytest.mark.integration

CALLS = 3
RETRIES = 2


@pytest.fixture
def upstream() -> Iterator[LLMProvider]:
    with running_llm_provider() as fake:
        yield fake


def test_a_rate_limit_storm_is_the_root_of_the_failed_task(
    start_server: StartServer, upstream: LLMProvider
) -> None:
    server = start_server(llm_poll_seconds="0.5")
    provider = TracerProvider(resource=Resource.create({"service.name": "research-agent"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=server.grpc_target, insecure=True))
    )
    instrument_llm_http(provider)
    attempts = CALLS * (RETRIES + 1)
    upstream.fail_next(attempts, retry_after="0")
    client = openai.OpenAI(
        api_key="sk-test-openai-0123456789", base_url=upstream.openai_base_url,
        max_retries=RETRIES,
    )  # fmt: skip
    tracer = provider.get_tracer("agent")
    try:
        with tracer.start_as_current_span(
            "invoke_agent research",
            attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "research",
                        "oracle.task.id": "task-storm"},
        ) as task:  # fmt: skip
            failures = 0
            for _ in range(CALLS):
                try:
                    client.chat.completions.create(
                        model="gpt-4o", messages=[{"role": "user", "content": "Plan the report"}]
                    )
                except openai.RateLimitError:
                    failures += 1
            task.set_status(trace.Status(trace.StatusCode.ERROR, "every call was rate limited"))
    finally:
        uninstrument_llm_http()
        provider.shutdown()
    assert failures == CALLS and upstream.counts["rate_limited"] == attempts

    body = chain_when(server, "task-storm", "task_failed")
    kinds = [link["kind"] for link in body["chain"]]
    assert kinds[0] == "llm_rate_limited" and kinds[-1] == "task_failed", body["summary"]
    limited = body["chain"][0]
    assert limited["entity"] == "model/openai/gpt-4o"
    assert len(limited["evidence"]["span_ids"]) == attempts  # every 429, in one step
    assert all(link["caused_by"] is not None for link in body["chain"][1:]), body
    told = f"Root cause: openai/gpt-4o answered 429 {attempts} times (rate limited"
    assert body["summary"].startswith(told), body["summary"]
    deadline = time.monotonic() + 20
    while "rate_limit_burst" not in alert_kinds(server):
        assert time.monotonic() < deadline, alert_kinds(server)
        time.sleep(0.3)
    # The burst event joins the 429 spans' step once the collector has raised it.
    body = chain_when(server, "task-storm", "task_failed")
    assert body["chain"][0]["evidence"]["event_ids"], body["chain"][0]
