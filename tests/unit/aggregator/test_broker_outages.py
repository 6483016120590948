"""A broker outage correlates with the Kafka spans that ran while it lasted (of that broker, when
a span names one), and a task's root wins a tie with its first child for the root."""

from __future__ import annotations

from oracle_monitor.aggregator.correlate import (
    ChainConfig,
    SpanIndex,
    broker_outages,
    correlate,
)
from oracle_monitor.model import Attributes, InfraEvent, Span, SpanKind

S = 1_000_000_000
T0 = 1_795_764_000 * S
BROKER = "broker/kafka-0:9092,kafka-1:9092"


def outage(kind: str, at_s: float) -> InfraEvent:
    return InfraEvent(T0 + int(at_s * S), "kafka", kind, BROKER,
                      attributes={"server.address": "kafka-0:9092,kafka-1:9092"})  # fmt: skip


def kafka_span(number: int, start_s: float, end_s: float, **extra: str) -> Span:
    attributes: Attributes = {"messaging.system": "kafka", "messaging.destination.name": "tasks",
                              **extra}  # fmt: skip
    return Span("b" * 32, f"{number:016x}", "", f"send {number}", SpanKind.PRODUCER,
                T0 + int(start_s * S), T0 + int(end_s * S), attributes=attributes)  # fmt: skip


def test_outages_end_when_the_broker_recovers_or_now() -> None:
    events = [outage("broker_unreachable", 10), outage("broker_recovered", 40),
              outage("broker_unreachable", 100)]  # fmt: skip
    found = [(e.time_ns, end) for e, end in broker_outages(events, now_ns=T0 + 500 * S)]
    assert found == [(T0 + 10 * S, T0 + 40 * S), (T0 + 100 * S, T0 + 500 * S)]


def test_kafka_spans_during_the_outage_correlate() -> None:
    events = [outage("broker_unreachable", 10), outage("broker_recovered", 40)]
    config = ChainConfig(kafka_margin_ns=5 * S)
    spans = [
        kafka_span(1, 12, 13),  # during
        kafka_span(2, 1, 9),  # before
        kafka_span(3, 44, 45),  # within the margin after the recovery
        kafka_span(4, 60, 61),  # after
        kafka_span(5, 20, 21, **{"server.address": "kafka-1:9092"}),  # that broker
        kafka_span(6, 20, 21, **{"server.address": "other:9092"}),  # another broker
        kafka_span(7, 20, 21, **{"messaging.system": "rabbitmq"}),  # not Kafka
    ]
    found = correlate(spans, events, now_ns=T0 + 100 * S, config=config)
    assert sorted(int(s, 16) for s in found.by_span) == [1, 3, 5]


def test_a_root_wins_a_tie_with_its_first_child() -> None:
    root = kafka_span(9, 0, 10)
    child = Span("b" * 32, f"{1:016x}", root.span_id, "child", SpanKind.INTERNAL,
                 root.start_time_ns, root.start_time_ns + 1)  # fmt: skip
    assert SpanIndex.build([child, root]).root is root
