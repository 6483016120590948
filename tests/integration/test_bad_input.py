"""Bad input at each door gets the right answer, the server stays up, good spans are stored."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import grpc
import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.integration import otlp_payloads as otlp
from tests.integration.oracle_server import OracleServer

pytestmark = pytest.mark.integration

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
PROTOBUF = {"Content-Type": "application/x-protobuf"}
MiB = 1024 * 1024


@pytest.fixture
def grpc_export(server: OracleServer) -> Iterator[grpc.UnaryUnaryMultiCallable[bytes, object]]:
    """Call Export with raw bytes, so malformed requests can be sent."""
    with grpc.insecure_channel(server.grpc_target) as channel:
        yield channel.unary_unary(
            EXPORT,
            request_serializer=None,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )


def good_and_bad_request() -> tuple[bytes, str]:
    """Two good spans of one trace beside five spans with bad ids; returns body, trace id."""
    good_trace = bytes.fromhex("5b8efff798038103d269b633813fc60c")
    spans = [
        otlp.span(good_trace, name="good-root"),
        otlp.span(b"\x01\x02\x03", name="3-byte-trace-id"),
        otlp.span(bytes(16), name="zero-trace-id"),
        otlp.span(good_trace, b"\x01\x02\x03", name="3-byte-span-id"),
        otlp.span(good_trace, bytes(8), name="zero-span-id"),
        otlp.span(good_trace, name="bad-parent", parent_span_id=b"\x01\x02\x03"),
        otlp.span(good_trace, name="good-child"),
    ]
    return otlp.request(*spans).SerializeToString(), good_trace.hex()


def assert_good_spans_stored(server: OracleServer, trace_id: str) -> None:
    names = {span["name"] for span in server.wait_for_trace(trace_id, spans=2)["spans"]}
    assert names == {"good-root", "good-child"}


def test_grpc_partial_success(
    server: OracleServer, grpc_export: grpc.UnaryUnaryMultiCallable[bytes, object]
) -> None:
    body, trace_id = good_and_bad_request()
    response = grpc_export(body, timeout=10)
    assert isinstance(response, ExportTraceServiceResponse)
    assert response.partial_success.rejected_spans == 5
    assert "trace_id" in response.partial_success.error_message
    assert "span_id" in response.partial_success.error_message
    assert_good_spans_stored(server, trace_id)


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_http_partial_success(server: OracleServer, encoding: str) -> None:
    body, trace_id = good_and_bad_request()
    if encoding == "json":
        # Ids in OTLP/JSON are hex strings; the 3-byte ids stay 3 bytes (6 hex digits).
        message = otlp.request()
        message.ParseFromString(body)
        document = json_format.MessageToDict(message)
        for resource_spans in document["resourceSpans"]:
            for scope_spans in resource_spans["scopeSpans"]:
                for span_json, span in zip(
                    scope_spans["spans"],
                    message.resource_spans[0].scope_spans[0].spans,
                    strict=True,
                ):
                    span_json["traceId"] = span.trace_id.hex()
                    span_json["spanId"] = span.span_id.hex()
                    span_json["parentSpanId"] = span.parent_span_id.hex()
        response = httpx.post(
            f"{server.otlp_http_url}/v1/traces",
            json=document,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["partialSuccess"]["rejectedSpans"] in ("5", 5)
    else:
        response = httpx.post(f"{server.otlp_http_url}/v1/traces", content=body, headers=PROTOBUF)
        assert response.status_code == 200, response.text
        parsed = ExportTraceServiceResponse.FromString(response.content)
        assert parsed.partial_success.rejected_spans == 5
    assert_good_spans_stored(server, trace_id)


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe garbage \x00\x01", otlp.request(otlp.span()).SerializeToString()[:-7]],
    ids=["garbage", "truncated"],
)
def test_grpc_malformed_is_invalid_argument(
    server: OracleServer, grpc_export: grpc.UnaryUnaryMultiCallable[bytes, object], body: bytes
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        grpc_export(body, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details()
    assert server.alive()


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"\xff\xfe garbage \x00\x01", PROTOBUF),
        (otlp.request(otlp.span()).SerializeToString()[:-7], PROTOBUF),
        (b'{"resourceSpans": [', {"Content-Type": "application/json"}),
        (b'["not", "an", "object"]', {"Content-Type": "application/json"}),
        (b"\x1f\x8b\x08 not gzip", {**PROTOBUF, "Content-Encoding": "gzip"}),
    ],
    ids=["garbage", "truncated", "broken-json", "json-array", "bad-gzip"],
)
def test_http_malformed_is_400(
    server: OracleServer, content: bytes, headers: dict[str, str]
) -> None:
    response = httpx.post(f"{server.otlp_http_url}/v1/traces", content=content, headers=headers)
    assert response.status_code == 400
    assert response.content  # a google.rpc.Status saying what is wrong
    assert server.health()["status"] == "ok"


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
def test_http_unknown_content_type_is_415(server: OracleServer, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = otlp.request(otlp.span()).SerializeToString()
    response = httpx.post(f"{server.otlp_http_url}/v1/traces", content=body, headers=headers)
    assert response.status_code == 415
    assert b"Content-Type" in response.content


def test_http_64_mib_body_is_413(server: OracleServer) -> None:
    response = httpx.post(
        f"{server.otlp_http_url}/v1/traces", content=b"\x00" * (64 * MiB), headers=PROTOBUF
    )
    assert response.status_code == 413
    assert server.health()["status"] == "ok"


def test_http_gzip_bomb_is_413(server: OracleServer) -> None:
    bomb = gzip.compress(b"\x00" * (200 * MiB), compresslevel=9)
    assert len(bomb) < MiB  # small on the wire, 200 MiB inflated
    response = httpx.post(
        f"{server.otlp_http_url}/v1/traces",
        content=bomb,
        headers={**PROTOBUF, "Content-Encoding": "gzip"},
    )
    assert response.status_code == 413
    assert server.health()["status"] == "ok"


def test_grpc_64_mib_message_is_resource_exhausted(
    server: OracleServer, grpc_export: grpc.UnaryUnaryMultiCallable[bytes, object]
) -> None:
    big = otlp.request(otlp.span(attributes={"blob": "x" * (64 * MiB)})).SerializeToString()
    with pytest.raises(grpc.RpcError) as caught:
        grpc_export(big, timeout=30)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert server.alive()


def test_grpc_gzip_bomb_is_resource_exhausted(
    server: OracleServer, grpc_export: grpc.UnaryUnaryMultiCallable[bytes, object]
) -> None:
    # 64 MiB of one repeated byte compresses to well under 1 MiB on the wire.
    big = otlp.request(otlp.span(attributes={"blob": "x" * (64 * MiB)})).SerializeToString()
    with pytest.raises(grpc.RpcError) as caught:
        grpc_export(big, timeout=30, compression=grpc.Compression.Gzip)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    good, trace_id = good_and_bad_request()
    grpc_export(good, timeout=10, compression=grpc.Compression.Gzip)
    assert_good_spans_stored(server, trace_id)


def test_typed_attributes_end_to_end_and_truncation(server: OracleServer) -> None:
    """Every OTLP attribute type keeps its type; an over-long value is cut with a marker."""
    attributes = {
        "s": "text",
        "b": True,
        "i": -(2**62),
        "d": 3.0,
        "raw": b"\x00\xffbytes",
        "arr": ["a", 1, 2.5, False],
        "kv": {"nested": {"deep": [1, 2]}, "n": 7},
        "long": "y" * 100_000,
    }
    trace = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    body = otlp.request(otlp.span(trace, attributes=attributes)).SerializeToString()
    response = httpx.post(
        f"{server.otlp_http_url}/v1/traces",
        content=gzip.compress(body),
        headers={**PROTOBUF, "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200
    stored = server.wait_for_trace(trace.hex(), spans=1)["spans"][0]["attributes"]
    assert stored["s"] == "text" and stored["b"] is True
    assert stored["i"] == -(2**62)
    assert stored["d"] == 3.0 and isinstance(stored["d"], float)
    assert stored["raw"] == {"bytesValue": "AP9ieXRlcw=="}
    assert stored["arr"] == ["a", 1, 2.5, False]
    assert stored["kv"] == {"nested": {"deep": [1, 2]}, "n": 7}
    assert stored["long"].startswith("y" * 1000)
    assert stored["long"].endswith("…[truncated]")
    assert len(stored["long"]) == 65536 + len("…[truncated]")
