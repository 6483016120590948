"""Acknowledged spans survive kill -9 and SIGTERM; under overload the stock exporters'
retries get every span in."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.integration.conftest import StartServer
from tests.integration.oracle_server import OracleServer

pytestmark = pytest.mark.integration

SPANS_PER_TRACE = 10


def make_spans(traces: int) -> list[ReadableSpan]:
    """Finished SDK spans: ``traces`` agent traces of ten spans each."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "durability-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.durability")
    for number in range(traces):
        with tracer.start_as_current_span(
            "agent.task", attributes={"oracle.task.id": f"t{number}"}
        ):
            for step in range(SPANS_PER_TRACE - 1):
                with tracer.start_as_current_span(
                    f"step {step}", attributes={"gen_ai.usage.input_tokens": 10}
                ):
                    pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def batches(spans: Sequence[ReadableSpan], size: int) -> list[Sequence[ReadableSpan]]:
    return [spans[i : i + size] for i in range(0, len(spans), size)]


def stored_span_counts(server: OracleServer) -> dict[str, int]:
    traces = server.api("/api/v1/traces", limit=1000).json()["traces"]
    return {trace["trace_id"]: trace["span_count"] for trace in traces}


def expected_counts(spans: Sequence[ReadableSpan]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for span in spans:
        assert span.context is not None
        trace_id = format(span.context.trace_id, "032x")
        counts[trace_id] = counts.get(trace_id, 0) + 1
    return counts


def grpc_exporter(server: OracleServer) -> GrpcSpanExporter:
    return GrpcSpanExporter(endpoint=f"http://{server.grpc_target}", insecure=True, timeout=20)


def test_acknowledged_spans_survive_kill_9(start_server: StartServer) -> None:
    server = start_server()
    spans = make_spans(traces=60)
    exporter = grpc_exporter(server)
    for batch in batches(spans, 50):
        assert exporter.export(batch) == SpanExportResult.SUCCESS
    server.stop(signal.SIGKILL)  # no chance to flush anything
    exporter.shutdown()

    restarted = start_server(data_dir=server.data_dir)
    assert stored_span_counts(restarted) == expected_counts(spans)


def test_sigterm_finishes_in_flight_requests(start_server: StartServer) -> None:
    server = start_server()
    spans = make_spans(traces=80)
    exporter = grpc_exporter(server)
    acknowledged: list[ReadableSpan] = []

    def send(batch: Sequence[ReadableSpan]) -> None:
        if exporter.export(batch) == SpanExportResult.SUCCESS:
            acknowledged.extend(batch)

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(send, batch) for batch in batches(spans, 40)]
        futures[len(futures) // 2].result()
        assert server.stop(signal.SIGTERM) == 0
    exporter.shutdown()
    assert "stopped;" in server.log()

    restarted = start_server(data_dir=server.data_dir)
    stored = stored_span_counts(restarted)
    assert acknowledged, "nothing was acknowledged before the shutdown"
    for trace_id, count in expected_counts(acknowledged).items():
        assert stored.get(trace_id, 0) >= count


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_overload_refuses_with_retry_info_and_loses_nothing(
    start_server: StartServer, protocol: str
) -> None:
    # The queue admits two requests of 200 spans at a time; four senders offer twice that.
    spans = make_spans(traces=800)
    request_bytes = encode_spans(spans[:200]).ByteSize()
    server = start_server(queue_max_bytes=str(request_bytes * 3 // 2), retry_after_seconds="0.05")
    exporter: SpanExporter = (
        grpc_exporter(server)
        if protocol == "grpc"
        else HttpSpanExporter(endpoint=f"{server.otlp_http_url}/v1/traces", timeout=20)
    )
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(exporter.export, batches(spans, 200)))
    exporter.shutdown()

    assert results == [SpanExportResult.SUCCESS] * len(results)
    receiver = server.health()["receiver"]
    assert receiver["refused_requests"] > 0, "the load never filled the queue"
    assert receiver["accepted_spans"] == len(spans)
    assert stored_span_counts(server) == expected_counts(spans)
