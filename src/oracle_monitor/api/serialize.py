"""Spans, trace summaries and infrastructure events as the REST API's JSON."""

from __future__ import annotations

from typing import Any

from oracle_monitor.model import Attributes, InfraEvent, Span
from oracle_monitor.processing.conventions import derive
from oracle_monitor.processing.dialects import genai_facts
from oracle_monitor.store.base import TraceSummary
from oracle_monitor.store.codec import to_jsonable
from oracle_monitor.timestamps import rfc3339

__all__ = [
    "agent_source",
    "attributes_json",
    "event_json",
    "genai_json",
    "rfc3339",
    "span_json",
    "summary_json",
]


def attributes_json(attributes: Attributes) -> dict[str, Any]:
    """Attribute values with their JSON types (bytes as ``{"bytesValue": base64}``)."""
    return {key: to_jsonable(value) for key, value in attributes.items()}


def span_json(span: Span) -> dict[str, Any]:
    """One span of ``GET /api/v1/traces/{trace_id}``."""
    return {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id or None,
        "name": span.name,
        "kind": span.kind.name,
        "service_name": span.service_name,
        "start_time": rfc3339(span.start_time_ns),
        "end_time": rfc3339(span.end_time_ns),
        "start_time_unix_nano": span.start_time_ns,
        "duration_ms": span.duration_ns / 1e6,
        "status": {"code": span.status_code.name, "message": span.status_message},
        "attributes": attributes_json(span.attributes),
        "resource": {"attributes": attributes_json(span.resource)},
        "scope": {"name": span.scope_name, "version": span.scope_version},
        "events": [
            {
                "name": event.name,
                "time": rfc3339(event.time_ns),
                "attributes": attributes_json(event.attributes),
            }
            for event in span.events
        ],
        "links": [
            {
                "trace_id": link.trace_id,
                "span_id": link.span_id,
                "trace_state": link.trace_state,
                "attributes": attributes_json(link.attributes),
            }
            for link in span.links
        ],
        "agent_name": span.agent_name,
        "agent_source": agent_source(span),
        "agent_from": span.agent_from,
        **genai_json(span),
        "provider": span.provider,
        "model": span.model,
        "tokens": {
            "input": span.input_tokens,
            "output": span.output_tokens,
            "cache_read": span.cache_read_tokens,
            "cache_creation": span.cache_creation_tokens,
            "reasoning": span.reasoning_tokens,
        },
        "cost_usd": span.cost_usd,
        "rate_limited": span.rate_limited,
        "k8s": {"pod_name": span.pod_name, "namespace": span.namespace},
        "task_id": span.task_id,
    }


def agent_source(span: Span) -> str | None:
    """Where the span's agent name comes from: ``attribute`` (its own), ``resource`` (its
    process's), ``ancestor`` (the span ``agent_from``, above it in the trace), or ``None``."""
    if span.agent_name is None:
        return None
    if span.agent_from is not None:
        return "ancestor"
    return "attribute" if derive(span.attributes, {})["agent_name"] is not None else "resource"


def genai_json(span: Span) -> dict[str, Any]:
    """The span's conversation, tool and handoff (`oracle_monitor.processing.dialects.genai_facts`),
    ``None`` where it does not say."""
    facts = genai_facts(span.name, span.attributes)
    source, target = facts.get("handoff_from"), facts.get("handoff_to")
    return {
        "conversation_id": facts.get("conversation_id"),
        "tool_name": facts.get("tool_name"),
        "handoff": {"from": source, "to": target} if source or target else None,
    }


def summary_json(summary: TraceSummary) -> dict[str, Any]:
    """One trace of ``GET /api/v1/traces``."""
    return {
        "trace_id": summary.trace_id,
        "root_name": summary.root_name,
        "root_service": summary.root_service,
        "services": list(summary.services),
        "agents": list(summary.agents),
        "start_time": rfc3339(summary.start_time_ns),
        "duration_ms": summary.duration_ns / 1e6,
        "span_count": summary.span_count,
        "error_count": summary.error_count,
        "has_error": summary.error_count > 0,
        "total_tokens": summary.total_tokens,
        "input_tokens": summary.input_tokens,
        "output_tokens": summary.output_tokens,
    }


def event_json(event: InfraEvent) -> dict[str, Any]:
    """One infrastructure event as JSON (``/api/v1/events``, the live stream, a trace's
    correlated events)."""
    return {
        "event_id": event.event_id,
        "time": rfc3339(event.time_ns),
        "time_unix_nano": event.time_ns,
        "source": event.source,
        "kind": event.kind,
        "entity": event.entity,
        "severity": str(event.severity),
        "summary": event.summary,
        "attributes": attributes_json(event.attributes),
    }
