"""``GET /api/v1/traces``, ``GET /api/v1/traces/{trace_id}`` and the infrastructure events
(`oracle_monitor.api.serialize`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from oracle_monitor.api.contract.base import Answer, Attributes, Rfc3339, SpanId, TraceId

SpanKindName = Literal["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"]


class TraceSummary(Answer):
    """One trace of a search."""

    trace_id: TraceId = Field(description="32 lowercase hex digits.")
    root_name: str = Field(
        description="Name of the span without a parent (until it arrives: of the earliest).",
        examples=["invoke_agent research"],
    )
    root_service: str = Field(description="Service of that span.", examples=["research-agent"])
    services: list[str] = Field(description="Every service with a span in it, sorted.")
    agents: list[str] = Field(description="Every agent with a span in it, sorted.")
    start_time: Rfc3339 = Field(description="Start of its earliest span.")
    duration_ms: float = Field(description="Earliest start to latest end.", examples=[1234.5])
    span_count: int = Field(description="Spans stored.", examples=[42])
    error_count: int = Field(description="Spans with status ERROR.", examples=[0])
    has_error: bool = Field(description="Whether error_count > 0.")
    total_tokens: int = Field(description="input_tokens + output_tokens.", examples=[1500])
    input_tokens: int = Field(description="LLM input tokens of its spans.", examples=[1200])
    output_tokens: int = Field(description="LLM output tokens of its spans.", examples=[300])


class TraceList(Answer):
    """Trace summaries matching the filters, newest first."""

    traces: list[TraceSummary] = Field(description="At most ``limit``, newest first.")
    limit: int = Field(description="The limit applied.", examples=[20])


class SpanStatus(Answer):
    """The span's OTLP status."""

    code: Literal["UNSET", "OK", "ERROR"] = Field(description="OTLP status code.")
    message: str = Field(description="Status message ('' when none).", examples=["timeout"])


class SpanResource(Answer):
    """The resource (process) that emitted the span."""

    attributes: Attributes = Field(
        description="Resource attributes.", examples=[{"service.name": "research-agent"}]
    )


class SpanScope(Answer):
    """The instrumentation scope."""

    name: str = Field(description="Scope name ('' when none).", examples=["oracle_monitor"])
    version: str = Field(description="Scope version ('' when none).", examples=["0.1.0"])


class SpanEventJson(Answer):
    """A timestamped annotation of the span (an exception, a retry…)."""

    name: str = Field(description="Event name.", examples=["exception"])
    time: Rfc3339 = Field(description="When it happened.")
    attributes: Attributes = Field(description="Its attributes.")


class SpanLinkJson(Answer):
    """A reference to another span."""

    trace_id: TraceId = Field(description="The linked span's trace.")
    span_id: SpanId = Field(description="The linked span.")
    trace_state: str = Field(description="W3C trace state of the link ('' when none).")
    attributes: Attributes = Field(description="The link's attributes.")


class Handoff(Answer):
    """An agent handing the work over to another."""

    from_: str | None = Field(alias="from", description="The agent handing over.")
    to: str | None = Field(description="The agent taking over.", examples=["writer"])


class SpanTokens(Answer):
    """Token counts of an LLM call (``null`` where the span does not say)."""

    input: int | None = Field(description="Input (prompt) tokens.", examples=[1200])
    output: int | None = Field(description="Output (completion) tokens.", examples=[300])
    cache_read: int | None = Field(description="Input tokens read from the cache.")
    cache_creation: int | None = Field(description="Input tokens written to the cache.")
    reasoning: int | None = Field(description="Reasoning tokens (part of the output).")


class SpanPod(Answer):
    """Where the span ran in Kubernetes."""

    pod_name: str | None = Field(description="k8s.pod.name.", examples=["research-7d9f8-x2"])
    namespace: str | None = Field(description="k8s.namespace.name.", examples=["agents"])


class ApiSpan(Answer):
    """One span of a trace, with the fields derived from its attributes."""

    trace_id: TraceId = Field(description="Its trace.")
    span_id: SpanId = Field(description="Its id.")
    parent_span_id: SpanId | None = Field(description="Its parent; null for a root span.")
    name: str = Field(description="Span name.", examples=["chat gpt-4o"])
    kind: SpanKindName = Field(description="OTLP span kind.")
    service_name: str = Field(description="service.name of its resource.")
    start_time: Rfc3339 = Field(description="Start.")
    end_time: Rfc3339 = Field(description="End.")
    start_time_unix_nano: int = Field(
        description="Start, unix nanoseconds.", examples=[1795764000123456789]
    )
    duration_ms: float = Field(description="End minus start.", examples=[812.5])
    status: SpanStatus = Field(description="OTLP status.")
    attributes: Attributes = Field(description="Span attributes, with their JSON types.")
    resource: SpanResource = Field(description="Its resource.")
    scope: SpanScope = Field(description="Its instrumentation scope.")
    events: list[SpanEventJson] = Field(description="Span events, in OTLP order.")
    links: list[SpanLinkJson] = Field(description="Span links.")
    agent_name: str | None = Field(
        description="The agent: its own, its process's or the nearest ancestor's.",
        examples=["research"],
    )
    agent_source: Literal["attribute", "resource", "ancestor"] | None = Field(
        description="Where agent_name comes from; null without one."
    )
    agent_from: SpanId | None = Field(
        description="The span above that names the agent, when inherited."
    )
    conversation_id: str | None = Field(description="gen_ai.conversation.id (or a dialect's).")
    tool_name: str | None = Field(description="The tool it executes.", examples=["web_search"])
    handoff: Handoff | None = Field(description="A hand-over between agents, when it is one.")
    provider: str | None = Field(description="LLM provider.", examples=["openai"])
    model: str | None = Field(description="LLM model.", examples=["gpt-4o"])
    tokens: SpanTokens = Field(description="LLM token counts.")
    cost_usd: float | None = Field(description="Priced cost of the call.", examples=[0.0045])
    rate_limited: bool = Field(description="Whether the provider refused it with a 429.")
    k8s: SpanPod = Field(description="Its pod.")
    task_id: str | None = Field(description="oracle.task.id, own or inherited.")


class InfraEventJson(Answer):
    """Something the infrastructure did, as a collector saw it."""

    event_id: str = Field(
        description="Derived from source, kind, entity and time.",
        examples=["0c5b4f7e9d1a2b3c4d5e6f708192a3b4"],
    )
    time: Rfc3339 = Field(description="When the source recorded it.")
    time_unix_nano: int = Field(description="The same, unix nanoseconds.")
    source: str = Field(description="The collector.", examples=["k8s"])
    kind: str = Field(description="What happened.", examples=["oom_killed"])
    entity: str = Field(
        description="What it happened to, ``<type>/<key>``.",
        examples=["pod/agents/research-7d9f8-x2"],
    )
    severity: Literal["info", "warning", "error", "critical"] = Field(description="How bad.")
    summary: str = Field(description="One line.", examples=["research-7d9f8-x2 OOMKilled"])
    attributes: Attributes = Field(description="The entity's keys and the event's figures.")


class CorrelatedEvent(InfraEventJson):
    """An event that correlates with spans of the trace."""

    span_ids: list[SpanId] = Field(description="The spans it touches, sorted.")
    via: list[Literal["pod", "kafka", "llm"]] = Field(
        description="Through which key: the span's pod, Kafka entity or LLM model."
    )


class TraceDetail(Answer):
    """All spans of one trace, flat, and the infrastructure events correlated with them."""

    trace_id: TraceId = Field(description="The trace.")
    spans: list[ApiSpan] = Field(description="Its spans, each with its parent id.")
    events: list[CorrelatedEvent] = Field(description="Correlated events, oldest first.")


class EventList(Answer):
    """Stored infrastructure events, newest first."""

    events: list[InfraEventJson] = Field(description="At most ``limit``, newest first.")
