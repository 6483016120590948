"""What the browser tests (and ``bench/ui.py``) feed a running server: the seed cascade moved to
just before now, a healthy writer agent whose reasoning holds markup, a 5,000-span trace, and
system snapshots at several instants so the timeline has history.

Spans go over OTLP/gRPC through the real receiver; events and snapshots are written to the
store the way the collectors' sink and the snapshot loop write them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from oracle_monitor.aggregator.snapshot import validate_snapshot
from oracle_monitor.model import Attributes, InfraEvent, Span, SpanKind, StatusCode
from oracle_monitor.processing.conventions import derive
from oracle_monitor.store import open_store
from oracle_monitor.timestamps import rfc3339
from tests.integration.oracle_server import OracleServer
from tests.integration.test_bad_input import EXPORT
from tests.integration.test_causal_end_to_end import as_otlp
from tests.unit.aggregator.scenarios import RESEARCH, RESEARCH_NEW, T0, seed_scenario

SECOND: Final = 1_000_000_000
XSS: Final = "Compare sources <img src=x onerror=alert(1)> then write the summary."
BIG_TRACE: Final = "b16b16b16b16b16b16b16b16b16b1600"
WRITER_TRACE: Final = "3c0ffee03c0ffee03c0ffee03c0ffee0"
#: Seconds after the scenario's start at which snapshots are stored (the seed's OOM is at 71).
SNAPSHOT_SECONDS: Final = (5.0, 25.0, 47.0, 60.0, 72.0, 85.0)


@dataclass
class Seeded:
    """What was fed, for the tests to compare against."""

    start_ns: int  # the scenario's start (the seed's T0, moved)
    seed_trace: str
    seed_span_ids: list[str]
    snapshot_ns: list[int]  # stored snapshot times, oldest first
    snapshots: list[dict[str, Any]]


def _shift_span(span: Span, delta: int) -> Span:
    return dataclasses.replace(
        span,
        start_time_ns=span.start_time_ns + delta,
        end_time_ns=span.end_time_ns + delta,
        events=[dataclasses.replace(e, time_ns=e.time_ns + delta) for e in span.events],
    )


def _shift_event(event: InfraEvent, delta: int) -> InfraEvent:
    return dataclasses.replace(event, time_ns=event.time_ns + delta, event_id="")


def writer_spans(start_ns: int) -> list[Span]:
    """A healthy writer task whose reasoning contains markup (it must show as text)."""
    resource: Attributes = {
        "service.name": "writer-agent",
        "k8s.pod.name": "writer-agent-5f6-qwert",
        "k8s.namespace.name": "agents",
    }
    chat: Attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.usage.input_tokens": 3200,
        "gen_ai.usage.output_tokens": 640,
        "oracle.agent.reasoning": XSS,
        "oracle.agent.tools_planned": ["outline", "cite"],
    }
    steps: list[tuple[str, float, float, Attributes]] = [
        ("invoke_agent writer", 10.0, 40.0, {"gen_ai.operation.name": "invoke_agent"}),
        ("chat claude-sonnet-4-5", 12.0, 20.0, chat),
    ]
    spans = []
    for index, (name, begin, end, extra) in enumerate(steps):
        attributes: Attributes = {"gen_ai.agent.name": "writer", "oracle.task.id": "task-77"}
        attributes.update(extra)
        spans.append(
            Span(
                trace_id=WRITER_TRACE,
                span_id=f"{0xC0FFEE00 + index:016x}",
                parent_span_id="" if index == 0 else f"{0xC0FFEE00:016x}",
                name=name,
                kind=SpanKind.INTERNAL if index == 0 else SpanKind.CLIENT,
                start_time_ns=start_ns + round(begin * SECOND),
                end_time_ns=start_ns + round(end * SECOND),
                status_code=StatusCode.UNSET,
                attributes=attributes,
                resource=resource,
                **derive(attributes, resource),
            )
        )
    return spans


def big_trace(start_ns: int, count: int = 5000) -> list[Span]:
    """``count`` spans: a root, 50 tool calls, each with LLM and Kafka children."""
    resource: Attributes = {"service.name": "analysis-agent"}
    spans: list[Span] = []
    root = f"{1:016x}"
    for index in range(count):
        span_id = f"{index + 1:016x}"
        if index == 0:
            parent, begin, length = "", 0, 120 * SECOND
        elif index <= 50:
            parent, begin, length = root, (index - 1) * 2 * SECOND, 2 * SECOND
        else:
            holder = (index - 51) % 50 + 2
            parent = f"{holder:016x}"
            begin = (holder - 2) * 2 * SECOND + (index % 97) * 10_000_000
            length = 15_000_000
        attributes: Attributes = {"gen_ai.agent.name": "analysis", "step": index}
        spans.append(
            Span(
                trace_id=BIG_TRACE, span_id=span_id, parent_span_id=parent,
                name="invoke_agent analysis" if index == 0 else f"step {index}",
                kind=SpanKind.INTERNAL, start_time_ns=start_ns + begin,
                end_time_ns=start_ns + begin + length,
                status_code=StatusCode.ERROR if index % 997 == 0 and index else StatusCode.UNSET,
                attributes=attributes, resource=resource, **derive(attributes, resource),
            )
        )  # fmt: skip
    return spans


def export(server: OracleServer, spans: Sequence[Span]) -> None:
    """Send spans over OTLP/gRPC, in requests of at most 2,000."""
    with grpc.insecure_channel(server.grpc_target) as channel:
        call = channel.unary_unary(
            EXPORT,
            request_serializer=ExportTraceServiceRequest.SerializeToString,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )
        for begin in range(0, len(spans), 2000):
            response = call(as_otlp(list(spans[begin : begin + 2000])), timeout=30)
            assert response.partial_success.rejected_spans == 0


def _use(usage: float | None, request: float | None, limit: float | None) -> dict[str, Any]:
    return {
        "usage": usage, "request": request, "limit": limit,
        "usage_of_request": usage / request if usage is not None and request else None,
        "usage_of_limit": usage / limit if usage is not None and limit else None,
    }  # fmt: skip


def _pod(name: str, uid: str, agent: str, memory_mib: float, *, ready: bool = True,
         restarts: int = 0, reason: str | None = None, last: str | None = None,
         node: str = "node-a") -> dict[str, Any]:  # fmt: skip
    return {
        "namespace": "agents", "name": name, "uid": uid, "phase": "Running", "reason": reason,
        "ready": ready, "restarts": restarts, "last_termination_reason": last, "node": node,
        "owner": {"kind": "ReplicaSet", "name": name.rsplit("-", 1)[0]}, "agent": agent,
        "cpu_cores": _use(0.35 if ready else 0.0, 0.25, 1.0),
        "memory_bytes": _use(memory_mib * 2**20, 256 * 2**20, 512 * 2**20),
    }  # fmt: skip


def _usage(key: str | None, cost: float, tokens: int, limited: int = 0) -> dict[str, Any]:
    return {
        "key": key, "requests": tokens // 1000 + 1, "rate_limited": limited, "errors": limited,
        "input_tokens": tokens, "output_tokens": tokens // 4, "cache_read_tokens": tokens // 3,
        "cache_creation_tokens": 0, "reasoning_tokens": tokens // 10, "cost_usd": cost,
        "unpriced_requests": 0,
    }  # fmt: skip


def _alert(kind: str, severity: str, at_ns: int, entity: str, summary: str,
           trace_id: str | None) -> dict[str, Any]:  # fmt: skip
    return {
        "id": hashlib.blake2b(f"{kind}|{entity}".encode(), digest_size=16).hexdigest(),
        "kind": kind, "severity": severity,
        "first_at": rfc3339(at_ns), "last_at": rfc3339(at_ns), "count": 1, "entity": entity,
        "summary": summary, "trace_id": trace_id, "task_id": None,
        "link": f"/traces/{trace_id}" if trace_id else f"/infra?entity={entity}",
    }  # fmt: skip


def snapshot_at(seconds: float, now_ns: int, start_ns: int, trace: str) -> dict[str, Any]:
    """The system ``seconds`` after the scenario's start: lag builds up from 20 s, the
    research pod's memory grows until it is OOM-killed at 71 s and replaced at 74 s."""
    lagging = 20 <= seconds < 60
    oom = seconds >= 71
    lag = 1840 if lagging else 0
    memory = min(500.0, 180 + seconds * 4.5)
    pods = [
        _pod(RESEARCH.name, RESEARCH.uid, "research", 0 if oom else memory, ready=not oom,
             restarts=1 if oom else 0, reason="OOMKilled" if oom else None,
             last="OOMKilled" if oom else None),
        _pod("writer-agent-5f6-qwert", "7c1d-writer", "writer", 140),
        _pod("tool-worker-8d9-asdfg", "7c1d-tools", "tools", 90),
    ]  # fmt: skip
    if seconds >= 74:
        pods.append(_pod(RESEARCH_NEW.name, RESEARCH_NEW.uid, "research", 120, node="node-b"))
    status = "STALL" if 30 <= seconds < 60 else "WARN" if lagging else "OK"
    partitions = [
        {"topic": "tool-responses", "partition": p, "committed_offset": 1000,
         "log_end_offset": 1000 + (lag if p == 3 else 0), "lag": lag if p == 3 else 0,
         "lag_seconds": (seconds - 20 if lagging else 0.0) if p == 3 else 0.0,
         "lag_seconds_from": "message", "lag_clamped": False,
         "status": status if p == 3 else "OK"}
        for p in range(4)
    ]  # fmt: skip
    health = {"status": "ok", "detail": "", "since_ns": start_ns}
    cost = 0.02 * seconds
    alerts = []
    if lagging:
        summary = "research-agents lags 1840 messages on tool-responses"
        entity = "group/research-agents/topic/tool-responses"
        alerts.append(
            _alert("lag_spike", "warning", start_ns + 20 * SECOND, entity, summary, trace)
        )
    if oom:
        summary = "research agent OOMKilled during its retry loop"
        at_ns = start_ns + 71 * SECOND
        alerts.append(_alert("oom_killed", "critical", at_ns, RESEARCH.entity, summary, trace))
    research_status = "error" if oom else "running"
    return {
        "timestamp": rfc3339(now_ns),
        "kubernetes": {"health": health, "metrics_available": True, "pods": pods},
        "kafka": {
            "health": health,
            "broker": "127.0.0.1:9092",
            "polled_at_ns": now_ns,
            "groups": {
                "research-agents": {
                    "status": status,
                    "state": "Stable",
                    "members": [],
                    "error": None,
                    "lag": lag,
                    "lag_clamped": False,
                    "partitions": partitions,
                },
                "tool-workers": {
                    "status": "OK",
                    "state": "Stable",
                    "members": [],
                    "error": None,
                    "lag": 0,
                    "lag_clamped": False,
                    "partitions": [],
                },
            },
            "topics": {
                "tool-requests": {
                    "end_offsets": {"0": 900 + int(seconds)},
                    "throughput_msgs_per_s": 2.0,
                    "is_dlq": False,
                    "dlq_depth": None,
                },
                "tool-responses": {
                    "end_offsets": {"0": 1000 + lag},
                    "throughput_msgs_per_s": 0.1 if lagging else 2.0,
                    "is_dlq": False,
                    "dlq_depth": None,
                },
            },
        },
        "llm_usage": {
            "health": health,
            "window_seconds": 300.0,
            "totals": {k: v for k, v in _usage(None, cost * 1.5, 40_000, 1).items() if k != "key"},
            "by_agent": [_usage("research", cost, 30_000, 1), _usage("writer", cost / 2, 10_000)],
            "by_model": [
                _usage("gpt-4o", cost, 30_000, 1),
                _usage("claude-sonnet-4-5", cost / 2, 10_000),
            ],
            "by_provider": [
                _usage("openai", cost, 30_000, 1),
                _usage("anthropic", cost / 2, 10_000),
            ],
            "cost_last_hour_usd": cost * 1.5,
            "budget_usd_per_hour": 5.0,
            "rate_limit_bursts": ["model/openai/gpt-4o"] if 45 <= seconds < 60 else [],
        },
        "agents": [
            {
                "name": "research",
                "id": None,
                "status": research_status,
                "current_task": "task-42",
                "last_reasoning": "Search three sources, then summarise.",
                "tools_planned": ["web_research"],
                "tokens": {"input": 3600, "output": 900},
                "cost_usd": cost,
                "errors": 3 if seconds > 45 else 1 if seconds > 34 else 0,
                "pod": RESEARCH.name,
                "last_seen_ns": now_ns,
            },
            {
                "name": "writer",
                "id": None,
                "status": "running",
                "current_task": "task-77",
                "last_reasoning": XSS,
                "tools_planned": ["outline", "cite"],
                "tokens": {"input": 3200, "output": 640},
                "cost_usd": cost / 2,
                "errors": 0,
                "pod": "writer-agent-5f6-qwert",
                "last_seen_ns": now_ns,
            },
        ],
        "alerts": alerts,
    }


def seed(server: OracleServer) -> Seeded:
    """Feed ``server``; the scenario ends a few seconds before now."""
    scenario = seed_scenario()
    start_ns = time.time_ns() - 95 * SECOND
    delta = start_ns - T0
    spans = [_shift_span(span, delta) for span in scenario.spans]
    trace = spans[0].trace_id
    export(server, [*spans, *writer_spans(start_ns), *big_trace(start_ns)])
    store = open_store(f"sqlite:///{server.data_dir}/oracle.db")
    try:
        store.write_events([_shift_event(event, delta) for event in scenario.events])
        times = [start_ns + round(s * SECOND) for s in SNAPSHOT_SECONDS]
        snapshots = [
            snapshot_at(s, t, start_ns, trace) for s, t in zip(SNAPSHOT_SECONDS, times, strict=True)
        ]
        # The newest, now: after the server's own first snapshot, so it is the latest.
        times.append(time.time_ns())
        snapshots.append(snapshot_at(95.0, times[-1], start_ns, trace))
        for at_ns, snapshot in zip(times, snapshots, strict=True):
            errors = validate_snapshot(snapshot)
            assert not errors, errors
            store.write_snapshot(at_ns, snapshot)
    finally:
        store.close()
    server.wait_for_trace(trace, spans=len(spans))
    server.wait_for_trace(BIG_TRACE, spans=5000)
    return Seeded(start_ns, trace, [s.span_id for s in spans], times, snapshots)
