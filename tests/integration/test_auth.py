"""With ORACLE_AUTH_TOKEN set, OTLP and the API need the bearer token; health stays open."""

from __future__ import annotations

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.integration import otlp_payloads as otlp
from tests.integration.conftest import StartServer
from tests.integration.test_bad_input import EXPORT, PROTOBUF
from tests.integration.test_durability import make_spans

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"


def test_bearer_token_guards_every_door(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_server(auth_token=TOKEN)
    body = otlp.request(
        otlp.span(bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736"))
    ).SerializeToString()

    # OTLP/HTTP
    url = f"{server.otlp_http_url}/v1/traces"
    assert httpx.post(url, content=body, headers=PROTOBUF).status_code == 401
    wrong = {**PROTOBUF, "Authorization": "Bearer nope"}
    assert httpx.post(url, content=body, headers=wrong).status_code == 401
    right = {**PROTOBUF, "Authorization": f"Bearer {TOKEN}"}
    assert httpx.post(url, content=body, headers=right).status_code == 200

    # OTLP/gRPC, raw and through the stock exporter configured from the environment
    with grpc.insecure_channel(server.grpc_target) as channel:
        export = channel.unary_unary(
            EXPORT,
            request_serializer=None,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as caught:
            export(body, timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer%20{TOKEN}")
    exporter = GrpcSpanExporter(endpoint=f"http://{server.grpc_target}", insecure=True)
    spans = make_spans(traces=1)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    exporter.shutdown()

    # API: health open, the rest closed without the token
    assert server.api("/api/v1/health").status_code == 200
    assert server.api("/api/v1/traces").status_code == 401
    listing = httpx.get(
        f"{server.api_url}/api/v1/traces", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert listing.status_code == 200
    assert len(listing.json()["traces"]) == 2
    assert TOKEN not in server.log()
