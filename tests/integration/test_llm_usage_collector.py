"""The LLM usage collector inside `oracle-monitor serve`, fed by spans from the SDK exporter."""

from __future__ import annotations

import time
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from tests.integration.conftest import StartServer

pytestmark = pytest.mark.integration

LLM = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"}


def test_bursts_quota_and_budget_become_events(start_server: StartServer) -> None:
    server = start_server(
        llm_poll_seconds="0.2", llm_rate_limit_burst="2", llm_budget_usd_per_hour="0.5"
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "research-agent"}))
    exporter = OTLPSpanExporter(endpoint=f"http://{server.grpc_target}", insecure=True)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    calls: list[dict[str, Any]] = [
        {"gen_ai.request.model": "gpt-4o", "http.response.status_code": 429,
         "oracle.llm.rate_limited": True, "error.type": "rate_limit_exceeded"},
        {"gen_ai.request.model": "gpt-4o", "http.response.status_code": 429,
         "oracle.llm.rate_limited": True, "error.type": "rate_limit_exceeded"},
        {"gen_ai.request.model": "gpt-4o", "http.response.status_code": 429,
         "error.type": "insufficient_quota"},
        # 1M output tokens of gpt-4o: $10, over the $0.50/h budget.
        {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1000,
         "gen_ai.usage.output_tokens": 1_000_000},
    ]  # fmt: skip
    for attributes in calls:
        with tracer.start_as_current_span(
            "chat gpt-4o",
            kind=SpanKind.CLIENT,
            attributes={**LLM, "gen_ai.agent.name": "research", **attributes},
        ):
            pass
    provider.shutdown()

    deadline = time.monotonic() + 20
    kinds: set[str] = set()
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(kinds) < 3:
        events = server.api("/api/v1/events", source="llm").json()["events"]
        kinds = {event["kind"] for event in events}
        time.sleep(0.2)
    assert kinds == {"rate_limit_burst", "quota_exhausted", "cost_over_budget"}
    burst = next(event for event in events if event["kind"] == "rate_limit_burst")
    assert burst["entity"] == "model/openai/gpt-4o"
    assert burst["attributes"]["gen_ai.agent.name"] == "research"

    llm = server.api("/api/v1/infra").json()["collectors"]["llm"]
    assert llm["health"]["status"] == "ok"
    by_model = {group["key"]: group for group in llm["state"]["by_model"]}
    # OpenAI answers an exhausted quota with a 429 too: every call but the last was refused.
    assert by_model["gpt-4o"]["requests"] == 4
    assert by_model["gpt-4o"]["rate_limited"] == 3
    assert llm["state"]["cost_last_hour_usd"] == pytest.approx(1000 * 2.5e-6 + 10.0)
    assert llm["state"]["rate_limit_bursts"] == ["model/openai/gpt-4o"]
