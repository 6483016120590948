"""Spans as Jaeger's JSON trace model (what Jaeger UI and Grafana's Jaeger data source read).

A trace is ``{traceID, spans, processes, warnings}``; a span is ``{traceID, spanID,
[flags], operationName, references, startTime, duration, tags, logs, processID, warnings}``
with times in microseconds since the epoch and durations in microseconds. This follows how
Jaeger itself maps OTLP onto that model:

* tags are typed ``{key, type, value}`` with type ``string``, ``bool``, ``int64``,
  ``float64`` or ``binary`` (base64); integers beyond JavaScript's safe range are sent as
  strings, arrays and kvlists as their JSON text. The scope becomes ``otel.scope.name`` /
  ``otel.scope.version``; the kind ``span.kind`` (``server``, ``client``…); the status
  ``otel.status_code`` (``OK``/``ERROR``), ``error=true`` and ``otel.status_description``;
  the trace state ``w3c.tracestate``. GenAI and Oracle attributes are span attributes, so
  they are tags as they are; a cost computed at ingest is added as ``oracle.llm.cost_usd``.
* the parent is a ``CHILD_OF`` reference, links are ``FOLLOWS_FROM`` references.
* span events are logs whose first field is ``event`` (the event's name); infrastructure
  events that correlate with the span (`oracle_monitor.aggregator.correlate`: an OOM kill of
  its pod, a lag spike on its topic, a 429 burst on its model) are logs too, with
  ``event`` = the kind, ``message``, ``level`` and the event's source, entity and id.
* a process is one (service name, resource attributes) pair, keyed ``p1``, ``p2``… in order
  of first use; its tags are the resource attributes but ``service.name``.
* ``flags`` are the W3C trace flags (1 = sampled) and, as in Jaeger, left out when zero.
* a span's ``warnings`` (``null`` when none) say that its parent has not arrived or that the
  SDK dropped attributes, events or links.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from oracle_monitor.aggregator.correlate import Match
from oracle_monitor.model import Attributes, AttributeValue, InfraEvent, Span, SpanKind, StatusCode
from oracle_monitor.store.codec import to_jsonable

__all__ = ["key_value", "kind_name", "trace_json"]

JS_MAX_SAFE: Final = 2**53 - 1
_KINDS: Final[dict[SpanKind, str]] = {
    kind: kind.name.lower() for kind in SpanKind if kind != SpanKind.UNSPECIFIED
}


def kind_name(kind: SpanKind) -> str:
    """Jaeger's spelling of a span kind (``""`` for unspecified)."""
    return _KINDS.get(kind, "")


def key_value(key: str, value: AttributeValue) -> dict[str, Any]:
    """One typed Jaeger tag or log field."""
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        shown: int | str = value if -JS_MAX_SAFE <= value <= JS_MAX_SAFE else str(value)
        return {"key": key, "type": "int64", "value": shown}
    if isinstance(value, float):
        if math.isfinite(value):
            return {"key": key, "type": "float64", "value": value}
        return {"key": key, "type": "string", "value": str(value)}
    if isinstance(value, bytes):
        return {"key": key, "type": "binary", "value": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list | dict):
        return {"key": key, "type": "string", "value": orjson.dumps(to_jsonable(value)).decode()}
    return {"key": key, "type": "string", "value": "" if value is None else value}


def _tags(attributes: Attributes) -> list[dict[str, Any]]:
    return [key_value(key, value) for key, value in attributes.items()]


def _span_tags(span: Span) -> list[dict[str, Any]]:
    tags: list[dict[str, Any]] = []
    if span.scope_name:
        tags.append(key_value("otel.scope.name", span.scope_name))
    if span.scope_version:
        tags.append(key_value("otel.scope.version", span.scope_version))
    tags += _tags(span.attributes)
    if span.cost_usd is not None and "oracle.llm.cost_usd" not in span.attributes:
        tags.append(key_value("oracle.llm.cost_usd", span.cost_usd))
    if span.kind in _KINDS:
        tags.append(key_value("span.kind", _KINDS[span.kind]))
    if span.status_code != StatusCode.UNSET:
        tags.append(key_value("otel.status_code", span.status_code.name))
    if span.status_code == StatusCode.ERROR:
        tags.append(key_value("error", True))
    if span.status_message:
        tags.append(key_value("otel.status_description", span.status_message))
    if span.trace_state:
        tags.append(key_value("w3c.tracestate", span.trace_state))
    return tags


def _infra_log(event: InfraEvent, via: str) -> tuple[int, dict[str, Any]]:
    fields = [
        key_value("event", event.kind),
        key_value("message", event.summary),
        key_value("level", str(event.severity)),
        key_value("oracle.event.source", event.source),
        key_value("oracle.event.entity", event.entity),
        key_value("oracle.event.id", event.event_id),
        key_value("oracle.correlation", via),
        *_tags(event.attributes),
    ]
    return event.time_ns, {"timestamp": event.time_ns // 1000, "fields": fields}


def _logs(
    span: Span, matches: Sequence[Match], events: Mapping[str, InfraEvent]
) -> list[dict[str, Any]]:
    logs = [
        (
            e.time_ns,
            {
                "timestamp": e.time_ns // 1000,
                "fields": _tags({"event": e.name}) + _tags(e.attributes),
            },
        )
        for e in span.events
    ]
    logs += [_infra_log(events[m.event_id], m.via) for m in matches if m.event_id in events]
    logs.sort(key=lambda item: item[0])  # stable: span events before infra at the same time
    return [log for _, log in logs]


def _references(span: Span) -> list[dict[str, str]]:
    refs = []
    if span.parent_span_id:
        refs.append(
            {"refType": "CHILD_OF", "traceID": span.trace_id, "spanID": span.parent_span_id}
        )
    refs += [
        {"refType": "FOLLOWS_FROM", "traceID": link.trace_id, "spanID": link.span_id}
        for link in span.links
    ]
    return refs


def _warnings(span: Span, present: set[str]) -> list[str] | None:
    """What Jaeger UI should flag on the span: a missing parent, items the SDK dropped."""
    found = []
    if span.parent_span_id and span.parent_span_id not in present:
        found.append(f"parent span {span.parent_span_id} is not in this trace (not received)")
    for count, what in (
        (span.dropped_attributes_count, "attributes"),
        (span.dropped_events_count, "events"),
        (span.dropped_links_count, "links"),
    ):
        if count:
            noun = what if count != 1 else what[:-1]
            found.append(f"the exporter dropped {count} {noun} of this span")
    return found or None


def trace_json(
    spans: Sequence[Span],
    matches: Mapping[str, Sequence[Match]] | None = None,
    events: Mapping[str, InfraEvent] | None = None,
) -> dict[str, Any]:
    """One trace in Jaeger's JSON; ``matches`` (span id -> correlations) and ``events``
    (event id -> event) add the correlated infrastructure events as logs."""
    matches, events = matches or {}, events or {}
    processes: dict[str, dict[str, Any]] = {}
    process_ids: dict[bytes, str] = {}
    out: list[dict[str, Any]] = []
    present = {span.span_id for span in spans}
    for span in spans:
        resource = {k: v for k, v in span.resource.items() if k != "service.name"}
        fingerprint = orjson.dumps([span.service_name, to_jsonable(resource)])
        process_id = process_ids.get(fingerprint)
        if process_id is None:
            process_id = process_ids[fingerprint] = f"p{len(process_ids) + 1}"
            processes[process_id] = {"serviceName": span.service_name, "tags": _tags(resource)}
        item: dict[str, Any] = {"traceID": span.trace_id, "spanID": span.span_id}
        if span.flags & 0xFF:
            item["flags"] = span.flags & 0xFF
        item |= {
            "operationName": span.name,
            "references": _references(span),
            "startTime": span.start_time_ns // 1000,
            "duration": max(span.duration_ns, 0) // 1000,
            "tags": _span_tags(span),
            "logs": _logs(span, matches.get(span.span_id, ()), events),
            "processID": process_id,
            "warnings": _warnings(span, present),
        }
        out.append(item)
    trace_id = spans[0].trace_id if spans else ""
    return {"traceID": trace_id, "spans": out, "processes": processes, "warnings": None}
