"""Requests split into one message per trace id lose nothing, and reject what serve rejects;
the receiver's chain decoder does it for either encoding."""

from __future__ import annotations

import base64
import os
from collections import Counter

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from oracle_monitor.pipeline.components import JSON, PROTOBUF
from oracle_monitor.pipeline.messages import (
    Message,
    TraceMessageDecoder,
    json_to_request,
    parse_request,
    split_request,
)
from oracle_monitor.receiver.decode import DecodeLimits, MalformedRequest, decode_protobuf
from oracle_monitor.receiver.otlp_json import decode_json
from tests.integration import otlp_payloads as otlp

TRACES = [os.urandom(16) for _ in range(3)]


def rich_span(trace_id: bytes, name: str) -> Span:
    """A span with every kind of attribute, an event, a link and a long value."""
    span = otlp.span(
        trace_id,
        name=name,
        attributes={
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 12,
            "ratio": 0.5,
            "ok": True,
            "blob": b"\x00\x01",
            "list": [1, "two", [3.0]],
            "map": {"k": {"nested": "v"}},
            "long": "x" * 70_000,  # longer than serve's attribute limit: kept whole here
        },
        parent_span_id=os.urandom(8),
    )
    span.trace_state = "vendor=1"
    span.flags = 0x301
    span.dropped_attributes_count = 2
    span.status.code = span.status.STATUS_CODE_ERROR
    span.status.message = "boom"
    event = span.events.add(name="retry", time_unix_nano=otlp.START_NS + 1)
    event.attributes.extend(otlp.key_values({"attempt": 2}))
    link = span.links.add(trace_id=os.urandom(16), span_id=os.urandom(8), trace_state="l=1")
    link.attributes.extend(otlp.key_values({"why": "follows"}))
    return span


def rich_request() -> ExportTraceServiceRequest:
    """Two resources (with schema URLs), scopes with attributes, three traces interleaved."""
    resources = []
    for service in ("research-agent", "writer-agent"):
        scopes = []
        for scope_name in ("agents", "httpx"):
            scope = InstrumentationScope(
                name=scope_name, version="1.2", attributes=otlp.key_values({"s": scope_name})
            )
            spans = [rich_span(TRACES[i % 3], f"{service}/{scope_name}/{i}") for i in range(4)]
            scopes.append(ScopeSpans(scope=scope, spans=spans, schema_url="https://s/1"))
        resource = Resource(
            attributes=otlp.key_values({"service.name": service, "k8s.pod.name": "p-0"}),
            dropped_attributes_count=1,
        )
        resources.append(
            ResourceSpans(resource=resource, scope_spans=scopes, schema_url="https://r/1")
        )
    return ExportTraceServiceRequest(resource_spans=resources)


def placed_spans(request: ExportTraceServiceRequest) -> Counter[tuple[bytes, bytes, bytes]]:
    """Every span with its resource and scope (with schema URLs), serialised."""
    found: Counter[tuple[bytes, bytes, bytes]] = Counter()
    for rs in request.resource_spans:
        resource = ResourceSpans(resource=rs.resource, schema_url=rs.schema_url)
        for ss in rs.scope_spans:
            scope = ScopeSpans(scope=ss.scope, schema_url=ss.schema_url)
            for span in ss.spans:
                found[
                    (
                        resource.SerializeToString(deterministic=True),
                        scope.SerializeToString(deterministic=True),
                        span.SerializeToString(deterministic=True),
                    )
                ] += 1
    return found


def merged(messages: list[Message]) -> Counter[tuple[bytes, bytes, bytes]]:
    total: Counter[tuple[bytes, bytes, bytes]] = Counter()
    for message in messages:
        total += placed_spans(parse_request(message.value))
    return total


def test_one_message_per_trace_keyed_by_hex_trace_id() -> None:
    split = split_request(rich_request(), 10_000_000)
    assert [m.key for m in split.messages] == [t.hex().encode() for t in TRACES]
    for message in split.messages:
        request = parse_request(message.value)
        trace_ids = {
            span.trace_id.hex().encode()
            for rs in request.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        }
        assert trace_ids == {message.key}
        assert message.spans == sum(
            len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans
        )
    assert (split.accepted_spans, split.rejected_spans, split.error_message) == (16, 0, "")


def test_round_trip_is_lossless() -> None:
    request = rich_request()
    split = split_request(request, 10_000_000)
    assert merged(split.messages) == placed_spans(request)


def test_aggregator_decodes_what_serve_would_have_stored() -> None:
    request = rich_request()
    limits = DecodeLimits()
    direct = decode_protobuf(request.SerializeToString(), limits).spans
    via_pipeline = [
        span
        for message in split_request(request, 10_000_000).messages
        for span in decode_protobuf(message.value, limits).spans
    ]

    def key(span: object) -> tuple[str, str]:
        return (span.trace_id, span.span_id)  # type: ignore[attr-defined]

    assert sorted(via_pipeline, key=key) == sorted(direct, key=key)


def test_a_large_trace_becomes_several_messages_under_the_limit() -> None:
    trace_id = os.urandom(16)
    spans = [otlp.span(trace_id, name=f"s{i}", attributes={"text": "y" * 2000}) for i in range(60)]
    request = otlp.request(*spans)
    limit = 20_000
    split = split_request(request, limit)
    assert len(split.messages) > 5
    assert all(len(m.value) <= limit for m in split.messages)
    assert {m.key for m in split.messages} == {trace_id.hex().encode()}
    assert merged(split.messages) == placed_spans(request)
    assert sum(m.spans for m in split.messages) == 60


def test_a_span_larger_than_any_message_is_rejected_alone() -> None:
    trace_id = os.urandom(16)
    huge = otlp.span(trace_id, name="huge", attributes={"text": "z" * 50_000})
    small = otlp.span(trace_id, name="small")
    split = split_request(otlp.request(huge, small), 20_000)
    assert (split.accepted_spans, split.rejected_spans) == (1, 1)
    assert "'huge'" in split.error_message and "20000-byte limit" in split.error_message
    assert merged(split.messages) == placed_spans(otlp.request(small))


def bad_request() -> ExportTraceServiceRequest:
    good = os.urandom(16)
    return otlp.request(
        otlp.span(good, name="good-root"),
        otlp.span(b"\x01\x02\x03", name="3-byte-trace-id"),
        otlp.span(bytes(16), name="zero-trace-id"),
        otlp.span(good, b"\x01\x02\x03", name="3-byte-span-id"),
        otlp.span(good, bytes(8), name="zero-span-id"),
        otlp.span(good, name="bad-parent", parent_span_id=b"\x01\x02\x03"),
        otlp.span(good, name="good-child"),
    )


def test_bad_spans_are_rejected_as_serve_rejects_them() -> None:
    request = bad_request()
    serve = decode_protobuf(request.SerializeToString(), DecodeLimits())
    split = split_request(request, 1_000_000)
    assert (split.accepted_spans, split.rejected_spans) == (2, 5)
    assert split.error_message == serve.error_message
    names = {s.name for m in split.messages for rs in parse_request(m.value).resource_spans
             for ss in rs.scope_spans for s in ss.spans}  # fmt: skip
    assert names == {"good-root", "good-child"}


@pytest.mark.parametrize(
    "body", [b"\xff\xfe garbage \x00\x01", rich_request().SerializeToString()[:-7]]
)
def test_malformed_protobuf_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        parse_request(body)


def otlp_json(request: ExportTraceServiceRequest) -> dict[str, object]:
    """The OTLP/JSON form: the protobuf JSON mapping with hex ids."""
    document = json_format.MessageToDict(request)

    def hexed(value: str) -> str:
        return base64.b64decode(value).hex()

    for rs in document["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = hexed(span[key])
                for link in span.get("links", []):
                    link["traceId"], link["spanId"] = hexed(link["traceId"]), hexed(link["spanId"])
    return document


def test_json_becomes_the_same_protobuf_request() -> None:
    request = rich_request()
    converted, rejected, reasons = json_to_request(orjson.dumps(otlp_json(request)))
    assert (rejected, reasons) == (0, [])
    assert placed_spans(converted) == placed_spans(request)


def test_json_with_bad_ids_rejects_what_serve_rejects() -> None:
    document = otlp_json(bad_request())
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]  # type: ignore[index]
    spans.append({**spans[0], "name": "not-hex", "traceId": "zz" * 16})
    spans.append({**spans[0], "name": "bad-link", "links": [{"traceId": "00", "spanId": "xx"}]})
    body = orjson.dumps(document)
    serve = decode_json(body, DecodeLimits())
    request, rejected, reasons = json_to_request(body)
    split = split_request(request, 1_000_000, rejected=rejected, reasons=reasons)
    assert split.rejected_spans == serve.rejected_spans == 6
    assert split.accepted_spans == len(serve.spans) == 3
    assert "traceId is not a hex string" in split.error_message
    stored = [s for m in split.messages for s in decode_protobuf(m.value, DecodeLimits()).spans]
    assert {s.name: s.dropped_links_count for s in stored}["bad-link"] == 1


@pytest.mark.parametrize(
    "body",
    [b'{"resourceSpans": [', b'["not", "an", "object"]', b'{"resourceSpans": [{"scopeSpans": 5}]}'],
)
def test_malformed_json_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        json_to_request(body)


def test_the_receivers_decoder_splits_either_encoding_alike() -> None:
    request = rich_request()
    decoder = TraceMessageDecoder(10_000_000)
    from_protobuf = decoder.decode(PROTOBUF, request.SerializeToString())
    from_json = decoder.decode(JSON, orjson.dumps(otlp_json(request)))
    for decoded in (from_protobuf, from_json):
        assert [m.key for m in decoded.items] == [t.hex().encode() for t in TRACES]
        assert (decoded.accepted, decoded.rejected, decoded.error_message) == (16, 0, "")
    assert merged(from_json.items) == merged(from_protobuf.items) == placed_spans(request)
    with pytest.raises(MalformedRequest):
        decoder.decode(JSON, b"[]")
