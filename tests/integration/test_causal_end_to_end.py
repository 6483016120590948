"""The seed cascade end to end: its spans sent over OTLP/gRPC to a running `oracle-monitor
serve`, its infrastructure events stored as the collectors store them, and the chain read
back from the REST API."""

from __future__ import annotations

import time
from typing import Any, cast

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Status
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan

from oracle_monitor.model import Span
from oracle_monitor.store import open_store
from oracle_monitor.timestamps import rfc3339
from tests.integration.conftest import StartServer
from tests.integration.otlp_payloads import key_values
from tests.integration.test_bad_input import EXPORT
from tests.integration.test_causal_api import SEED
from tests.unit.aggregator.scenarios import seed_scenario

pytestmark = pytest.mark.integration


def as_otlp(spans: list[Span]) -> ExportTraceServiceRequest:
    """The spans as an agent's SDK would export them: grouped by resource."""
    request = ExportTraceServiceRequest()
    by_resource: dict[str, ResourceSpans] = {}
    for span in spans:
        key = repr(sorted(span.resource.items()))
        if key not in by_resource:
            by_resource[key] = request.resource_spans.add(
                resource=Resource(attributes=key_values(dict(span.resource))),
                scope_spans=[ScopeSpans(scope=InstrumentationScope(name="agent"))],
            )
        by_resource[key].scope_spans[0].spans.append(
            OtlpSpan(
                trace_id=bytes.fromhex(span.trace_id),
                span_id=bytes.fromhex(span.span_id),
                parent_span_id=bytes.fromhex(span.parent_span_id),
                name=span.name,
                kind=cast(Any, int(span.kind)),
                start_time_unix_nano=span.start_time_ns,
                end_time_unix_nano=span.end_time_ns,
                attributes=key_values(dict(span.attributes)),
                status=Status(code=cast(Any, int(span.status_code)), message=span.status_message),
            )
        )
    return request


def test_the_seed_cascade_through_the_receiver(start_server: StartServer) -> None:
    seed = seed_scenario()
    server = start_server()
    with grpc.insecure_channel(server.grpc_target) as channel:
        export = channel.unary_unary(
            EXPORT,
            request_serializer=ExportTraceServiceRequest.SerializeToString,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )
        response = export(as_otlp(seed.spans), timeout=10)
    assert response.partial_success.rejected_spans == 0
    # The collectors' events, stored the way their sink stores them.
    store = open_store(f"sqlite:///{server.data_dir}/oracle.db")
    store.write_events(seed.events)
    store.close()

    trace_id = seed.spans[0].trace_id
    server.wait_for_trace(trace_id, spans=len([s for s in seed.spans if s.trace_id == trace_id]))
    deadline = time.monotonic() + 10
    body: dict[str, object] = {}
    while time.monotonic() < deadline:
        body = server.api(f"/api/v1/traces/{trace_id}/causal-chain", at=rfc3339(seed.now_ns)).json()
        if body.get("chain"):
            break
        time.sleep(0.1)
    chain = body["chain"]
    assert isinstance(chain, list)
    assert [link["kind"] for link in chain] == SEED
