"""Spans sent by the real OpenTelemetry SDK exporters come back through the REST API.

The exporters are configured the way an agent configures them: only with
``OTEL_EXPORTER_OTLP_ENDPOINT`` and ``OTEL_EXPORTER_OTLP_PROTOCOL``.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from tests.integration.oracle_server import OracleServer

pytestmark = pytest.mark.integration


def exporter_from_environment(protocol: str) -> SpanExporter:
    """The exporter ``OTEL_EXPORTER_OTLP_PROTOCOL`` names, configured from the environment."""
    return GrpcSpanExporter() if protocol == "grpc" else HttpSpanExporter()


def send_agent_trace(protocol: str) -> tuple[str, dict[str, str]]:
    """Emit one agent task (task → LLM call, tool call) and flush; return trace id, span ids."""
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": "research-agent",
                "k8s.pod.name": "research-7d9f",
                "k8s.namespace.name": "agents",
            }
        )
    )
    provider.add_span_processor(BatchSpanProcessor(exporter_from_environment(protocol)))
    tracer = provider.get_tracer("tests.agent", "1.2.3")
    ids: dict[str, str] = {}
    with tracer.start_as_current_span(
        "agent.task",
        kind=SpanKind.CONSUMER,
        attributes={
            "gen_ai.agent.name": "research",
            "oracle.task.id": "task-42",
            "oracle.agent.reasoning": "Search three sources, then summarise. " * 5,
            "oracle.agent.tools_planned": ["web_search", "summarise"],
            "retry.attempt": 2,
            "score": 0.75,
            "cached": False,
            "token_budgets": [1000, 2000],
            "weights": [0.5, 1.5],
            "flags": [True, False],
        },
    ) as task:
        ids["task"] = format(task.get_span_context().span_id, "016x")
        with tracer.start_as_current_span(
            "chat gpt-4o",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 1200,
                "gen_ai.usage.output_tokens": 300,
            },
        ) as llm:
            ids["llm"] = format(llm.get_span_context().span_id, "016x")
        with tracer.start_as_current_span(
            "execute_tool web_search",
            links=[Link(llm.get_span_context(), {"link.reason": "uses answer"})],
        ) as tool:
            ids["tool"] = format(tool.get_span_context().span_id, "016x")
            tool.add_event("retry", {"attempt": 1})
            tool.set_status(Status(StatusCode.ERROR, "tool timed out"))
        trace_id = format(task.get_span_context().trace_id, "032x")
    assert provider.force_flush(10_000)
    provider.shutdown()
    return trace_id, ids


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_sdk_exporter_round_trip(
    server: OracleServer, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = server.grpc_port if protocol == "grpc" else server.http_port
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)

    trace_id, ids = send_agent_trace(protocol)
    body = server.wait_for_trace(trace_id, spans=3)

    spans: dict[str, dict[str, Any]] = {span["span_id"]: span for span in body["spans"]}
    assert set(spans) == set(ids.values())
    task, llm, tool = spans[ids["task"]], spans[ids["llm"]], spans[ids["tool"]]

    assert task["parent_span_id"] is None
    assert llm["parent_span_id"] == ids["task"] and tool["parent_span_id"] == ids["task"]
    assert task["kind"] == "CONSUMER" and llm["kind"] == "CLIENT"
    assert task["service_name"] == "research-agent"
    assert task["agent_name"] == "research" and task["task_id"] == "task-42"
    assert task["k8s"] == {"pod_name": "research-7d9f", "namespace": "agents"}
    # Attribute values keep their types.
    attributes = task["attributes"]
    assert attributes["retry.attempt"] == 2 and isinstance(attributes["retry.attempt"], int)
    assert attributes["score"] == 0.75
    assert attributes["cached"] is False
    assert attributes["token_budgets"] == [1000, 2000]
    assert attributes["weights"] == [0.5, 1.5]
    assert attributes["flags"] == [True, False]
    assert attributes["oracle.agent.tools_planned"] == ["web_search", "summarise"]
    # GenAI fields are derived, the originals kept.
    assert llm["provider"] == "openai" and llm["model"] == "gpt-4o-2024-08-06"
    assert llm["tokens"]["input"] == 1200 and llm["tokens"]["output"] == 300
    assert llm["attributes"]["gen_ai.request.model"] == "gpt-4o"
    # Priced at ingest from the shipped table: gpt-4o is $2.50 in and $10 out per 1M tokens.
    assert llm["cost_usd"] == pytest.approx(1200 * 2.5e-6 + 300 * 10e-6)
    assert task["cost_usd"] is None
    # Status, events, links, scope, resource, times.
    assert tool["status"] == {"code": "ERROR", "message": "tool timed out"}
    assert tool["events"][0]["name"] == "retry"
    assert tool["events"][0]["attributes"] == {"attempt": 1}
    assert tool["links"][0]["span_id"] == ids["llm"]
    assert tool["links"][0]["attributes"] == {"link.reason": "uses answer"}
    assert task["scope"] == {"name": "tests.agent", "version": "1.2.3"}
    assert task["resource"]["attributes"]["service.name"] == "research-agent"
    assert task["start_time"].endswith("Z") and task["duration_ms"] >= 0

    listing = server.api("/api/v1/traces", service="research-agent").json()["traces"]
    summary = next(item for item in listing if item["trace_id"] == trace_id)
    assert summary["root_name"] == "agent.task"
    assert summary["span_count"] == 3
    assert summary["has_error"] is True
    assert summary["total_tokens"] == 1500
    assert summary["services"] == ["research-agent"]

    costs = server.api("/api/v1/costs", group_by="model").json()
    assert costs["groups"][0]["key"] == "gpt-4o-2024-08-06"
    assert costs["groups"][0]["tokens"]["input"] == 1200
    assert costs["total"]["cost_usd"] == pytest.approx(0.006)
