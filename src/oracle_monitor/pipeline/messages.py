"""OTLP trace requests <-> pipeline messages: one ``ExportTraceServiceRequest`` per trace id.

The format is the OpenTelemetry Collector Kafka exporter's ``otlp_proto`` encoding with
``partition_traces_by_id``: the value is an OTLP ``ExportTraceServiceRequest`` (wire-identical to
``TracesData``) holding the spans of one trace, each under a copy of its resource and scope
(with their schema URLs); the key is the trace id in lowercase hex. So a Collector can publish
into the same topic, and every span of a trace lands on one partition, in order.

Nothing OTLP sent is dropped here: spans go over whole (attributes unshortened, unknown fields
included); the receiver's checks (ids, times) reject spans one by one exactly as ``serve``
does, and a trace too large for one message is cut into several messages of the same key.
Decoding the messages (`oracle_monitor.receiver.decode.decode_protobuf`) happens in the
aggregators.

`TraceMessageDecoder` is the ``receiver``'s chain decoder (``otlp_trace_messages``): each
request as its messages, bad spans refused one by one.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from oracle_monitor.config import Settings
from oracle_monitor.pipeline.components import JSON, ChainContext, Decoded, Factory
from oracle_monitor.receiver.decode import (
    MAX_REASONS,
    MalformedRequest,
    id_problem,
    ids_and_times_valid,
    rejection,
    summary,
)
from oracle_monitor.receiver.otlp_json import _hex, _hex_problem

__all__ = [
    "FACTORY",
    "Message",
    "SplitRequest",
    "TraceMessageDecoder",
    "json_to_request",
    "parse_request",
    "split_request",
]

#: Bytes a span adds to a message beyond its own (tag and length); resource/scope overhead.
_SPAN_OVERHEAD: Final = 8
_GROUP_OVERHEAD: Final = 32


@dataclass(frozen=True, slots=True)
class Message:
    """One Kafka message: the trace id (hex, the key) and an ``ExportTraceServiceRequest``."""

    key: bytes
    value: bytes
    spans: int


@dataclass(slots=True)
class SplitRequest:
    """A request as messages, with what was refused of it (as `DecodedBatch` says it)."""

    messages: list[Message]
    accepted_spans: int
    rejected_spans: int
    error_message: str


@dataclass(slots=True)
class _Trace:
    """The spans of one trace, kept with the (resource, scope) indexes they came under."""

    spans: list[tuple[int, int, Span, int]] = field(default_factory=list)


def parse_request(body: bytes) -> ExportTraceServiceRequest:
    """The protobuf ``ExportTraceServiceRequest`` in ``body``; raises `MalformedRequest`."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except Exception as error:  # DecodeError, RecursionError, ...: all mean "not a request"
        raise MalformedRequest(f"invalid protobuf ExportTraceServiceRequest: {error}") from error
    return request


def json_to_request(body: bytes) -> tuple[ExportTraceServiceRequest, int, list[str]]:
    """An OTLP/JSON body as the protobuf request, the spans rejected for non-hex ids and why.

    OTLP/JSON is the protobuf JSON mapping except that ids are hex; they are turned into the
    mapping's base64 before `json_format.ParseDict`. A span whose id is not hex is left out
    and counted (as ``serve`` rejects it); a link whose id is not hex is dropped and counted
    in the span's ``droppedLinksCount``. Raises `MalformedRequest` for broken JSON or a
    structure that is not a trace request.
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedRequest(f"invalid JSON: {error}") from error
    if type(document) is not dict:
        raise MalformedRequest("OTLP/JSON body must be an object")
    rejected, reasons = _ids_to_base64(document)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError, RecursionError) as error:
        raise MalformedRequest(f"invalid OTLP/JSON trace request: {error}") from error
    return request, rejected, reasons


def _list(parent: Any, key: str) -> list[Any]:
    value = parent.get(key) if type(parent) is dict else None
    return value if type(value) is list else []


def _ids_to_base64(document: dict[str, Any]) -> tuple[int, list[str]]:
    rejected = 0
    reasons: list[str] = []
    for ri, resource_spans in enumerate(_list(document, "resourceSpans")):
        for si, scope_spans in enumerate(_list(resource_spans, "scopeSpans")):
            spans = _list(scope_spans, "spans")
            kept = []
            for index, span in enumerate(spans):
                if type(span) is not dict:
                    kept.append(span)  # ParseDict says what is wrong with it
                    continue
                ids = {key: _hex(span.get(key)) for key in ("traceId", "spanId", "parentSpanId")}
                problem = _hex_problem(span, ids["traceId"], ids["spanId"], ids["parentSpanId"])
                if problem:
                    rejected += 1
                    if len(reasons) < MAX_REASONS:
                        name = span.get("name")
                        reasons.append(rejection(str(name or ""), (ri, si, index), problem))
                    continue
                for key, raw in ids.items():
                    if key in span:
                        span[key] = base64.b64encode(raw).decode()
                links = []
                for link in _list(span, "links"):
                    if type(link) is dict:
                        trace_id, span_id = _hex(link.get("traceId")), _hex(link.get("spanId"))
                        if len(trace_id) != 16 or len(span_id) != 8:
                            span["droppedLinksCount"] = _count(span.get("droppedLinksCount")) + 1
                            continue
                        link["traceId"] = base64.b64encode(trace_id).decode()
                        link["spanId"] = base64.b64encode(span_id).decode()
                    links.append(link)
                if "links" in span:
                    span["links"] = links
                kept.append(span)
            if spans:
                scope_spans["spans"] = kept
    return rejected, reasons


def _count(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def split_request(
    request: ExportTraceServiceRequest,
    max_message_bytes: int,
    *,
    rejected: int = 0,
    reasons: list[str] | None = None,
) -> SplitRequest:
    """The valid spans of ``request`` as messages, one trace id each (in order of first
    appearance), none larger than about ``max_message_bytes``; invalid spans rejected.

    ``rejected`` and ``reasons`` carry rejections found before (non-hex ids in OTLP/JSON). A
    single span larger than ``max_message_bytes`` is rejected too: no broker would take it.
    """
    reasons = list(reasons or [])
    traces: dict[bytes, _Trace] = {}
    accepted = 0
    for ri, resource_spans in enumerate(request.resource_spans):
        for si, scope_spans in enumerate(resource_spans.scope_spans):
            for index, span in enumerate(scope_spans.spans):
                trace_id: bytes = span.trace_id
                span_id: bytes = span.span_id
                parent: bytes = span.parent_span_id
                start: int = span.start_time_unix_nano
                end: int = span.end_time_unix_nano
                problem = ""
                size = 0
                if not ids_and_times_valid(trace_id, span_id, parent, start, end):
                    problem = id_problem(trace_id, span_id, parent, start, end)
                elif (size := span.ByteSize()) + 3 * _GROUP_OVERHEAD > max_message_bytes:
                    problem = f"span of {size} bytes exceeds the {max_message_bytes}-byte limit"
                if problem:
                    rejected += 1
                    if len(reasons) < MAX_REASONS:
                        reasons.append(rejection(span.name, (ri, si, index), problem))
                    continue
                traces.setdefault(trace_id, _Trace()).spans.append((ri, si, span, size))
                accepted += 1
    messages = [
        message
        for trace_id, trace in traces.items()
        for message in _messages(request, trace_id.hex().encode(), trace, max_message_bytes)
    ]
    return SplitRequest(messages, accepted, rejected, summary(rejected, reasons))


def _messages(
    request: ExportTraceServiceRequest, key: bytes, trace: _Trace, limit: int
) -> Iterator[Message]:
    """One trace's spans as requests of at most about ``limit`` bytes each."""
    out = ExportTraceServiceRequest()
    groups: dict[tuple[int, int], ScopeSpans] = {}
    resources: dict[int, ResourceSpans] = {}
    size = count = 0
    for ri, si, span, span_bytes in trace.spans:
        span_size = span_bytes + _SPAN_OVERHEAD
        if count and size + span_size + 2 * _GROUP_OVERHEAD > limit:
            yield Message(key, out.SerializeToString(), count)
            out, groups, resources, size, count = ExportTraceServiceRequest(), {}, {}, 0, 0
        target = groups.get((ri, si))
        if target is None:
            source_resource = request.resource_spans[ri]
            resource = resources.get(ri)
            if resource is None:
                resource = out.resource_spans.add()
                resource.resource.CopyFrom(source_resource.resource)
                resource.schema_url = source_resource.schema_url
                resources[ri] = resource
                size += resource.resource.ByteSize() + _GROUP_OVERHEAD
            source_scope = source_resource.scope_spans[si]
            target = resource.scope_spans.add()
            target.scope.CopyFrom(source_scope.scope)
            target.schema_url = source_scope.schema_url
            groups[(ri, si)] = target
            size += target.scope.ByteSize() + _GROUP_OVERHEAD
        target.spans.append(span)
        size += span_size
        count += 1
    if count:
        yield Message(key, out.SerializeToString(), count)


@dataclass(frozen=True, slots=True)
class TraceMessageDecoder:
    """Validates requests and splits each into messages of at most ``max_message_bytes``."""

    max_message_bytes: int

    def decode(self, encoding: int, body: bytes) -> Decoded[Message]:
        """One request's messages; raises `MalformedRequest`."""
        if encoding == JSON:
            request, rejected, reasons = json_to_request(body)
            split = split_request(
                request, self.max_message_bytes, rejected=rejected, reasons=reasons
            )
        else:
            split = split_request(parse_request(body), self.max_message_bytes)
        return Decoded(
            split.messages, split.accepted_spans, split.rejected_spans, split.error_message
        )


def _config(settings: Settings) -> int:
    return settings.pipeline.max_message_bytes


def _create(max_message_bytes: int, _context: ChainContext) -> TraceMessageDecoder:
    return TraceMessageDecoder(max_message_bytes)


FACTORY = Factory(_config, _create)
