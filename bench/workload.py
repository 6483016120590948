"""Realistic agent traces as OTLP requests, shared by the benchmarks.

Each trace is one agent task of ten spans: the task, planning, three LLM calls with GenAI
attributes and token counts, two tool calls, a Kafka produce and consume, and a summary step,
with a ~200-character reasoning text on the reasoning spans.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

SPANS_PER_TRACE = 10
AGENTS = ("research", "writer", "analysis")
MODELS = (("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"), ("openai", "gpt-4.1"))
REASONING = (
    "The user asked for a comparison of three vendors. I will search each vendor's pricing "
    "page, extract the per-seat cost, normalise to annual billing, and flag any hidden fees "
    "before drafting the table for the writer agent."
)


def _kv(key: str, value: str | int | float | bool | list[str]) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    if isinstance(value, list):
        any_value = AnyValue()
        any_value.array_value.values.extend(AnyValue(string_value=item) for item in value)
        return KeyValue(key=key, value=any_value)
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _span(
    trace_id: bytes, parent: bytes, name: str, kind: Any, start: int, attrs: dict[str, Any]
) -> Span:
    return Span(
        trace_id=trace_id,
        span_id=os.urandom(8),
        parent_span_id=parent,
        name=name,
        kind=kind,
        start_time_unix_nano=start,
        end_time_unix_nano=start + random.randint(1_000_000, 900_000_000),
        attributes=[_kv(key, value) for key, value in attrs.items()],
    )


def agent_trace(number: int, start_ns: int) -> tuple[str, list[Span]]:
    """One ten-span agent task; returns the agent name and the spans."""
    agent = AGENTS[number % len(AGENTS)]
    provider, model = MODELS[number % len(MODELS)]
    trace_id = os.urandom(16)
    root = _span(
        trace_id,
        b"",
        "agent.task",
        Span.SPAN_KIND_CONSUMER,
        start_ns,
        {
            "gen_ai.agent.name": agent,
            "oracle.task.id": f"task-{number}",
            "messaging.system": "kafka",
            "messaging.destination.name": "tasks",
            "messaging.kafka.consumer.group": f"{agent}-agents",
        },
    )
    parent = root.span_id
    spans = [root]
    steps: list[tuple[str, Any, dict[str, Any]]] = [
        ("agent.plan", Span.SPAN_KIND_INTERNAL, {"oracle.agent.reasoning": REASONING}),
        ("agent.reason", Span.SPAN_KIND_INTERNAL, {"oracle.agent.reasoning": REASONING[::-1]}),
        ("execute_tool web_search", Span.SPAN_KIND_INTERNAL, {"gen_ai.tool.name": "web_search"}),
        ("execute_tool fetch_page", Span.SPAN_KIND_INTERNAL, {"gen_ai.tool.name": "fetch_page"}),
        ("tool-requests publish", Span.SPAN_KIND_PRODUCER, {"messaging.system": "kafka"}),
        ("tool-responses process", Span.SPAN_KIND_CONSUMER, {"messaging.system": "kafka"}),
    ]
    for step, (name, kind, attrs) in enumerate(steps):
        attrs = {**attrs, "gen_ai.agent.name": agent, "oracle.task.id": f"task-{number}"}
        attrs["oracle.agent.tools_planned"] = ["web_search", "fetch_page"]
        spans.append(_span(trace_id, parent, name, kind, start_ns + step * 1_000_000, attrs))
    for call in range(SPANS_PER_TRACE - len(spans)):
        spans.append(
            _span(
                trace_id,
                parent,
                f"chat {model}",
                Span.SPAN_KIND_CLIENT,
                start_ns + (10 + call) * 1_000_000,
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": provider,
                    "gen_ai.request.model": model,
                    "gen_ai.response.model": model,
                    "gen_ai.response.id": f"chatcmpl-{number}-{call}",
                    "gen_ai.usage.input_tokens": random.randint(200, 4000),
                    "gen_ai.usage.output_tokens": random.randint(50, 800),
                    "gen_ai.response.finish_reasons": ["stop"],
                    "oracle.llm.cost_usd": round(random.uniform(0.0001, 0.05), 6),
                    "gen_ai.agent.name": agent,
                },
            )
        )
    return agent, spans


def requests(
    traces: int,
    spans_per_request: int = 512,
    *,
    start_ns: int | None = None,
    step_ns: int = 1_000_000,
    first: int = 0,
) -> Iterator[ExportTraceServiceRequest]:
    """OTLP requests carrying ``traces`` agent traces, ``spans_per_request`` spans each.

    Trace ``n`` (numbered from ``first``) starts at ``start_ns + n * step_ns``; by default
    the last one starts about now, 1 ms after the one before.
    """
    if start_ns is None:
        start_ns = time.time_ns() - (first + traces) * step_ns
    pending: list[tuple[str, Span]] = []
    for number in range(first, first + traces):
        agent, spans = agent_trace(number, start_ns + number * step_ns)
        pending.extend((agent, span) for span in spans)
        while len(pending) >= spans_per_request:
            yield _request(pending[:spans_per_request])
            del pending[:spans_per_request]
    if pending:
        yield _request(pending)


def _request(spans: list[tuple[str, Span]]) -> ExportTraceServiceRequest:
    by_agent: dict[str, list[Span]] = {}
    for agent, span in spans:
        by_agent.setdefault(agent, []).append(span)
    resource_spans = []
    for agent, agent_spans in by_agent.items():
        resource = Resource(
            attributes=[
                _kv("service.name", f"{agent}-agent"),
                _kv("service.version", "1.4.2"),
                _kv("k8s.pod.name", f"{agent}-agent-7d9f8b6c5-x2k4q"),
                _kv("k8s.namespace.name", "agents"),
                _kv("telemetry.sdk.language", "python"),
                _kv("telemetry.sdk.name", "opentelemetry"),
                _kv("telemetry.sdk.version", "1.45.2"),
            ]
        )
        scope = InstrumentationScope(name="oracle_monitor.instrumentation", version="0.1.0")
        resource_spans.append(
            ResourceSpans(
                resource=resource, scope_spans=[ScopeSpans(scope=scope, spans=agent_spans)]
            )
        )
    return ExportTraceServiceRequest(resource_spans=resource_spans)
