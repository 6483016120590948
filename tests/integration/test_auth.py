"""Bearer tokens on every door: ORACLE_AUTH_TOKEN for both, or ORACLE_API_TOKEN and
ORACLE_OTLP_TOKEN apart; health stays open; a non-loopback bind without a token warns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    assert httpx.get(f"{server.api_url}/api/v1/health").status_code == 200
    assert httpx.get(f"{server.api_url}/api/v1/traces").status_code == 401  # no token sent
    listing = httpx.get(
        f"{server.api_url}/api/v1/traces", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert listing.status_code == 200
    assert len(listing.json()["traces"]) == 2
    assert TOKEN not in server.log()


def test_api_and_otlp_tokens_are_separate(start_server: StartServer) -> None:
    server = start_server(api_token="api-only-token", otlp_token="otlp-only-token")
    body = otlp.request(
        otlp.span(bytes.fromhex("5bf92f3577b34da6a3ce929d0e0e4736"))
    ).SerializeToString()
    url = f"{server.otlp_http_url}/v1/traces"

    def post(token: str) -> httpx.Response:
        return httpx.post(
            url, content=body, headers={**PROTOBUF, "Authorization": f"Bearer {token}"}
        )

    def get(token: str) -> httpx.Response:
        return httpx.get(
            f"{server.api_url}/api/v1/traces", headers={"Authorization": f"Bearer {token}"}
        )

    refused = post("api-only-token")
    assert refused.status_code == 401
    assert b"token" not in refused.content  # says only that authentication is required
    assert post("otlp-only-token").status_code == 200
    assert get("otlp-only-token").status_code == 401
    assert get("otlp-only-token").json() == {"detail": "authentication required"}
    assert get("api-only-token").status_code == 200
    for path in ("/jaeger/api/services", "/metrics", "/api/v1/alerts"):  # every API door
        assert httpx.get(f"{server.api_url}{path}").status_code == 401, path
        opened = httpx.get(
            f"{server.api_url}{path}", headers={"Authorization": "Bearer api-only-token"}
        )
        assert opened.status_code == 200, path
    assert httpx.get(f"{server.api_url}/api/v1/health").status_code == 200
    assert "api-only-token" not in server.log()
    assert "otlp-only-token" not in server.log()
    assert "required for OTLP, required for the API" in server.log()


def test_binding_beyond_loopback_without_a_token_warns(tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is on no interface here: binding fails after the warning is
    # printed, so nothing ever listens beyond loopback during the test.
    done = subprocess.run(
        [sys.executable, "-m", "oracle_monitor", "serve", "--data-dir", str(tmp_path)],
        env={**os.environ, "ORACLE_HOST": "192.0.2.1", "ORACLE_API_TOKEN": "t0ken"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "ORACLE_OTLP_TOKEN" in done.stderr
    assert "ORACLE_API_TOKEN" not in done.stderr  # the API has its token
    assert "WARNING" in done.stderr
