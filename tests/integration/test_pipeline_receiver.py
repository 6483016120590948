"""`oracle-monitor receiver` on a real broker: as strict as serve, acknowledged only once the
brokers have every span, UNAVAILABLE (and nothing acknowledged) when they are gone."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from oracle_monitor.receiver.decode import DecodeLimits, decode_protobuf
from tests.integration import otlp_payloads as otlp
from tests.integration.pipeline_processes import Pipeline, PipelineProcess, pipeline, read_topic
from tests.integration.test_bad_input import good_and_bad_request

pytestmark = pytest.mark.integration
__all__ = ["pipeline"]

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
PROTOBUF = {"Content-Type": "application/x-protobuf"}


def grpc_export(target: str) -> Callable[..., Any]:
    channel = grpc.insecure_channel(target)
    return channel.unary_unary(
        EXPORT, request_serializer=None, response_deserializer=ExportTraceServiceResponse.FromString
    )


def span_names(messages: list[Any]) -> list[str]:
    return [
        span.name
        for message in messages
        for span in decode_protobuf(message.value(), DecodeLimits()).spans
    ]


def test_partial_success_publishes_only_good_spans_keyed_by_trace(pipeline: Pipeline) -> None:
    receiver = pipeline.receiver()
    body, trace_id = good_and_bad_request()
    response = grpc_export(receiver.grpc_target)(body, timeout=10)
    assert response.partial_success.rejected_spans == 5
    assert "trace_id" in response.partial_success.error_message
    # Acknowledged means on the broker already: read it back at once.
    messages = read_topic(pipeline.broker, pipeline.topic, lambda found: len(found) >= 1)
    assert [m.key() for m in messages] == [trace_id.encode()]
    assert sorted(span_names(messages)) == ["good-child", "good-root"]


def test_http_json_is_published_as_protobuf(pipeline: Pipeline) -> None:
    receiver = pipeline.receiver()
    traces = [bytes([n]) * 16 for n in (1, 2)]
    request = otlp.request(*(otlp.span(t, name=f"s{t[0]}") for t in traces for _ in range(2)))
    document = json_format.MessageToDict(request)
    for span_json, span in zip(
        document["resourceSpans"][0]["scopeSpans"][0]["spans"],
        request.resource_spans[0].scope_spans[0].spans,
        strict=True,
    ):
        span_json["traceId"], span_json["spanId"] = span.trace_id.hex(), span.span_id.hex()
    response = httpx.post(f"{receiver.otlp_http_url}/v1/traces", json=document, timeout=10)
    assert response.status_code == 200, response.text
    assert "partialSuccess" not in response.json()
    messages = read_topic(pipeline.broker, pipeline.topic, lambda found: len(found) >= 2)
    assert sorted(m.key() for m in messages) == sorted(t.hex().encode() for t in traces)
    for message in messages:
        stored = ExportTraceServiceRequest.FromString(message.value())
        assert stored.resource_spans[0].resource == request.resource_spans[0].resource
        assert len(stored.resource_spans[0].scope_spans[0].spans) == 2


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"\xff\xfe garbage \x00\x01", PROTOBUF, 400),
        (b'{"resourceSpans": [', {"Content-Type": "application/json"}, 400),
        (b"\x1f\x8b\x08 not gzip", {**PROTOBUF, "Content-Encoding": "gzip"}, 400),
        (b"", {"Content-Type": "text/plain"}, 415),
        (b"\x00" * (2 * 1024 * 1024), PROTOBUF, 413),
    ],
    ids=["garbage", "broken-json", "bad-gzip", "content-type", "oversized"],
)
def test_http_refusals(
    pipeline: Pipeline, content: bytes, headers: dict[str, str], status: int
) -> None:
    receiver = pipeline.receiver(max_request_bytes=str(1024 * 1024))
    response = httpx.post(
        f"{receiver.otlp_http_url}/v1/traces", content=content, headers=headers, timeout=10
    )
    assert response.status_code == status
    assert receiver.alive()
    assert read_topic(pipeline.broker, pipeline.topic, lambda found: False, timeout_s=1) == []


def test_grpc_malformed_and_oversized(pipeline: Pipeline) -> None:
    receiver = pipeline.receiver(max_request_bytes=str(1024 * 1024))
    export = grpc_export(receiver.grpc_target)
    with pytest.raises(grpc.RpcError) as malformed:
        export(b"\xff\xfe garbage \x00\x01", timeout=10)
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    big = otlp.request(otlp.span(attributes={"x": "y" * (2 * 1024 * 1024)})).SerializeToString()
    with pytest.raises(grpc.RpcError) as oversized:
        export(big, timeout=10)
    assert oversized.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert receiver.health()["receiver"]["malformed_requests"] == 1


def test_token_is_required_when_set(pipeline: Pipeline) -> None:
    receiver = pipeline.receiver(otlp_token="s3cret")
    body = otlp.request(otlp.span()).SerializeToString()
    url = f"{receiver.otlp_http_url}/v1/traces"
    assert httpx.post(url, content=body, headers=PROTOBUF, timeout=10).status_code == 401
    authorised = {**PROTOBUF, "Authorization": "Bearer s3cret"}
    assert httpx.post(url, content=body, headers=authorised, timeout=10).status_code == 200


def test_broker_down_is_unavailable_and_nothing_is_acknowledged(pipeline: Pipeline) -> None:
    receiver: PipelineProcess = pipeline.receiver(pipeline_delivery_timeout_seconds="1.5")
    export = grpc_export(receiver.grpc_target)
    export(otlp.request(otlp.span()).SerializeToString(), timeout=10)  # the broker is up
    pipeline.broker.stop()

    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as refused:
        export(otlp.request(otlp.span(name="lost?")).SerializeToString(), timeout=20)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    keys = [item.key for item in refused.value.trailing_metadata() or ()]
    assert "google.rpc.retryinfo-bin" in keys  # exporters retry after the given delay
    assert time.monotonic() - started < 10

    body = otlp.request(otlp.span(name="lost?")).SerializeToString()
    response = httpx.post(
        f"{receiver.otlp_http_url}/v1/traces", content=body, headers=PROTOBUF, timeout=20
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    stats = receiver.health()["receiver"]
    assert stats["accepted_spans"] == 1  # only the span sent while the broker was up
    assert stats["failed_requests"] == 2
    assert receiver.alive()


def test_full_queue_refuses_with_retry_info(pipeline: Pipeline) -> None:
    # One byte of queue: while a request waits for the (stopped) broker, the next is refused.
    receiver = pipeline.receiver(queue_max_bytes="1", pipeline_delivery_timeout_seconds="3")
    pipeline.broker.stop()
    url = f"{receiver.otlp_http_url}/v1/traces"
    body = otlp.request(otlp.span()).SerializeToString()
    with httpx.Client(timeout=20) as client:
        import threading

        first: list[int] = []
        waiting = threading.Thread(
            target=lambda: first.append(
                client.post(url, content=body, headers=PROTOBUF).status_code
            )
        )
        waiting.start()
        time.sleep(0.5)
        second = client.post(url, content=body, headers=PROTOBUF)
        waiting.join()
    assert second.status_code == 429
    assert second.headers["Retry-After"]
    assert first == [503]
