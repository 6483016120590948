"""OTLP trace decoding: protobuf and OTLP/JSON bodies -> `Span` objects."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from oracle_monitor.model import AttributeValue, Span, SpanKind, StatusCode
from oracle_monitor.processing.genai_fields import GenAIFields
from oracle_monitor.receiver import decode
from oracle_monitor.receiver.decode import (
    TRUNCATION_MARKER,
    DecodedBatch,
    DecodeLimits,
    MalformedRequest,
    decode_protobuf,
    decode_request,
)
from oracle_monitor.receiver.otlp_json import decode_json

LIMITS = DecodeLimits()


@pytest.fixture(autouse=True, params=["compiled", "runtime"])
def protobuf_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs with the compiled decoder and with the protobuf runtime's path alone
    (what a server without a C compiler decodes with)."""
    if request.param == "runtime":
        monkeypatch.setattr(decode, "_speedups", None)
        assert not decode.compiled_decoding()
    elif not decode.compiled_decoding():
        pytest.skip("the compiled decoder is not built (make install)")


TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")
PARENT_ID = bytes.fromhex("eee19b7ec3c1b173")
START = 1_700_000_000_000_000_000
END = START + 1_500_000


def any_value(value: AttributeValue) -> Any:
    """The protobuf ``AnyValue`` for a Python value (bool before int: bool is an int)."""
    if value is None:
        return common_pb2.AnyValue()
    if isinstance(value, str):
        return common_pb2.AnyValue(string_value=value)
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    if isinstance(value, bytes):
        return common_pb2.AnyValue(bytes_value=value)
    if isinstance(value, list):
        items = [any_value(item) for item in value]
        return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=items))
    return common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=key_values(value)))


def key_values(attributes: dict[str, AttributeValue]) -> list[Any]:
    return [common_pb2.KeyValue(key=k, value=any_value(v)) for k, v in attributes.items()]


def make_span(name: str = "chat gpt-4o", **fields: Any) -> Any:
    values: dict[str, Any] = {
        "trace_id": TRACE_ID,
        "span_id": SPAN_ID,
        "parent_span_id": PARENT_ID,
        "start_time_unix_nano": START,
        "end_time_unix_nano": END,
    }
    values.update(fields)
    return trace_pb2.Span(name=name, **values)


def make_request(*spans: Any, resource: dict[str, AttributeValue] | None = None) -> Any:
    resource_spans = trace_pb2.ResourceSpans(
        resource=resource_pb2.Resource(attributes=key_values(resource or {})),
        scope_spans=[
            trace_pb2.ScopeSpans(
                scope=common_pb2.InstrumentationScope(name="oracle.agents", version="0.3.0"),
                spans=list(spans),
            )
        ],
    )
    return ExportTraceServiceRequest(resource_spans=[resource_spans])


def decode_pb(*spans: Any, limits: DecodeLimits = LIMITS) -> DecodedBatch:
    return decode_protobuf(make_request(*spans).SerializeToString(), limits)


def typed(value: AttributeValue) -> Any:
    """``value`` with the type of every leaf spelled out (``1 == True`` would hide a bug)."""
    if isinstance(value, list):
        return [typed(item) for item in value]
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    return (type(value).__name__, value)


ALL_TYPES: dict[str, AttributeValue] = {
    "str": "planner",
    "empty_str": "",
    "true": True,
    "false": False,
    "int": 42,
    "zero": 0,
    "negative": -(2**63),
    "double": 0.25,
    "zero_double": 0.0,
    "bytes": b"\x00\x01\xff",
    "empty": None,
    "array": [1, "two", 3.5, False, None, b"\x02"],
    "kvlist": {"inner": [1, {"deep": "x", "flag": True}], "n": 7},
}

# The same attributes as OTLP/JSON sends them: int64 as a string (or a number), base64 bytes.
ALL_TYPES_JSON = [
    {"key": "str", "value": {"stringValue": "planner"}},
    {"key": "empty_str", "value": {"stringValue": ""}},
    {"key": "true", "value": {"boolValue": True}},
    {"key": "false", "value": {"boolValue": False}},
    {"key": "int", "value": {"intValue": "42"}},
    {"key": "zero", "value": {"intValue": 0}},
    {"key": "negative", "value": {"intValue": "-9223372036854775808"}},
    {"key": "double", "value": {"doubleValue": 0.25}},
    {"key": "zero_double", "value": {"doubleValue": 0}},
    {"key": "bytes", "value": {"bytesValue": "AAH/"}},
    {"key": "empty", "value": {}},
    {
        "key": "array",
        "value": {
            "arrayValue": {
                "values": [
                    {"intValue": 1},
                    {"stringValue": "two"},
                    {"doubleValue": 3.5},
                    {"boolValue": False},
                    {},
                    {"bytesValue": "Ag=="},
                ]
            }
        },
    },
    {
        "key": "kvlist",
        "value": {
            "kvlistValue": {
                "values": [
                    {
                        "key": "inner",
                        "value": {
                            "arrayValue": {
                                "values": [
                                    {"intValue": "1"},
                                    {
                                        "kvlistValue": {
                                            "values": [
                                                {"key": "deep", "value": {"stringValue": "x"}},
                                                {"key": "flag", "value": {"boolValue": True}},
                                            ]
                                        }
                                    },
                                ]
                            }
                        },
                    },
                    {"key": "n", "value": {"intValue": 7}},
                ]
            }
        },
    },
]


def json_span(name: str = "chat gpt-4o", **fields: Any) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": TRACE_ID.hex(),
        "spanId": SPAN_ID.hex(),
        "parentSpanId": PARENT_ID.hex(),
        "name": name,
        "startTimeUnixNano": str(START),
        "endTimeUnixNano": str(END),
    }
    span.update(fields)
    return span


def json_body(*spans: dict[str, Any], resource: list[Any] | None = None) -> bytes:
    return orjson.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": resource or []},
                    "scopeSpans": [
                        {"scope": {"name": "oracle.agents", "version": "0.3.0"}, "spans": spans}
                    ],
                }
            ]
        }
    )


def only_span(batch: DecodedBatch) -> Span:
    assert batch.rejected_spans == 0, batch.error_message
    assert batch.error_message == ""
    assert len(batch.spans) == 1
    return batch.spans[0]


# --- attribute types ------------------------------------------------------------------------


def test_protobuf_attribute_values_keep_their_types_everywhere() -> None:
    span = make_span(
        attributes=key_values(ALL_TYPES),
        events=[trace_pb2.Span.Event(time_unix_nano=START + 1, attributes=key_values(ALL_TYPES))],
        links=[
            trace_pb2.Span.Link(
                trace_id=TRACE_ID, span_id=PARENT_ID, attributes=key_values(ALL_TYPES)
            )
        ],
    )
    request = make_request(span, resource=ALL_TYPES)
    decoded = only_span(decode_protobuf(request.SerializeToString(), LIMITS))
    expected = typed(ALL_TYPES)
    assert typed(decoded.attributes) == expected
    assert typed(decoded.resource) == expected
    assert typed(decoded.events[0].attributes) == expected
    assert typed(decoded.links[0].attributes) == expected


def test_json_attribute_values_keep_their_types_everywhere() -> None:
    span = json_span(
        attributes=ALL_TYPES_JSON,
        events=[{"timeUnixNano": str(START + 1), "name": "e", "attributes": ALL_TYPES_JSON}],
        links=[
            {"traceId": TRACE_ID.hex(), "spanId": PARENT_ID.hex(), "attributes": ALL_TYPES_JSON}
        ],
    )
    decoded = only_span(decode_json(json_body(span, resource=ALL_TYPES_JSON), LIMITS))
    expected = typed(ALL_TYPES)
    assert typed(decoded.attributes) == expected
    assert typed(decoded.resource) == expected
    assert typed(decoded.events[0].attributes) == expected
    assert typed(decoded.links[0].attributes) == expected


@pytest.mark.parametrize(
    ("json_value", "expected"),
    [
        ({"intValue": "123"}, ("int", 123)),
        ({"intValue": 123}, ("int", 123)),
        ({"intValue": "-5"}, ("int", -5)),
        ({"intValue": 1.0e3}, ("int", 1000)),
        ({"doubleValue": 2}, ("float", 2.0)),
        ({"doubleValue": "1.5"}, ("float", 1.5)),
        ({"doubleValue": "-Infinity"}, ("float", float("-inf"))),
        ({"bytesValue": "-_8"}, ("bytes", b"\xfb\xff")),  # URL-safe, unpadded
        ({"stringValue": None, "boolValue": True}, ("bool", True)),
        ({"unknownValue": 1}, ("NoneType", None)),
        (None, ("NoneType", None)),
    ],
)
def test_json_scalar_spellings(json_value: Any, expected: tuple[str, Any]) -> None:
    span = json_span(attributes=[{"key": "k", "value": json_value}])
    decoded = only_span(decode_json(json_body(span), LIMITS))
    assert typed(decoded.attributes["k"]) == expected


# --- span fields ----------------------------------------------------------------------------


def test_protobuf_span_fields_and_derived_fields() -> None:
    span = make_span(
        trace_state="vendor=1",
        flags=0x301,
        kind=trace_pb2.Span.SPAN_KIND_CLIENT,
        status=trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR, message="rate limited"),
        attributes=key_values({"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 120}),
        dropped_attributes_count=1,
        dropped_events_count=2,
        dropped_links_count=3,
        events=[
            trace_pb2.Span.Event(
                time_unix_nano=START + 10,
                name="exception",
                attributes=key_values({"exception.type": "Timeout"}),
                dropped_attributes_count=4,
            )
        ],
        links=[
            trace_pb2.Span.Link(
                trace_id=TRACE_ID,
                span_id=PARENT_ID,
                trace_state="a=b",
                flags=1,
                dropped_attributes_count=5,
            )
        ],
    )
    resource: dict[str, AttributeValue] = {
        "service.name": "planner-svc",
        "k8s.pod.name": "planner-0",
    }
    request = make_request(span, resource=resource)
    decoded = only_span(decode_protobuf(request.SerializeToString(), LIMITS))
    assert decoded.trace_id == "5b8efff798038103d269b633813fc60c"
    assert decoded.span_id == "eee19b7ec3c1b174"
    assert decoded.parent_span_id == "eee19b7ec3c1b173"
    assert (decoded.name, decoded.kind) == ("chat gpt-4o", SpanKind.CLIENT)
    assert (decoded.start_time_ns, decoded.end_time_ns) == (START, END)
    assert (decoded.status_code, decoded.status_message) == (StatusCode.ERROR, "rate limited")
    assert (decoded.trace_state, decoded.flags) == ("vendor=1", 0x301)
    assert (decoded.scope_name, decoded.scope_version) == ("oracle.agents", "0.3.0")
    assert decoded.resource == resource
    dropped = (
        decoded.dropped_attributes_count,
        decoded.dropped_events_count,
        decoded.dropped_links_count,
    )
    assert dropped == (1, 2, 3)
    event = decoded.events[0]
    assert (event.time_ns, event.name, event.dropped_attributes_count) == (
        START + 10,
        "exception",
        4,
    )
    assert event.attributes == {"exception.type": "Timeout"}
    link = decoded.links[0]
    assert (link.trace_id, link.span_id) == (TRACE_ID.hex(), PARENT_ID.hex())
    assert (link.trace_state, link.flags, link.dropped_attributes_count) == ("a=b", 1, 5)
    # The derived fields are the chain's processors' to fill.
    assert (decoded.service_name, decoded.pod_name, decoded.model) == (
        "unknown_service",
        None,
        None,
    )
    GenAIFields().process([decoded])
    assert decoded.service_name == "planner-svc"
    assert decoded.pod_name == "planner-0"
    assert (decoded.model, decoded.input_tokens) == ("gpt-4o", 120)


def test_json_span_fields_equal_the_protobuf_ones() -> None:
    span = make_span(
        trace_state="vendor=1",
        flags=0x301,
        kind=trace_pb2.Span.SPAN_KIND_SERVER,
        status=trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_OK, message="fine"),
        attributes=key_values({"gen_ai.usage.output_tokens": 7}),
        dropped_events_count=2,
        events=[trace_pb2.Span.Event(time_unix_nano=START + 10, name="retry")],
        links=[trace_pb2.Span.Link(trace_id=TRACE_ID, span_id=PARENT_ID, flags=1)],
    )
    from_protobuf = decode_protobuf(
        make_request(span, resource={"service.name": "svc"}).SerializeToString(), LIMITS
    )
    as_json = json_span(
        traceId=TRACE_ID.hex().upper(),  # hex is case-insensitive; stored lowercase
        traceState="vendor=1",
        flags=0x301,
        kind=2,
        status={"code": 1, "message": "fine"},
        attributes=[{"key": "gen_ai.usage.output_tokens", "value": {"intValue": "7"}}],
        droppedEventsCount=2,
        events=[{"timeUnixNano": START + 10, "name": "retry"}],
        links=[{"traceId": TRACE_ID.hex(), "spanId": PARENT_ID.hex(), "flags": 1}],
        somethingNew={"ignored": True},  # unknown fields are ignored
    )
    body = json_body(as_json, resource=[{"key": "service.name", "value": {"stringValue": "svc"}}])
    from_json = decode_json(body, LIMITS)
    assert only_span(from_json) == only_span(from_protobuf)
    GenAIFields().process(from_json.spans)
    assert from_json.spans[0].output_tokens == 7


@pytest.mark.parametrize(
    ("kind", "code", "expected_kind", "expected_code"),
    [
        ("SPAN_KIND_CONSUMER", "STATUS_CODE_ERROR", SpanKind.CONSUMER, StatusCode.ERROR),
        (5, 2, SpanKind.CONSUMER, StatusCode.ERROR),
        (17, 9, SpanKind.UNSPECIFIED, StatusCode.UNSET),
        ("SPAN_KIND_BOGUS", "STATUS_CODE_BOGUS", SpanKind.UNSPECIFIED, StatusCode.UNSET),
    ],
)
def test_json_enums_as_numbers_or_names(
    kind: Any, code: Any, expected_kind: SpanKind, expected_code: StatusCode
) -> None:
    decoded = only_span(decode_json(json_body(json_span(kind=kind, status={"code": code})), LIMITS))
    assert (decoded.kind, decoded.status_code) == (expected_kind, expected_code)


def test_protobuf_unknown_enum_numbers_map_to_unspecified_and_unset() -> None:
    unknown_code: Any = 9  # not a StatusCode the stubs know
    decoded = only_span(decode_pb(make_span(kind=17, status=trace_pb2.Status(code=unknown_code))))
    assert decoded.kind is SpanKind.UNSPECIFIED
    assert decoded.status_code is StatusCode.UNSET


def test_root_spans_have_empty_parent() -> None:
    no_parent = make_span("a", parent_span_id=b"")
    zero_parent = make_span("b", parent_span_id=bytes(8))
    batch = decode_pb(no_parent, zero_parent)
    assert [span.parent_span_id for span in batch.spans] == ["", ""]
    json_batch = decode_json(
        json_body(json_span("a", parentSpanId=""), json_span("b", parentSpanId="0" * 16)), LIMITS
    )
    assert [span.parent_span_id for span in json_batch.spans] == ["", ""]
    assert json_batch.rejected_spans == 0


def test_resource_is_decoded_once_per_resource_spans() -> None:
    request = make_request(make_span("a"), make_span("b"), resource={"service.name": "svc"})
    first, second = decode_protobuf(request.SerializeToString(), LIMITS).spans
    assert first.resource == {"service.name": "svc"}
    assert first.resource is second.resource
    assert first.attributes is not second.attributes


def test_spans_of_several_resources_and_scopes() -> None:
    request = ExportTraceServiceRequest()
    for service in ("alpha", "beta"):
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(key_values({"service.name": service}))
        for scope in ("s1", "s2"):
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = scope
            scope_spans.spans.append(make_span(f"{service}/{scope}"))
    batch = decode_request(request, LIMITS)
    GenAIFields().process(batch.spans)
    assert [(s.name, s.service_name, s.scope_name) for s in batch.spans] == [
        ("alpha/s1", "alpha", "s1"),
        ("alpha/s2", "alpha", "s2"),
        ("beta/s1", "beta", "s1"),
        ("beta/s2", "beta", "s2"),
    ]


def test_empty_requests() -> None:
    for batch in (
        decode_protobuf(b"", LIMITS),
        decode_json(b"{}", LIMITS),
        decode_json(b'{"resourceSpans": []}', LIMITS),
        decode_json(b'{"resourceSpans": [{"scopeSpans": [{"spans": []}]}]}', LIMITS),
    ):
        assert batch == DecodedBatch(spans=[], rejected_spans=0, error_message="")


# --- spans rejected one by one --------------------------------------------------------------

BAD_SPANS = [
    pytest.param({"trace_id": b"abc"}, "trace_id must be 16 bytes, got 3", id="3-byte-trace-id"),
    pytest.param({"trace_id": bytes(16)}, "trace_id is all zeros", id="zero-trace-id"),
    pytest.param({"span_id": b"1234567"}, "span_id must be 8 bytes, got 7", id="7-byte-span-id"),
    pytest.param({"span_id": bytes(8)}, "span_id is all zeros", id="zero-span-id"),
    pytest.param(
        {"parent_span_id": b"12345"},
        "parent_span_id must be empty or 8 bytes, got 5",
        id="5-byte-parent-id",
    ),
    pytest.param({"start_time_unix_nano": 0}, "start_time_unix_nano is 0", id="zero-start"),
    pytest.param(
        {"end_time_unix_nano": START - 1},
        f"end_time_unix_nano {START - 1} is before start_time_unix_nano {START}",
        id="end-before-start",
    ),
    pytest.param(
        {"end_time_unix_nano": 2**63},
        f"end_time_unix_nano {2**63} is beyond 2**63-1",
        id="end-beyond-int64",
    ),
    pytest.param(
        {"start_time_unix_nano": 2**64 - 2, "end_time_unix_nano": 2**64 - 1},
        "is beyond 2**63-1",
        id="both-beyond-int64",
    ),
]


def assert_only_bad_span_rejected(batch: DecodedBatch, problem: str) -> None:
    assert [span.name for span in batch.spans] == ["good 0", "good 2"]
    assert batch.rejected_spans == 1
    assert batch.error_message.startswith("1 span rejected: span 'bad' (resource 0, scope 0, #1): ")
    assert problem in batch.error_message


@pytest.mark.parametrize(("fields", "problem"), BAD_SPANS)
def test_protobuf_bad_span_rejected_beside_good_ones(fields: dict[str, Any], problem: str) -> None:
    batch = decode_pb(make_span("good 0"), make_span("bad", **fields), make_span("good 2"))
    assert_only_bad_span_rejected(batch, problem)


_JSON_NAMES = {
    "trace_id": "traceId",
    "span_id": "spanId",
    "parent_span_id": "parentSpanId",
    "start_time_unix_nano": "startTimeUnixNano",
    "end_time_unix_nano": "endTimeUnixNano",
}


@pytest.mark.parametrize(("fields", "problem"), BAD_SPANS)
def test_json_bad_span_rejected_beside_good_ones(fields: dict[str, Any], problem: str) -> None:
    bad = {
        _JSON_NAMES[key]: value.hex() if isinstance(value, bytes) else str(value)
        for key, value in fields.items()
    }
    body = json_body(json_span("good 0"), json_span("bad", **bad), json_span("good 2"))
    assert_only_bad_span_rejected(decode_json(body, LIMITS), problem)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"traceId": "zz" * 16}, "traceId is not a hex string: 'zzzz"),
        ({"traceId": TRACE_ID.hex()[:-1]}, "traceId is not a hex string"),  # odd length
        ({"spanId": "eee19b7e c3c1b174"}, "spanId is not a hex string"),  # fromhex takes spaces
        ({"spanId": 12345678}, "spanId is not a hex string: 12345678"),
        ({"parentSpanId": "g" * 16}, "parentSpanId is not a hex string"),
        ({"traceId": "W47/95gDgQPSabYzgT/GDA=="}, "traceId is not a hex string"),  # base64
    ],
)
def test_json_span_with_non_hex_id_rejected_beside_good_ones(
    fields: dict[str, Any], problem: str
) -> None:
    body = json_body(json_span("good 0"), json_span("bad", **fields), json_span("good 2"))
    assert_only_bad_span_rejected(decode_json(body, LIMITS), problem)


def test_rejection_message_lists_five_reasons_then_counts_the_rest() -> None:
    bad = [make_span(f"bad {i}", span_id=bytes(8)) for i in range(7)]
    batch = decode_pb(make_span("good"), *bad)
    assert [span.name for span in batch.spans] == ["good"]
    assert batch.rejected_spans == 7
    assert batch.error_message.startswith(
        "7 spans rejected: span 'bad 0' (resource 0, scope 0, #1)"
    )
    assert batch.error_message.count("span_id is all zeros") == 5
    assert "'bad 4'" in batch.error_message
    assert "'bad 5'" not in batch.error_message
    assert batch.error_message.endswith("span_id is all zeros, and 2 more")


def test_links_with_bad_ids_are_dropped_and_counted() -> None:
    links = [
        trace_pb2.Span.Link(trace_id=b"abc", span_id=PARENT_ID),
        trace_pb2.Span.Link(trace_id=TRACE_ID, span_id=bytes(8)),
        trace_pb2.Span.Link(trace_id=bytes(16), span_id=PARENT_ID),
        trace_pb2.Span.Link(trace_id=TRACE_ID, span_id=PARENT_ID, trace_state="kept"),
    ]
    decoded = only_span(decode_pb(make_span(links=links, dropped_links_count=2)))
    assert [link.trace_state for link in decoded.links] == ["kept"]
    assert decoded.dropped_links_count == 5

    json_links = [
        {"traceId": "xyz", "spanId": PARENT_ID.hex()},
        {"traceId": TRACE_ID.hex(), "spanId": "00" * 8},
        {"traceId": TRACE_ID.hex(), "spanId": PARENT_ID.hex(), "traceState": "kept"},
    ]
    from_json = only_span(decode_json(json_body(json_span(links=json_links)), LIMITS))
    assert [link.trace_state for link in from_json.links] == ["kept"]
    assert from_json.dropped_links_count == 2


def test_events_beyond_int64_time_are_dropped_and_counted() -> None:
    events = [
        trace_pb2.Span.Event(time_unix_nano=2**64 - 1, name="absurd"),
        trace_pb2.Span.Event(time_unix_nano=START, name="fine"),
    ]
    decoded = only_span(decode_pb(make_span(events=events, dropped_events_count=1)))
    assert [event.name for event in decoded.events] == ["fine"]
    assert decoded.dropped_events_count == 2
    json_events = [{"timeUnixNano": str(2**64 - 1), "name": "absurd"}, {"name": "fine"}]
    from_json = only_span(decode_json(json_body(json_span(events=json_events)), LIMITS))
    assert [(e.name, e.time_ns) for e in from_json.events] == [("fine", 0)]
    assert from_json.dropped_events_count == 1


# --- malformed requests ---------------------------------------------------------------------


def test_garbage_protobuf_is_malformed() -> None:
    with pytest.raises(MalformedRequest, match="invalid protobuf"):
        decode_protobuf(b"\xff\xff\xff\xffnot a protobuf at all", LIMITS)


def test_truncated_protobuf_is_malformed() -> None:
    body = make_request(make_span(attributes=key_values({"a": "b" * 50}))).SerializeToString()
    assert decode_pb(make_span()).spans  # the whole message decodes
    with pytest.raises(MalformedRequest, match="invalid protobuf"):
        decode_protobuf(body[: len(body) // 2], LIMITS)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"resourceSpans": [', "invalid JSON"),
        (b"", "invalid JSON"),
        (b"\xff\xfe", "invalid JSON"),
        (b"[]", "must be an object, got array"),
        (b'"resourceSpans"', "must be an object, got string"),
        (b'{"resourceSpans": 5}', "resourceSpans must be an array, got number"),
        (b'{"resourceSpans": [5]}', "resourceSpans must hold objects, got number"),
        (b'{"resourceSpans": [{"scopeSpans": {}}]}', "scopeSpans must be an array, got object"),
        (b'{"resourceSpans": [{"resource": []}]}', "resource must be an object, got array"),
    ],
)
def test_broken_json_or_wrong_structure_is_malformed(body: bytes, problem: str) -> None:
    with pytest.raises(MalformedRequest, match=problem):
        decode_json(body, LIMITS)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"startTimeUnixNano": "soon"}, "startTimeUnixNano must be an integer"),
        ({"endTimeUnixNano": -1}, "endTimeUnixNano is out of range"),
        ({"name": 7}, "name must be a string"),
        ({"kind": [1]}, "an enum must be a number or a name"),
        ({"attributes": {"k": "v"}}, "attributes must be an array"),
        ({"attributes": [{"key": 1, "value": {}}]}, "key must be a string"),
        ({"attributes": [{"key": "k", "value": "v"}]}, "attribute value must be an object"),
        ({"attributes": [{"key": "k", "value": {"stringValue": 5}}]}, "stringValue must be"),
        ({"attributes": [{"key": "k", "value": {"boolValue": "yes"}}]}, "boolValue must be"),
        ({"attributes": [{"key": "k", "value": {"intValue": "1.5"}}]}, "intValue must be"),
        ({"attributes": [{"key": "k", "value": {"intValue": str(2**63)}}]}, "out of range"),
        ({"attributes": [{"key": "k", "value": {"doubleValue": "fast"}}]}, "doubleValue must"),
        ({"attributes": [{"key": "k", "value": {"bytesValue": "!!"}}]}, "bytesValue must be"),
        ({"events": [{"timeUnixNano": "x"}]}, "timeUnixNano must be an integer"),
        ({"droppedLinksCount": 2**32}, "droppedLinksCount is out of range"),
    ],
)
def test_json_values_of_the_wrong_type_are_malformed(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(MalformedRequest, match=problem):
        decode_json(json_body(json_span(**fields)), LIMITS)


def nested_json_body(levels: int) -> bytes:
    value = '{"stringValue": "leaf"}'
    for _ in range(levels):
        value = '{"arrayValue": {"values": [' + value + "]}}"
    # orjson cannot serialize nesting this deep: splice the text by hand.
    span = orjson.dumps(json_span()).decode()[:-1] + ', "attributes": [{"key": "deep", "value": '
    return ('{"resourceSpans": [{"scopeSpans": [{"spans": [' + span + value + "}]}]}]}]}").encode()


def test_json_nested_as_deep_as_json_allows_decodes() -> None:
    decoded = only_span(decode_json(nested_json_body(330), LIMITS))
    value = decoded.attributes["deep"]
    depth = 0
    while isinstance(value, list):
        (value,) = value
        depth += 1
    assert (depth, value) == (330, "leaf")


def test_json_nested_too_deeply_is_malformed() -> None:
    with pytest.raises(MalformedRequest, match="invalid JSON"):
        decode_json(nested_json_body(400), LIMITS)


def length_delimited(field: int, payload: bytes) -> bytes:
    """One protobuf field of wire type LEN (field numbers and lengths here fit varints)."""

    def varint(number: int) -> bytes:
        out = bytearray()
        while number >= 0x80:
            out.append(number & 0x7F | 0x80)
            number >>= 7
        out.append(number)
        return bytes(out)

    return varint(field << 3 | 2) + varint(len(payload)) + payload


def test_protobuf_nested_too_deeply_is_malformed() -> None:
    value = length_delimited(1, b"leaf")  # AnyValue.string_value
    for _ in range(150):
        value = length_delimited(5, length_delimited(1, value))  # array_value.values
    attribute = length_delimited(1, b"deep") + length_delimited(2, value)  # KeyValue
    span = make_span().SerializeToString() + length_delimited(9, attribute)  # Span.attributes
    body = length_delimited(1, length_delimited(2, length_delimited(2, span)))
    shallow = length_delimited(
        1, length_delimited(2, length_delimited(2, make_span().SerializeToString()))
    )
    assert len(decode_protobuf(shallow, LIMITS).spans) == 1  # the hand-built envelope is right
    with pytest.raises(MalformedRequest, match="invalid protobuf"):
        decode_protobuf(body, LIMITS)


# --- truncation -----------------------------------------------------------------------------


def test_long_values_are_truncated_not_rejected() -> None:
    limits = DecodeLimits(max_attribute_value_length=10)
    attributes: dict[str, AttributeValue] = {
        "long": "x" * 11,
        "exact": "y" * 10,
        "unicode": "é" * 12,
        "blob": bytes(range(20)),
        "nested": ["z" * 30, {"inner": "w" * 30}],
    }
    batch = decode_pb(make_span(attributes=key_values(attributes)), limits=limits)
    decoded = only_span(batch).attributes
    assert decoded["long"] == "x" * 10 + TRUNCATION_MARKER
    assert decoded["exact"] == "y" * 10
    assert decoded["unicode"] == "é" * 10 + TRUNCATION_MARKER
    assert decoded["blob"] == bytes(range(10))
    assert decoded["nested"] == [
        "z" * 10 + TRUNCATION_MARKER,
        {"inner": "w" * 10 + TRUNCATION_MARKER},
    ]
    assert TRUNCATION_MARKER == "…[truncated]"


def test_truncation_limit_is_configurable() -> None:
    text = "r" * 70_000
    span = make_span(attributes=key_values({"oracle.agent.reasoning": text}))
    default = only_span(decode_pb(span)).attributes["oracle.agent.reasoning"]
    assert default == "r" * 65536 + TRUNCATION_MARKER
    roomy = DecodeLimits(max_attribute_value_length=100_000)
    assert only_span(decode_pb(span, limits=roomy)).attributes["oracle.agent.reasoning"] == text
    json_attributes = [
        {"key": "s", "value": {"stringValue": "abcdef"}},
        {"key": "a", "value": {"arrayValue": {"values": [{"stringValue": "abcdef"}]}}},
        {"key": "b", "value": {"bytesValue": "AAECAwQF"}},
    ]
    tight = DecodeLimits(max_attribute_value_length=3)
    from_json = only_span(decode_json(json_body(json_span(attributes=json_attributes)), tight))
    assert from_json.attributes == {
        "s": "abc" + TRUNCATION_MARKER,
        "a": ["abc" + TRUNCATION_MARKER],
        "b": b"\x00\x01\x02",
    }


def test_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        DecodeLimits(max_attribute_value_length=-1)
