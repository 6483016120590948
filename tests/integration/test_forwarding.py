"""OTLP forwarding between two real servers: every span accepted by one `oracle-monitor serve`
reaches a second one (over gRPC and over HTTP), with the correlated infrastructure events as
span events; a target that never answers neither slows ingestion nor goes unreported."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from oracle_monitor.model import InfraEvent, Severity
from oracle_monitor.store import open_store
from tests.integration.conftest import StartServer
from tests.integration.oracle_server import OracleServer
from tests.integration.test_durability import batches, make_spans

pytestmark = pytest.mark.integration

POD = {"k8s.pod.name": "research-0", "k8s.pod.uid": "uid-1", "k8s.namespace.name": "agents"}


def _agent_spans() -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "research", **POD}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.forwarding")
    root = tracer.start_as_current_span("invoke_agent research", attributes={"oracle.task.id": "t"})
    with root, tracer.start_as_current_span("chat gpt-4o") as chat:
        chat.set_attribute("gen_ai.request.model", "gpt-4o")
        chat.add_event("gen_ai.choice", {"index": 0})
    provider.shutdown()
    return list(memory.get_finished_spans())


def _export(server: OracleServer, spans: list[ReadableSpan]) -> None:
    exporter = OTLPSpanExporter(endpoint=f"http://{server.grpc_target}", insecure=True)
    for batch in batches(spans, 100):
        assert exporter.export(batch) == SpanExportResult.SUCCESS
    exporter.shutdown()


def _forward_health(server: OracleServer) -> list[dict[str, Any]]:
    endpoints: list[dict[str, Any]] = server.health()["forward"]["endpoints"]
    return endpoints


def _comparable(span: dict[str, Any]) -> dict[str, Any]:
    keep = ("trace_id", "span_id", "parent_span_id", "name", "kind", "status", "attributes",
            "resource", "links", "start_time", "end_time")  # fmt: skip
    return {key: span[key] for key in keep}


def test_spans_reach_a_second_server_over_grpc_and_http(start_server: StartServer) -> None:
    # The targets require a token on their receivers; the forwarder sends it.
    grpc_target = start_server(ingest_workers="1", otlp_token="target-token")
    http_target = start_server(ingest_workers="1", otlp_token="target-token")
    forwarder = start_server(
        ingest_workers="1",
        forward_otlp_endpoints=(
            f"grpc://{grpc_target.grpc_target},{http_target.otlp_http_url}/v1/traces"
        ),
        forward_otlp_headers="authorization=Bearer%20target-token",
    )
    # An OOM kill of the agent's pod, known (stored) before its spans arrive.
    span_time = time.time_ns()
    oom = InfraEvent(span_time, "k8s", "oom_killed", "pod/agents/research-0", Severity.ERROR,
                     "research-0 OOMKilled", dict(POD))  # fmt: skip
    store = open_store(f"sqlite:///{forwarder.data_dir}/oracle.db")
    store.write_events([oom])
    store.close()

    spans = _agent_spans()
    trace_id = f"{spans[0].context.trace_id:032x}"
    _export(forwarder, spans)
    original = forwarder.wait_for_trace(trace_id, spans=2)
    for target in (grpc_target, http_target):
        copy = target.wait_for_trace(trace_id, spans=2)
        by_id = {span["span_id"]: span for span in copy["spans"]}
        for span in original["spans"]:
            assert _comparable(by_id[span["span_id"]]) == _comparable(span)
            names = [event["name"] for event in by_id[span["span_id"]]["events"]]
            own = [event["name"] for event in span["events"]]
            assert names.count("oom_killed") == 1, names  # the correlated event rode along
            assert [name for name in names if name != "oom_killed"] == own
        added = next(
            event for span in copy["spans"] for event in span["events"]
            if event["name"] == "oom_killed"
        )  # fmt: skip
        assert added["attributes"]["oracle.event.id"] == oom.event_id
        assert added["attributes"]["oracle.event.correlated_by"] == "pod"
    health = _forward_health(forwarder)
    assert [entry["endpoint"] for entry in health] == [
        f"grpc://{grpc_target.grpc_target}",
        f"{http_target.otlp_http_url}/v1/traces",
    ]
    for entry in health:
        assert entry["forwarded_spans"] == 2
        assert entry["dropped_spans"] == entry["failed_spans"] == entry["queued_spans"] == 0


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A loopback port that accepts connections and never answers (a hung target)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield int(listener.getsockname()[1])
    listener.close()


def test_a_hung_target_neither_slows_nor_blocks_ingestion(
    start_server: StartServer, black_hole: int
) -> None:
    server = start_server(
        ingest_workers="1",
        forward_otlp_endpoints=f"grpc://127.0.0.1:{black_hole}",
        forward_queue_max_spans="300",
    )
    spans = make_spans(traces=200)  # 2,000 spans
    started = time.monotonic()
    _export(server, spans)
    elapsed = time.monotonic() - started
    # Every request was acknowledged (stored) while the target hung. The exporter to the
    # target waits its 10 s timeout per batch of 512, so an ingest that waited for it would
    # take at least 40 s; unhindered it takes a second or two (margin for a loaded machine).
    assert elapsed < 20, f"ingest took {elapsed:.1f}s with a hung forward target"
    traces = server.api("/api/v1/traces", limit=1000).json()["traces"]
    assert sum(trace["span_count"] for trace in traces) == len(spans)
    (entry,) = _forward_health(server)
    assert entry["endpoint"] == f"grpc://127.0.0.1:{black_hole}"
    assert entry["forwarded_spans"] == 0
    assert entry["dropped_spans"] >= len(spans) - 300 - 512  # queue + the batch in flight
    assert entry["dropped_spans"] + entry["queued_spans"] + entry["failed_spans"] == len(spans)
    assert server.stop() == 0  # shutdown is bounded too


def test_a_refusing_target_is_counted_as_failed(start_server: StartServer) -> None:
    target = start_server(ingest_workers="1", otlp_token="right")
    server = start_server(
        ingest_workers="1",
        forward_otlp_endpoints=f"grpc://{target.grpc_target}",
        forward_otlp_headers="authorization=Bearer%20wrong",
    )
    spans = make_spans(traces=3)
    _export(server, spans)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        (entry,) = _forward_health(server)
        if entry["failed_spans"] == len(spans):
            break
        time.sleep(0.1)
    assert entry["failed_spans"] == len(spans)  # UNAUTHENTICATED is not retried
    assert entry["forwarded_spans"] == entry["dropped_spans"] == 0
    assert target.api("/api/v1/traces").json()["traces"] == []
    assert "wrong" not in server.log()
