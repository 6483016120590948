"""OTLP trace requests -> `Span` objects: pure functions, no I/O.

`decode_protobuf` takes the bytes of an ``ExportTraceServiceRequest`` (gRPC, OTLP/HTTP
protobuf), `decode_request` an already parsed message (`oracle_monitor.receiver.otlp_json`
decodes the OTLP/JSON form into the same `DecodedBatch`). A body
that is not a request at all raises `MalformedRequest`; a request that is fine except for some
spans (bad ids, absurd times) yields the good spans plus a count and reasons for the rest, as
OTLP's partial-success response wants. The spans keep everything OTLP sent; their derived
fields are left at their defaults for the chain's processors
(`oracle_monitor.processing.genai_fields`).

This is the receiver's hot loop, so it is written for speed rather than elegance: attribute
lookups are hoisted, the common attribute value types are handled inline, and `Span` is built
positionally (its field order is checked at import). Where the optional compiled decoder is
installed (``oracle_monitor_speedups``, which ``make install`` builds), `decode_protobuf` has
it read the request's bytes once the protobuf runtime has parsed them without error: the
same spans for about a third of the instructions. It leaves whatever it does not take on (a
rejected span, an unusual encoding) to `decode_request`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import import_module
from types import ModuleType
from typing import Any, Final

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from oracle_monitor.model import (
    Attributes,
    AttributeValue,
    Span,
    SpanEvent,
    SpanKind,
    SpanLink,
    StatusCode,
)

__all__ = [
    "TRUNCATION_MARKER",
    "DecodeLimits",
    "DecodedBatch",
    "MalformedRequest",
    "decode_protobuf",
    "decode_request",
]

#: Appended to a string attribute value cut to `DecodeLimits.max_attribute_value_length`.
TRUNCATION_MARKER: Final = "…[truncated]"
# Shared with `otlp_json` (not part of the public interface).
#: Times are stored as signed 64-bit integers.
MAX_TIME: Final = 2**63 - 1
ZERO_TRACE_ID: Final = bytes(16)
ZERO_SPAN_ID: Final = bytes(8)
KINDS: Final = {int(kind): kind for kind in SpanKind}
STATUS_CODES: Final = {int(code): code for code in StatusCode}
MAX_REASONS: Final = 5
_MAX_NAME_IN_REASON: Final = 100

# `Span` is constructed with positional arguments (three times faster than keywords); make
# sure a reordering of its fields cannot silently scramble them.
_POSITIONAL_FIELDS: Final = (
    "trace_id span_id parent_span_id name kind start_time_ns end_time_ns status_code "
    "status_message attributes events links resource scope_name scope_version trace_state "
    "flags dropped_attributes_count dropped_events_count dropped_links_count"
)
if " ".join(f.name for f in fields(Span)[:20]) != _POSITIONAL_FIELDS:
    raise ImportError("oracle_monitor.model.Span fields changed; update receiver/decode.py")


def _compiled_module() -> ModuleType | None:
    """``oracle_monitor_speedups.otlp``, or None where it is not built."""
    try:
        return import_module("oracle_monitor_speedups.otlp")
    except ImportError:  # decode through the protobuf runtime alone
        return None


_speedups = _compiled_module()


class MalformedRequest(ValueError):
    """The body is not a valid ExportTraceServiceRequest (bad protobuf / bad JSON / wrong
    structure). The message says what is wrong."""


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Bounds applied while decoding."""

    #: Longer str values are cut to this many characters (plus `TRUNCATION_MARKER`), longer
    #: bytes values to this many bytes.
    max_attribute_value_length: int = 65536

    def __post_init__(self) -> None:
        if self.max_attribute_value_length < 0:
            raise ValueError("max_attribute_value_length must not be negative")


@dataclass(slots=True)
class DecodedBatch:
    """The spans of one request, and what was refused of it."""

    spans: list[Span]
    #: Spans refused one by one (bad ids, absurd times).
    rejected_spans: int
    #: ``""`` when nothing was rejected, else a summary with up to five reasons.
    error_message: str


def decode_protobuf(body: bytes, limits: DecodeLimits) -> DecodedBatch:
    """Decode the protobuf bytes of an OTLP ``ExportTraceServiceRequest``.

    Raises `MalformedRequest` when the bytes are not such a message (garbage, truncated).
    """
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, RecursionError, ValueError, TypeError) as error:
        raise MalformedRequest(f"invalid protobuf ExportTraceServiceRequest: {error}") from error
    if _speedups is not None and type(body) is bytes:  # (the compiled decoder reads bytes)
        try:
            return DecodedBatch(compiled_decoder(limits).spans(body), 0, "")
        except _speedups.Unsupported:
            pass
    return decode_request(request, limits)


def compiled_decoding() -> bool:
    """Whether `decode_protobuf` has the compiled decoder (``oracle_monitor_speedups``)."""
    return _speedups is not None


@lru_cache(maxsize=8)
def compiled_decoder(limits: DecodeLimits) -> Any:
    """The compiled decoder for ``limits`` (call only when it is installed)."""
    assert _speedups is not None
    return _speedups.Decoder(
        Span,
        SpanEvent,
        SpanLink,
        KINDS,
        STATUS_CODES,
        SpanKind.UNSPECIFIED,
        StatusCode.UNSET,
        TRUNCATION_MARKER,
        limits.max_attribute_value_length,
    )


def decode_request(request: Any, limits: DecodeLimits) -> DecodedBatch:
    """Turn a parsed ``ExportTraceServiceRequest`` into spans, rejecting invalid ones."""
    limit = limits.max_attribute_value_length
    kinds_get = KINDS.get
    codes_get = STATUS_CODES.get
    unspecified = SpanKind.UNSPECIFIED
    unset = StatusCode.UNSET
    zero_trace = ZERO_TRACE_ID
    zero_span = ZERO_SPAN_ID
    max_time = MAX_TIME
    spans: list[Span] = []
    append = spans.append
    rejected = 0
    reasons: list[str] = []
    # A slice of a protobuf repeated field is a list, made in C; iterating the field itself
    # ends in a formatted IndexError, costly when done for every span's attributes.
    for resource_index, resource_spans in enumerate(request.resource_spans[:]):
        resource = _attributes(resource_spans.resource.attributes, limit)
        for scope_index, scope_spans in enumerate(resource_spans.scope_spans[:]):
            scope = scope_spans.scope
            scope_name: str = scope.name
            scope_version: str = scope.version
            for span_index, span in enumerate(scope_spans.spans[:]):
                trace_id: bytes = span.trace_id
                span_id: bytes = span.span_id
                parent_id: bytes = span.parent_span_id
                start: int = span.start_time_unix_nano
                end: int = span.end_time_unix_nano
                if not ids_and_times_valid(trace_id, span_id, parent_id, start, end):
                    rejected += 1
                    if len(reasons) < MAX_REASONS:
                        problem = id_problem(trace_id, span_id, parent_id, start, end)
                        place = (resource_index, scope_index, span_index)
                        reasons.append(rejection(span.name, place, problem))
                    continue
                attributes = _attributes(span.attributes, limit)
                dropped_events = 0
                events: list[SpanEvent] = []
                span_events = span.events
                for event in span_events[:] if span_events else ():
                    time: int = event.time_unix_nano
                    if time > max_time:
                        dropped_events += 1
                        continue
                    events.append(
                        SpanEvent(
                            time,
                            event.name,
                            _attributes(event.attributes, limit),
                            event.dropped_attributes_count,
                        )
                    )
                dropped_links = 0
                links: list[SpanLink] = []
                span_links = span.links
                for link in span_links[:] if span_links else ():
                    link_trace: bytes = link.trace_id
                    link_span: bytes = link.span_id
                    if (
                        len(link_trace) != 16
                        or link_trace == zero_trace
                        or len(link_span) != 8
                        or link_span == zero_span
                    ):
                        dropped_links += 1
                        continue
                    links.append(
                        SpanLink(
                            link_trace.hex(),
                            link_span.hex(),
                            link.trace_state,
                            _attributes(link.attributes, limit),
                            link.flags,
                            link.dropped_attributes_count,
                        )
                    )
                status = span.status
                append(
                    Span(
                        trace_id.hex(),
                        span_id.hex(),
                        parent_id.hex() if parent_id != zero_span else "",
                        span.name,
                        kinds_get(span.kind, unspecified),
                        start,
                        end,
                        codes_get(status.code, unset),
                        status.message,
                        attributes,
                        events,
                        links,
                        resource,
                        scope_name,
                        scope_version,
                        span.trace_state,
                        span.flags,
                        span.dropped_attributes_count,
                        span.dropped_events_count + dropped_events,
                        span.dropped_links_count + dropped_links,
                    )
                )
    return DecodedBatch(spans, rejected, summary(rejected, reasons))


def _any_value(value: Any, limit: int) -> AttributeValue:
    """Any OTLP ``AnyValue`` as the Python value of its type (``None`` when empty)."""
    which = value.WhichOneof("value")
    if which == "string_value":
        text: str = value.string_value
        return text if len(text) <= limit else text[:limit] + TRUNCATION_MARKER
    if which == "int_value":
        return value.int_value  # type: ignore[no-any-return]
    if which == "double_value":
        return value.double_value  # type: ignore[no-any-return]
    if which == "bool_value":
        return value.bool_value  # type: ignore[no-any-return]
    if which == "array_value":
        items = value.array_value.values
        return [
            (text if len(text) <= limit else text[:limit] + TRUNCATION_MARKER)
            if (text := item.string_value)
            else _any_value(item, limit)
            for item in (items[:] if items else ())
        ]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values, limit)
    if which == "bytes_value":
        return value.bytes_value[:limit]  # type: ignore[no-any-return]
    return None


def _attributes(key_values: Any, limit: int) -> Attributes:
    """A repeated ``KeyValue`` as a dict; non-empty strings and non-zero ints inline."""
    result: Attributes = {}
    if not key_values:
        return result
    for key_value in key_values[:]:  # a list: see `decode_request`
        value = key_value.value
        # A oneof member reads as its default unless it is the one set, so a non-empty
        # string_value (non-zero int_value) proves the type without WhichOneof.
        text = value.string_value
        if text:
            result[key_value.key] = text if len(text) <= limit else text[:limit] + TRUNCATION_MARKER
            continue
        number = value.int_value
        if number:
            result[key_value.key] = number
        else:
            result[key_value.key] = _any_value(value, limit)
    return result


def ids_and_times_valid(
    trace_id: bytes, span_id: bytes, parent_id: bytes, start: int, end: int
) -> bool:
    """Whether a span may be kept: 16-byte and 8-byte non-zero ids, sane times."""
    return not (
        len(trace_id) != 16
        or trace_id == ZERO_TRACE_ID
        or len(span_id) != 8
        or span_id == ZERO_SPAN_ID
        or (parent_id and len(parent_id) != 8)
        or not 0 < start <= end <= MAX_TIME
    )


def id_problem(trace_id: bytes, span_id: bytes, parent_id: bytes, start: int, end: int) -> str:
    """Why a span with these ids and times is rejected (call only for a rejected span)."""
    if len(trace_id) != 16:
        return f"trace_id must be 16 bytes, got {len(trace_id)}"
    if trace_id == ZERO_TRACE_ID:
        return "trace_id is all zeros"
    if len(span_id) != 8:
        return f"span_id must be 8 bytes, got {len(span_id)}"
    if span_id == ZERO_SPAN_ID:
        return "span_id is all zeros"
    if parent_id and len(parent_id) != 8:
        return f"parent_span_id must be empty or 8 bytes, got {len(parent_id)}"
    if start == 0:
        return "start_time_unix_nano is 0"
    if end > MAX_TIME:
        return f"end_time_unix_nano {end} is beyond 2**63-1"
    return f"end_time_unix_nano {end} is before start_time_unix_nano {start}"


def rejection(name: str, place: tuple[int, int, int], problem: str) -> str:
    """One reason for `DecodedBatch.error_message`: which span, where, and what is wrong."""
    resource_index, scope_index, span_index = place
    return (
        f"span {name[:_MAX_NAME_IN_REASON]!r} (resource {resource_index}, scope {scope_index}, "
        f"#{span_index}): {problem}"
    )


def summary(rejected: int, reasons: list[str]) -> str:
    """`DecodedBatch.error_message` for ``rejected`` spans, of which ``reasons`` tell why."""
    if not rejected:
        return ""
    noun = "span" if rejected == 1 else "spans"
    message = f"{rejected} {noun} rejected: " + "; ".join(reasons)
    if rejected > len(reasons):
        message += f", and {rejected - len(reasons)} more"
    return message
