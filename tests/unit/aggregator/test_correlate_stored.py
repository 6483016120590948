"""One correlation for every reader: the trace API, the Jaeger API, the causal chains and the
forwarder read the same stored events for a trace (within the widest margin, on to now while
the task is open) and match them with the same settings."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from oracle_monitor.aggregator.causal import build_causal_chain
from oracle_monitor.aggregator.correlate import ChainConfig, event_window, stored_events
from oracle_monitor.api.jaeger import _with_logs
from oracle_monitor.api.traces import correlated_events
from oracle_monitor.exporters.otlp_forward.endpoints import ForwardConfig
from oracle_monitor.exporters.otlp_forward.forwarder import ForwardCounters, Forwarder
from oracle_monitor.model import Attributes, InfraEvent, Span, SpanKind
from oracle_monitor.store.sqlite import SQLiteStore

S = 1_000_000_000
T0 = 1_795_764_000 * S
CONFIG = ChainConfig()


POD: Attributes = {"k8s.pod.name": "research-0", "k8s.namespace.name": "agents"}


def chat(span: int, parent: int | None, start_s: float, end_s: float) -> Span:
    parent_id = "" if parent is None else f"{parent:016x}"
    start, end = T0 + int(start_s * S), T0 + int(end_s * S)
    return Span("a" * 32, f"{span:016x}", parent_id, "chat", SpanKind.CLIENT, start, end,
                provider="openai", model="gpt-4o", pod_name="research-0", namespace="agents",
                resource=POD)  # fmt: skip


def event(kind: str, entity: str, at_s: float) -> InfraEvent:
    return InfraEvent(T0 + int(at_s * S), "test", kind, entity)


def test_every_reader_sees_the_same_events(tmp_path: Path) -> None:
    spans = [chat(1, None, 0, 10), chat(2, 1, 1, 9)]
    events = [
        event("rate_limit_burst", "model/openai/gpt-4o", 10 + 50),  # within the LLM margin
        event("oom_killed", "pod/agents/research-0", 10 + 100),  # within the pod margin
        event("oom_killed", "pod/agents/research-0", 10 + 200),  # beyond every margin
        event("rate_limit_burst", "model/openai/gpt-4o", 10 + 90),  # beyond the LLM margin
    ]
    store = SQLiteStore(tmp_path / "spans.db")
    try:
        store.write_spans(spans)
        store.write_events(events)
        now = T0 + 3600 * S
        assert event_window(spans, now_ns=now, config=CONFIG) == (
            T0 - CONFIG.margin_ns, T0 + 10 * S + CONFIG.margin_ns,
        )  # fmt: skip
        assert len(stored_events(store, spans, now_ns=now, config=CONFIG)) == 3
        expected = {events[0].event_id, events[1].event_id}

        api = correlated_events(store, spans, now, CONFIG)
        assert {e["event_id"] for e in api} == expected
        jaeger = _with_logs(store, spans, now, CONFIG)
        logged = {f["value"] for s in jaeger["spans"] for log in s["logs"] for f in log["fields"]
                  if f["key"] == "oracle.event.id"}  # fmt: skip
        assert logged == expected
        forward = ForwardConfig(endpoints=(), correlation=CONFIG)
        counters = ForwardCounters.for_targets(multiprocessing.get_context(), forward)
        forwarded = Forwarder(forward, counters, store).infra_events(spans)
        assert {a["oracle.event.id"] for evs in forwarded.values() for e in evs
                for a in [dict(e.attributes or {})]} == expected  # fmt: skip
        chain = build_causal_chain(
            spans, stored_events(store, spans, now_ns=now, config=CONFIG), now_ns=now,
            config=CONFIG,
        )  # fmt: skip
        assert {e for link in chain.chain for e in link.event_ids} == expected
    finally:
        store.close()


def test_an_open_task_reads_events_until_now() -> None:
    spans = [chat(2, 1, 1, 9)]  # its root (span 1) never arrived
    now = T0 + 3600 * S
    assert event_window(spans, now_ns=now, config=CONFIG) == (T0 + S - CONFIG.margin_ns, now)
    closed = [chat(1, None, 0, 10)]
    assert event_window(closed, now_ns=T0 + 20 * S, config=CONFIG)[1] == T0 + 20 * S
