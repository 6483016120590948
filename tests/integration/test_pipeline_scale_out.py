"""The scale-out topology end to end: two receivers, two aggregators, real exporters, a real
broker and PostgreSQL; one aggregator is killed (SIGKILL) mid-stream, and every acknowledged
span is stored exactly once."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Sequence

import psycopg
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tests.integration.pipeline_processes import Pipeline, PipelineProcess, pipeline, store_url
from tests.integration.postgres import SERVER_URL
from tests.integration.test_durability import batches, make_spans

pytestmark = pytest.mark.integration
__all__ = ["pipeline", "store_url"]


def span_key(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")


def stored_rows(url: str) -> list[tuple[str, str, int]]:
    """(trace_id, span_id, copies) of every stored span."""
    schema = url.split("schema=")[1].split("&")[0]
    with psycopg.connect(SERVER_URL) as conn:
        rows = conn.execute(
            "SELECT encode(trace_id, 'hex'), encode(span_id, 'hex'), count(*)"
            f' FROM "{schema}".spans GROUP BY 1, 2'
        ).fetchall()
    return [(str(t), str(s), int(n)) for t, s, n in rows]


def wait_assigned(
    aggregators: Sequence[PipelineProcess], partitions: int, timeout_s: float
) -> None:
    """Until the aggregators together hold every partition, each at least one."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        held = [a.health()["aggregator"]["assigned"] for a in aggregators]
        if all(held) and sum(len(h) for h in held) == partitions:
            return
        time.sleep(0.2)
    raise TimeoutError(f"partitions not shared: {held}")


def test_killed_aggregator_loses_and_duplicates_nothing(pipeline: Pipeline, store_url: str) -> None:
    receivers = [pipeline.receiver(), pipeline.receiver()]
    first = pipeline.aggregator(store_url)
    second = pipeline.aggregator(store_url)
    wait_assigned([first, second], partitions=4, timeout_s=30)

    spans = make_spans(traces=400)  # 4,000 spans in 80 requests of 50
    exporters: list[SpanExporter] = [
        GrpcSpanExporter(endpoint=f"http://{receivers[0].grpc_target}", insecure=True, timeout=20),
        HttpSpanExporter(endpoint=f"{receivers[1].otlp_http_url}/v1/traces", timeout=20),
    ]
    acknowledged: list[ReadableSpan] = []
    lock = threading.Lock()
    work = batches(spans, 50)
    sent = threading.Semaphore(0)

    def send(exporter: SpanExporter, mine: Sequence[Sequence[ReadableSpan]]) -> None:
        for batch in mine:
            if exporter.export(batch) == SpanExportResult.SUCCESS:
                with lock:
                    acknowledged.extend(batch)
            sent.release()
            time.sleep(0.05)  # a stream, not one burst

    senders = [threading.Thread(target=send, args=(exporters[n], work[n::2])) for n in range(2)]
    for sender in senders:
        sender.start()
    for _ in range(len(work) // 4):
        sent.acquire()
    deadline = time.monotonic() + 20
    while (written_before_kill := first.health()["aggregator"]["spans_written"]) == 0:
        assert time.monotonic() < deadline, "the first aggregator wrote nothing"
        time.sleep(0.05)
    first.stop(signal.SIGKILL)  # mid-stream: no chance to finish or commit anything
    assert any(sender.is_alive() for sender in senders), "the stream ended before the kill"
    for sender in senders:
        sender.join(120)
    for exporter in exporters:
        exporter.shutdown()

    assert written_before_kill > 0, "the killed aggregator had written nothing"
    expected = {span_key(span) for span in acknowledged}
    assert len(expected) == len(spans), "some export was not acknowledged"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = stored_rows(store_url)
        if {(t, s) for t, s, _ in rows} >= expected:
            break
        time.sleep(0.5)
    rows = stored_rows(store_url)
    assert [row for row in rows if row[2] != 1] == []  # no span twice
    assert {(t, s) for t, s, _ in rows} == expected  # every acknowledged span, nothing else
    # The survivor took over the killed one's partitions.
    assert len(second.health()["aggregator"]["assigned"]) == 4
    assert second.alive()
    assert second.stop(signal.SIGTERM) == 0
    assert "stopped;" in second.log()
