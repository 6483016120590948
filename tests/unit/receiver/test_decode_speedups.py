"""The compiled OTLP decoder (``oracle_monitor_speedups.otlp``) gives what the runtime's path does.

`decode_protobuf` hands a request the protobuf runtime parsed to the compiled decoder when it
is installed; every test here decodes the same bytes both ways and wants the same spans, types
included (``repr`` tells ``1`` from ``True`` and ``1.0``): spans recorded from real frameworks,
seeded random requests with every kind of value, event and link, and hand-made encodings that
protobuf merges or replaces (the compiled decoder leaves those to the runtime's path).
"""

from __future__ import annotations

import base64
import random
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from oracle_monitor.receiver.decode import (
    MAX_TIME,
    DecodedBatch,
    DecodeLimits,
    compiled_decoder,
    compiled_decoding,
    decode_protobuf,
    decode_request,
)

speedups = pytest.importorskip(
    "oracle_monitor_speedups.otlp", reason="the compiled decoder is not built (make install)"
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "frameworks"
LIMITS = DecodeLimits()
SHORT = DecodeLimits(max_attribute_value_length=5)
SEEDS = range(40)  # the random requests decoded both ways


def runtime_path(body: bytes, limits: DecodeLimits) -> DecodedBatch:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return decode_request(request, limits)


def assert_same(body: bytes, limits: DecodeLimits = LIMITS, *, compiled: bool = True) -> None:
    """Both paths agree on ``body``; ``compiled``: the compiled decoder takes it on itself."""
    expected = runtime_path(body, limits)
    assert repr(decode_protobuf(body, limits)) == repr(expected)
    if compiled:
        assert repr(compiled_decoder(limits).spans(body)) == repr(expected.spans)
    else:
        with pytest.raises(speedups.Unsupported):
            compiled_decoder(limits).spans(body)


def otlp_json_to_protobuf(document: dict[str, Any]) -> bytes:
    """OTLP/JSON (hex ids) as protobuf bytes, through protobuf's JSON mapping (base64 ids)."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        return {
            key: base64.b64encode(bytes.fromhex(value)).decode()
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str)
            else walk(value)
            for key, value in node.items()
        }

    request = json_format.ParseDict(walk(document), ExportTraceServiceRequest())
    return bytes(request.SerializeToString())


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in FIXTURES.glob("*.json") if ".calls" not in p.name)
)
def test_spans_recorded_from_frameworks(name: str) -> None:
    body = otlp_json_to_protobuf(orjson.loads((FIXTURES / f"{name}.json").read_bytes()))
    assert len(runtime_path(body, LIMITS).spans) > 0
    assert_same(body)
    assert_same(body, SHORT)


# -- seeded random requests -------------------------------------------------------------------

TEXTS = ("", "a", "planner", "résumé", "日本語のテキスト", "🙂 emoji", "x" * 300, "\x00nul")


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return common_pb2.AnyValue(string_value=rng.choice(TEXTS))
    if kind == 1:
        return common_pb2.AnyValue(bool_value=rng.random() < 0.5)
    if kind == 2:
        return common_pb2.AnyValue(int_value=rng.choice((0, 1, -1, 2**63 - 1, -(2**63), 42)))
    if kind == 3:
        return common_pb2.AnyValue(double_value=rng.choice((0.0, -0.0, 0.25, 1e300, float("inf"))))
    if kind == 4:
        return common_pb2.AnyValue(bytes_value=rng.randbytes(rng.choice((0, 3, 40))))
    if kind == 5:
        return common_pb2.AnyValue()  # no value
    if kind == 6:
        items = [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
        return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=items))
    return common_pb2.AnyValue(
        kvlist_value=common_pb2.KeyValueList(values=random_attributes(rng, depth + 1))
    )


def random_attributes(rng: random.Random, depth: int = 0) -> list[Any]:
    keys = [rng.choice(("gen_ai.system", "k", "k", "", "ключ", f"key{rng.randrange(5)}"))]
    keys += [f"attribute.{n}" for n in range(rng.randrange(6))]
    return [common_pb2.KeyValue(key=key, value=random_value(rng, depth)) for key in keys]


def random_id(rng: random.Random, size: int) -> bytes:
    """Mostly random; now and then all zeros (the span is rejected) or nearly so (it is not)."""
    draw = rng.random()
    if draw < 0.02:
        return bytes(size)
    return rng.randbytes(size) if draw < 0.9 else bytes(size - 1) + b"\x01"


def random_span(rng: random.Random) -> Any:
    start = rng.randrange(1, MAX_TIME // 2)
    span = trace_pb2.Span(
        trace_id=random_id(rng, 16),
        span_id=random_id(rng, 8),
        parent_span_id=rng.choice((b"", bytes(8), random_id(rng, 8))),
        name=rng.choice(TEXTS),
        kind=cast(Any, rng.choice((0, 1, 2, 3, 4, 5, 9))),  # 9: a kind this version does not know
        start_time_unix_nano=start,
        end_time_unix_nano=start + rng.randrange(0, 10**12),
        attributes=random_attributes(rng),
        trace_state=rng.choice(("", "vendor=1,other=2")),
        flags=rng.choice((0, 1, 0x301)),
        dropped_attributes_count=rng.choice((0, 3)),
        dropped_events_count=rng.choice((0, 2)),
        dropped_links_count=rng.choice((0, 1)),
    )
    if rng.random() < 0.5:
        span.status.code = cast(
            Any, rng.choice((0, 1, 2, 7))
        )  # 7: a code this version does not know
        span.status.message = rng.choice(TEXTS)
    for _ in range(rng.randrange(3)):
        span.events.add(
            time_unix_nano=rng.choice((start, MAX_TIME, MAX_TIME + 1, 2**64 - 1)),
            name=rng.choice(TEXTS),
            attributes=random_attributes(rng),
            dropped_attributes_count=rng.choice((0, 1)),
        )
    for _ in range(rng.randrange(3)):
        span.links.add(
            trace_id=rng.choice((rng.randbytes(16), bytes(16), rng.randbytes(15))),
            span_id=rng.choice((rng.randbytes(8), bytes(8), b"")),
            trace_state=rng.choice(("", "a=b")),
            attributes=random_attributes(rng),
            flags=rng.choice((0, 256)),
            dropped_attributes_count=rng.choice((0, 4)),
        )
    return span


def random_request(rng: random.Random) -> Any:
    resource_spans = []
    for _ in range(rng.randrange(1, 4)):
        scopes = [
            trace_pb2.ScopeSpans(
                scope=common_pb2.InstrumentationScope(
                    name=rng.choice(TEXTS),
                    version=rng.choice(("", "1.2.3")),
                    attributes=random_attributes(rng),  # not kept, skipped by both
                ),
                spans=[random_span(rng) for _ in range(rng.randrange(5))],
                schema_url=rng.choice(("", "https://opentelemetry.io/schemas/1.26.0")),
            )
            for _ in range(rng.randrange(1, 3))
        ]
        resource = resource_pb2.Resource(
            attributes=random_attributes(rng), dropped_attributes_count=rng.choice((0, 1))
        )
        resource_spans.append(trace_pb2.ResourceSpans(resource=resource, scope_spans=scopes))
    return ExportTraceServiceRequest(resource_spans=resource_spans)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_requests(seed: int) -> None:
    rng = random.Random(seed)
    body = random_request(rng).SerializeToString()
    valid = runtime_path(body, LIMITS).rejected_spans == 0
    assert_same(body, compiled=valid)  # a rejected span is left to the runtime's path
    assert_same(body, SHORT, compiled=valid)


def test_random_requests_cover_what_they_should() -> None:
    """The seeds above do meet rejected spans, dropped events and links, and every value type."""
    batches = [
        runtime_path(random_request(random.Random(s)).SerializeToString(), LIMITS) for s in SEEDS
    ]
    spans = [span for batch in batches for span in batch.spans]
    assert sum(batch.rejected_spans == 0 for batch in batches) >= 10
    assert any(batch.rejected_spans for batch in batches)
    assert any(span.events for span in spans) and any(span.links for span in spans)
    values = [value for span in spans for value in span.attributes.values()]
    assert {type(value).__name__ for value in values} >= {
        "str", "bool", "int", "float", "bytes", "NoneType", "list", "dict"
    }  # fmt: skip


# -- encodings that protobuf merges, replaces or skips ----------------------------------------


def tag(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field_bytes(field: int, payload: bytes) -> bytes:
    return tag(field, 2) + varint(len(payload)) + payload


def span_bytes(extra: bytes = b"") -> bytes:
    span = trace_pb2.Span(
        trace_id=bytes(range(1, 17)),
        span_id=bytes(range(1, 9)),
        name="chat",
        start_time_unix_nano=10,
        end_time_unix_nano=20,
        attributes=[common_pb2.KeyValue(key="k", value=common_pb2.AnyValue(string_value="v"))],
    )
    return bytes(span.SerializeToString()) + extra


def request_bytes(span: bytes, *, resource_after: bool = False, scope_after: bool = False) -> bytes:
    resource = field_bytes(
        1, field_bytes(1, common_pb2.KeyValue(key="service.name").SerializeToString())
    )
    scope = field_bytes(1, field_bytes(1, b"scope"))
    scope_spans = scope + field_bytes(2, span) if not scope_after else field_bytes(2, span) + scope
    resource_spans = (
        resource + field_bytes(2, scope_spans)
        if not resource_after
        else field_bytes(2, scope_spans) + resource
    )
    return field_bytes(1, resource_spans)


UNKNOWN_FIELDS = (
    tag(100, 0) + varint(7) + tag(101, 1) + bytes(8) + tag(102, 2) + varint(2) + b"xy"
    + tag(103, 5) + bytes(4)
)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "compiled"),
    [
        pytest.param(request_bytes(span_bytes()), True, id="plain"),
        pytest.param(request_bytes(span_bytes(UNKNOWN_FIELDS)), True, id="unknown fields"),
        pytest.param(
            request_bytes(span_bytes(tag(6, 0) + b"\x82\x80\x00")), True, id="non-minimal varint"
        ),
        pytest.param(
            request_bytes(span_bytes(tag(6, 0) + varint(2**32 + 3))), True, id="int32 overflow"
        ),
        pytest.param(
            request_bytes(span_bytes(tag(6, 0) + varint(2**64 - 2))), True, id="negative kind"
        ),
        pytest.param(request_bytes(span_bytes(field_bytes(5, b"again"))), False, id="name twice"),
        pytest.param(
            request_bytes(span_bytes(field_bytes(15, field_bytes(2, b"m")) * 2)),
            False,
            id="status twice (merged)",
        ),
        pytest.param(
            request_bytes(span_bytes(field_bytes(9, field_bytes(1, b"k") * 2))),
            False,
            id="key twice",
        ),
        pytest.param(
            request_bytes(
                span_bytes(
                    field_bytes(
                        9,
                        field_bytes(1, b"k")
                        + field_bytes(2, field_bytes(1, b"text") + tag(3, 0) + varint(5)),
                    )
                )
            ),
            False,
            id="two oneof members",
        ),
        pytest.param(request_bytes(span_bytes(tag(5, 0) + varint(1))), False, id="wrong wire type"),
        pytest.param(
            request_bytes(span_bytes(tag(200, 3) + tag(1, 0) + varint(1) + tag(200, 4))),
            False,
            id="group",
        ),
        pytest.param(request_bytes(span_bytes(), resource_after=True), False, id="resource last"),
        pytest.param(request_bytes(span_bytes(), scope_after=True), False, id="scope last"),
        pytest.param(b"", True, id="empty request"),
        pytest.param(field_bytes(1, b""), True, id="empty resource spans"),
    ],
)
def test_encodings(body: bytes, compiled: bool) -> None:
    assert_same(body, compiled=compiled)


def test_truncation_counts_characters_not_bytes() -> None:
    value = field_bytes(2, field_bytes(1, "日本語のテキスト".encode()))
    body = request_bytes(span_bytes(field_bytes(9, field_bytes(1, b"k") + value)))
    assert_same(body, SHORT)
    assert compiled_decoder(SHORT).spans(body)[0].attributes["k"] == "日本語のテ…[truncated]"


def test_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        speedups.Decoder(None, None, None, {}, {}, None, None, "", -1)


def test_the_receiver_decodes_with_it() -> None:
    assert compiled_decoding()
