"""A lean LLM span reaches the exporters as the SDK's own span would, or is not made at all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import attach, detach
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Decision, ParentBased, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanKind, Status, StatusCode

from oracle_monitor.instrumentation.lean_span import LeanSpan, start_lean_span

NAME = "chat gpt-4o"


def attributes() -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.request.stop_sequences": ["\n", "END"],
        "http.request.method": "POST",
    }


def pipeline(**provider_options: Any) -> tuple[TracerProvider, InMemorySpanExporter]:
    provider = TracerProvider(
        resource=Resource.create({"service.name": "writer"}), **provider_options
    )
    exporter = InMemorySpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider, exporter


def finished(provider: TracerProvider, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    assert provider.force_flush()
    return list(exporter.get_finished_spans())


def lean(tracer: Any, values: dict[str, Any] | None = None) -> LeanSpan:
    span = start_lean_span(tracer, NAME, attributes() if values is None else values)
    assert isinstance(span, LeanSpan)
    return span


def exercise(span: Any) -> None:
    """What the LLM path does to a span, on either kind."""
    span.set_attribute("gen_ai.usage.input_tokens", 12)
    span.set_attributes({"gen_ai.response.finish_reasons": ["stop"], "http.status_code": 500})
    span.record_exception(ConnectionError("upstream went away"))
    span.set_status(Status(StatusCode.ERROR, "ConnectionError"))
    span.end()


def comparable(span: ReadableSpan) -> dict[str, Any]:
    """Everything an exporter reads from a span, but its ids and times."""
    assert span.context is not None
    event_attributes = [
        {k: v for k, v in (event.attributes or {}).items() if k != "exception.stacktrace"}
        for event in span.events
    ]
    return {
        "name": span.name,
        "kind": span.kind,
        "parent": span.parent,
        "attributes": dict(span.attributes or {}),
        "dropped_attributes": span.dropped_attributes,
        "events": [event.name for event in span.events],
        "event_attributes": event_attributes,
        "status": (span.status.status_code, span.status.description),
        "resource": span.resource.attributes,
        "scope": span.instrumentation_scope,
        "flags": span.context.trace_flags,
        "trace_state": span.context.trace_state,
        "links": list(span.links),
    }


@pytest.fixture
def parent() -> Iterator[trace.Span]:
    """A sampled parent span made current, as an agent's task span is."""
    provider = TracerProvider()
    span = provider.get_tracer("agent").start_span("task")
    token = attach(trace.set_span_in_context(span))
    yield span
    detach(token)


def test_a_lean_span_is_exported_as_the_sdk_span_would_be(parent: trace.Span) -> None:
    provider, exporter = pipeline()
    tracer = provider.get_tracer("opentelemetry.instrumentation.httpx", "0.1")
    exercise(lean(tracer))
    exercise(tracer.start_span(NAME, kind=SpanKind.CLIENT, attributes=attributes()))
    made_lean, made_by_sdk = finished(provider, exporter)
    assert comparable(made_lean) == comparable(made_by_sdk)
    assert made_lean.attributes is not None
    assert made_lean.attributes["gen_ai.request.stop_sequences"] == ("\n", "END")
    assert made_lean.parent == parent.get_span_context()
    assert made_lean.context is not None
    assert made_lean.context.trace_id == parent.get_span_context().trace_id
    assert made_lean.start_time is not None and made_lean.end_time is not None
    assert made_lean.start_time <= made_lean.end_time
    assert made_lean.events[0].attributes is not None
    assert "ConnectionError" in str(made_lean.events[0].attributes["exception.stacktrace"])


def test_a_root_span_gets_a_new_trace() -> None:
    provider, exporter = pipeline()
    tracer = provider.get_tracer("llm")
    first, second = lean(tracer), lean(tracer)
    first.end()
    second.end()
    one, two = finished(provider, exporter)
    assert one.parent is None and one.context is not None and two.context is not None
    assert one.context.trace_id != two.context.trace_id
    assert one.context.trace_flags.sampled
    made_by_sdk = tracer.start_span(NAME)
    assert one.context.trace_flags == made_by_sdk.get_span_context().trace_flags  # W3C level 2


def test_attribute_limits_are_those_of_the_provider() -> None:
    limits = SpanLimits(
        max_span_attributes=3,
        max_span_attribute_length=3,
        max_event_attributes=3,
        max_attribute_length=5,
    )
    provider, exporter = pipeline(span_limits=limits)
    tracer = provider.get_tracer("llm")
    exercise(lean(tracer))
    exercise(tracer.start_span(NAME, kind=SpanKind.CLIENT, attributes=attributes()))
    made_lean, made_by_sdk = finished(provider, exporter)
    assert comparable(made_lean) == comparable(made_by_sdk)
    assert made_lean.attributes is not None and len(made_lean.attributes) == 3  # the newest
    assert made_lean.attributes["gen_ai.response.finish_reasons"] == ("sto",)
    assert made_lean.dropped_attributes > 0
    event = made_lean.events[0].attributes
    assert event is not None and len(event) == 3 and event["exception.message"] == "upstr"


def test_the_sampler_decides_and_an_unsampled_span_only_carries_ids() -> None:
    provider, exporter = pipeline(sampler=ALWAYS_OFF)
    span = start_lean_span(provider.get_tracer("llm"), NAME, attributes())
    assert isinstance(span, NonRecordingSpan)
    assert span.get_span_context().is_valid and not span.get_span_context().trace_flags.sampled
    span.end()
    assert finished(provider, exporter) == []


def test_a_ratio_sampler_sees_the_trace_id_the_span_gets() -> None:
    provider, exporter = pipeline(sampler=ParentBased(TraceIdRatioBased(0.5)))
    tracer = provider.get_tracer("llm")
    decided = [start_lean_span(tracer, NAME, attributes()) for _ in range(200)]
    sampler = TraceIdRatioBased(0.5)
    for span in decided:
        assert span is not None
        span.end()
        trace_id = span.get_span_context().trace_id
        decision = sampler.should_sample(None, trace_id, NAME).decision
        assert isinstance(span, LeanSpan) == (decision is Decision.RECORD_AND_SAMPLE)
    exported = finished(provider, exporter)
    assert 40 < len(exported) < 160
    assert len(exported) == sum(isinstance(span, LeanSpan) for span in decided)


def test_a_span_ends_once_and_ignores_late_attributes() -> None:
    provider, exporter = pipeline()
    span = lean(provider.get_tracer("llm"))
    span.set_status(Status(StatusCode.OK))
    span.set_status(Status(StatusCode.ERROR, "too late"))  # OK is final, as in the SDK
    span.end()
    span.set_attribute("gen_ai.usage.output_tokens", 1)
    span.end()
    (made,) = finished(provider, exporter)
    assert made.status.status_code is StatusCode.OK
    assert made.attributes is not None and "gen_ai.usage.output_tokens" not in made.attributes
    assert not span.is_recording()


class SeesStarts(SpanProcessor):
    """A processor that acts when a span starts: it must be given the SDK's span."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started.append(span.name)


def test_a_processor_that_sees_starts_gets_sdk_spans() -> None:
    provider, _ = pipeline()
    tracer = provider.get_tracer("llm")
    assert isinstance(start_lean_span(tracer, NAME, attributes()), LeanSpan)
    watcher = SeesStarts()
    provider.add_span_processor(watcher)
    assert start_lean_span(tracer, NAME, attributes()) is None
    tracer.start_span(NAME).end()
    assert watcher.started == [NAME]


def test_simple_processors_are_quiet_until_a_span_ends() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    assert isinstance(start_lean_span(provider.get_tracer("llm"), NAME, attributes()), LeanSpan)


def test_other_tracers_are_left_to_themselves() -> None:
    assert start_lean_span(trace.NoOpTracer(), NAME, attributes()) is None
