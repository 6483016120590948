"""Stored spans (`oracle_monitor.model.Span`) as OpenTelemetry SDK spans, for the exporters.

Pure: no I/O. Everything OTLP sent is kept: ids, parent, kind, status, times, attributes with
their OTLP types (bytes, arrays, kvlists — the OTLP encoder writes them as they are), events,
links, resource and scope. Infrastructure events that correlate with a span are appended to
its events, named after the event's kind and stamped at the event's time, with
``oracle.event.*`` attributes saying what it was and how it correlates.

What the stock encoder cannot carry: the dropped-attribute/event/link counts (it counts only
what the SDK itself dropped), the W3C trace-flag bits of ``flags`` (it writes only the
"parent is remote" bits, which are kept) and a link's ``trace_state``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, Status, TraceFlags, TraceState

from oracle_monitor.model import Attributes, InfraEvent, Span, SpanKind, StatusCode

_KINDS = {
    SpanKind.UNSPECIFIED: trace_api.SpanKind.INTERNAL,  # the SDK has no "unspecified"
    SpanKind.INTERNAL: trace_api.SpanKind.INTERNAL,
    SpanKind.SERVER: trace_api.SpanKind.SERVER,
    SpanKind.CLIENT: trace_api.SpanKind.CLIENT,
    SpanKind.PRODUCER: trace_api.SpanKind.PRODUCER,
    SpanKind.CONSUMER: trace_api.SpanKind.CONSUMER,
}
_STATUS = {
    StatusCode.UNSET: trace_api.StatusCode.UNSET,
    StatusCode.OK: trace_api.StatusCode.OK,
    StatusCode.ERROR: trace_api.StatusCode.ERROR,
}


class _StoredResource(Resource):
    """A resource with its attributes exactly as received.

    `Resource` would filter values through the SDK's attribute rules (no kvlists, no nested
    arrays), losing what the sender sent; the encoder only reads ``attributes``. Identity
    equality is enough for the encoder's grouping of spans by resource.
    """

    def __init__(self, attributes: Attributes) -> None:
        self._attributes = MappingProxyType(attributes)  # type: ignore[assignment]
        self._schema_url = ""

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


def _trace_state(text: str) -> TraceState | None:
    if not text:
        return None
    return TraceState.from_header([text])


#: OTLP ``SpanFlags``: the parent's (or link's) remoteness is known / is remote.
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200


def _context(
    trace_id: str, span_id: str, flags: int = 0, state: str = "", remote: bool = False
) -> SpanContext:
    return SpanContext(
        int(trace_id, 16),
        int(span_id, 16),
        is_remote=remote,
        trace_flags=TraceFlags(flags & 0xFF),
        trace_state=_trace_state(state),
    )


def infra_span_event(event: InfraEvent, via: str) -> Event:
    """An infrastructure event as a span event."""
    attributes: dict[str, Any] = {
        "oracle.event.id": event.event_id,
        "oracle.event.source": event.source,
        "oracle.event.kind": event.kind,
        "oracle.event.entity": event.entity,
        "oracle.event.severity": str(event.severity),
        "oracle.event.correlated_by": via,
    }
    if event.summary:
        attributes["oracle.event.summary"] = event.summary
    attributes.update(event.attributes)
    return Event(event.kind, attributes, timestamp=event.time_ns)


def to_readable_span(span: Span, resource: Resource, infra: Sequence[Event] = ()) -> ReadableSpan:
    """One stored span as an SDK span; ``infra`` are extra events appended to its own."""
    remote = bool(span.flags & _HAS_IS_REMOTE and span.flags & _IS_REMOTE)
    parent = (
        _context(span.trace_id, span.parent_span_id, remote=remote) if span.parent_span_id else None
    )
    events = [Event(e.name, e.attributes, timestamp=e.time_ns) for e in span.events]
    events.extend(infra)
    links = [
        Link(_context(link.trace_id, link.span_id, link.flags, link.trace_state,
                      bool(link.flags & _IS_REMOTE)), link.attributes)
        for link in span.links
    ]  # fmt: skip
    return ReadableSpan(
        name=span.name,
        context=_context(span.trace_id, span.span_id, span.flags, span.trace_state),
        parent=parent,
        resource=resource,
        attributes=span.attributes,
        events=sorted(events, key=lambda event: event.timestamp or 0),
        links=links,
        kind=_KINDS.get(span.kind, trace_api.SpanKind.INTERNAL),
        status=Status(_STATUS[span.status_code], span.status_message or None),
        start_time=span.start_time_ns,
        end_time=span.end_time_ns,
        instrumentation_scope=InstrumentationScope(span.scope_name, span.scope_version or None),
    )


def to_readable_spans(
    spans: Sequence[Span], infra: Mapping[str, Sequence[Event]] | None = None
) -> list[ReadableSpan]:
    """Spans as SDK spans sharing one resource object per distinct resource.

    ``infra`` maps span ids to correlated infrastructure events (see `infra_span_event`).
    """
    resources: dict[int, Resource] = {}
    converted = []
    for span in spans:
        resource = resources.get(id(span.resource))
        if resource is None:
            resource = resources[id(span.resource)] = _StoredResource(span.resource)
        converted.append(to_readable_span(span, resource, (infra or {}).get(span.span_id, ())))
    return converted
