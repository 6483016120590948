"""Stored spans → SDK spans → the stock OTLP encoder → our decoder: nothing lost on the way."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from oracle_monitor.exporters.otlp_forward.convert import infra_span_event, to_readable_spans
from oracle_monitor.model import InfraEvent, Severity, Span
from oracle_monitor.receiver.decode import DecodeLimits, decode_protobuf
from tests.integration import otlp_payloads as otlp

TRACE = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
ROOT = bytes.fromhex("00f067aa0ba902b7")
CHILD = bytes.fromhex("00f067aa0ba902b8")


def _stored() -> list[Span]:
    """Spans as the receiver stores them, from a request using every OTLP feature."""
    root = otlp.span(TRACE, ROOT, "invoke_agent research", {"oracle.task.id": "t-1"})
    root.kind = PbSpan.SPAN_KIND_SERVER
    root.trace_state = "vendor=abc"
    root.flags = 1
    root.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="agent_timeout"))
    child = otlp.span(
        TRACE,
        CHILD,
        "chat gpt-4o",
        {
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 12,
            "ratio": 0.5,
            "ok": True,
            "blob": b"\x00\x01\xff",
            "list": ["a", 1, [True, None]],
            "map": {"nested": {"deep": 1.5}, "s": "x"},
        },
        parent_span_id=ROOT,
    )
    child.kind = PbSpan.SPAN_KIND_CLIENT
    event = child.events.add(time_unix_nano=otlp.START_NS + 1000, name="gen_ai.choice")
    event.attributes.extend(otlp.key_values({"index": 0}))
    link = child.links.add(trace_id=TRACE, span_id=ROOT, trace_state="k=v")
    link.attributes.extend(otlp.key_values({"why": "retry"}))
    request = otlp.request(root, child, service="research-agent")
    request.resource_spans[0].resource.attributes.extend(
        otlp.key_values({"k8s.pod.name": "research-0", "k8s.namespace.name": "agents"})
    )
    request.resource_spans[0].scope_spans[0].scope.name = "oracle_monitor.instrumentation"
    request.resource_spans[0].scope_spans[0].scope.version = "0.1.0"
    return decode_protobuf(request.SerializeToString(), DecodeLimits()).spans


def _round_trip(spans: list[Span], **kwargs: object) -> list[Span]:
    body = encode_spans(to_readable_spans(spans, **kwargs)).SerializeToString()  # type: ignore[arg-type]
    return decode_protobuf(body, DecodeLimits()).spans


def test_round_trip_keeps_everything() -> None:
    stored = _stored()
    assert len(stored) == 2
    forwarded = _round_trip(stored)
    for span in stored:  # what the stock encoder drops (convert's docstring)
        span.flags = 0x100 | (span.flags & 0x200)
        for link in span.links:
            link.flags = 0x100 | (link.flags & 0x200)
            link.trace_state = ""
    assert sorted(forwarded, key=lambda s: s.span_id) == sorted(stored, key=lambda s: s.span_id)
    child = next(span for span in forwarded if span.span_id == CHILD.hex())
    assert child.attributes["blob"] == b"\x00\x01\xff"
    assert child.attributes["map"] == {"nested": {"deep": 1.5}, "s": "x"}
    assert child.parent_span_id == ROOT.hex()
    assert child.links[0].attributes == {"why": "retry"}


def test_correlated_events_become_span_events() -> None:
    stored = _stored()
    oom = InfraEvent(
        otlp.START_NS + 2000,
        "k8s",
        "oom_killed",
        "pod/agents/research-0",
        Severity.ERROR,
        "research-0 OOMKilled",
        {"k8s.pod.name": "research-0", "k8s.container.name": "agent"},
    )
    infra = {CHILD.hex(): [infra_span_event(oom, "pod")]}
    forwarded = {span.span_id: span for span in _round_trip(stored, infra=infra)}
    events = forwarded[CHILD.hex()].events
    assert [event.name for event in events] == ["gen_ai.choice", "oom_killed"]  # time order
    added = events[1]
    assert added.time_ns == oom.time_ns
    assert added.attributes["oracle.event.id"] == oom.event_id
    assert added.attributes["oracle.event.entity"] == "pod/agents/research-0"
    assert added.attributes["oracle.event.severity"] == "error"
    assert added.attributes["oracle.event.correlated_by"] == "pod"
    assert added.attributes["oracle.event.summary"] == "research-0 OOMKilled"
    assert added.attributes["k8s.container.name"] == "agent"
    assert forwarded[ROOT.hex()].events == []
