"""Every JSON route's real answers match what ``/api/openapi.json`` says it answers.

A SQLite store holds a task's causal cascade (`tests.unit.aggregator.scenarios`), a trace
with every kind of span field (events, links, bytes and kvlist attributes, a handoff, LLM
usage, trace flags, dropped counts, a parent that never arrived), infrastructure events,
alerts and snapshots; the collectors report states of the real shapes
(`tests.unit.aggregator.snapshot_sample`) plus one registered collector of another kind. Each
route is asked with and without filters, and its answer is validated against the schema the
served document gives it (`tests.openapi_contract`), the bad requests' answers too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from oracle_monitor.aggregator.alerts import alert_id, alert_json
from oracle_monitor.aggregator.snapshot import build_snapshot
from oracle_monitor.api import create_app
from oracle_monitor.model import (
    Alert,
    Attributes,
    InfraEvent,
    Severity,
    Span,
    SpanEvent,
    SpanKind,
    SpanLink,
    StatusCode,
)
from oracle_monitor.processing.conventions import derive
from oracle_monitor.receiver.latency import LatencyHistogram
from oracle_monitor.store import Store, open_store
from oracle_monitor.timestamps import rfc3339
from tests.openapi_contract import Contract
from tests.unit.aggregator.scenarios import seed_scenario
from tests.unit.aggregator.snapshot_sample import FakeCollector, agent, collectors

SECOND = 1_000_000_000
RICH_TRACE = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e"
SEED_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _span(span_id: str, parent: str, name: str, start_ns: int, **fields: Any) -> Span:
    attributes: Attributes = fields.pop("attributes", {})
    resource: Attributes = {
        "service.name": "writer-agent",
        "k8s.pod.name": "writer-7d9f8-x2",
        "k8s.namespace.name": "agents",
        "process.pid": 4242,
    }
    values: dict[str, Any] = {
        "kind": SpanKind.INTERNAL,
        "end_time_ns": start_ns + 2 * SECOND,
        "resource": resource,
        "scope_name": "oracle_monitor.instrumentation",
        "scope_version": "0.1.0",
        "service_name": "writer-agent",
        **derive(attributes, resource),
    }
    values.update(fields)
    return Span(RICH_TRACE, span_id, parent, name, start_time_ns=start_ns,
                attributes=attributes, **values)  # fmt: skip


def rich_trace(start_ns: int) -> list[Span]:
    """A trace of one task with every span field filled somewhere."""
    root = _span(
        "a000000000000001",
        "",
        "invoke_agent writer",
        start_ns,
        flags=1,
        end_time_ns=start_ns + 9 * SECOND,
        trace_state="vendor=1",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "writer",
            "oracle.task.id": "task-7",
            "gen_ai.conversation.id": "conv-1",
            "oracle.agent.reasoning": "Draft, then check facts.",
            "oracle.agent.tools_planned": ["web_search", "summarise"],
        },
    )
    chat = _span(
        "a000000000000002",
        root.span_id,
        "chat gpt-4o",
        start_ns + SECOND,
        kind=SpanKind.CLIENT,
        status_code=StatusCode.ERROR,
        status_message="Rate limit reached",
        cost_usd=0.0125,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1200,
            "gen_ai.usage.output_tokens": 300,
            "gen_ai.usage.cache_read.input_tokens": 100,
            "http.response.status_code": 429,
            "oracle.llm.rate_limited": True,
            "payload.digest": b"\x00\x01binary",
            "llm.request.params": {"temperature": 0.2},
            "big.counter": 2**60,
            "ratio": float("nan"),
            "empty": None,
        },
        events=[
            SpanEvent(
                start_ns + SECOND + 5,
                "exception",
                {"exception.type": "RateLimitError", "retry.after": 2.5},
            )
        ],
        dropped_attributes_count=2,
    )
    handoff = _span(
        "a000000000000003",
        root.span_id,
        "agent_handoff",
        start_ns + 3 * SECOND,
        attributes={
            "gen_ai.operation.name": "agent_handoff",
            "gen_ai.handoff.from_agent": "writer",
            "gen_ai.handoff.to_agent": "analysis",
        },
        links=[SpanLink(SEED_TRACE, "b7ad6b7169203331", "k=v", {"why": "follows"})],
    )
    tool = _span(
        "a000000000000004",
        root.span_id,
        "execute_tool web_search",
        start_ns + 4 * SECOND,
        kind=SpanKind.PRODUCER,
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "web_search",
            "messaging.system": "kafka",
            "messaging.destination.name": "tool-requests",
        },
    )
    orphan = _span(
        "a000000000000005",
        "ffffffffffffffff",
        "late child",
        start_ns + 5 * SECOND,
        kind=SpanKind.CONSUMER,
    )
    unspecified = _span(
        "a000000000000006",
        root.span_id,
        "plain",
        start_ns + 6 * SECOND,
        kind=SpanKind.UNSPECIFIED,
        status_code=StatusCode.OK,
    )
    return [root, chat, handoff, tool, orphan, unspecified]


def serve_status() -> dict[str, Any]:
    """What ``oracle-monitor serve`` reports besides status and version (`roles/serve.py`)."""
    latency = LatencyHistogram()
    latency.observe(0.003)
    latency.observe(20.0)
    return {
        "receiver": {
            "accepted_spans": 10, "rejected_spans": 1, "refused_requests": 0,
            "malformed_requests": 0, "failed_requests": 0, "worker_restarts": 0,
            "queued_bytes": 0, "queued_requests": 0, "max_queued_bytes": 64 << 20,
            "write_latency_seconds": latency.as_json(),
        },
        "snapshots": {"stored_snapshots": 3, "invalid_snapshots": 0, "failed_snapshots": 0,
                      "last_error": ""},
        "retention": None,
        "live": {"clients": 1},
        "forward": {"endpoints": [{"endpoint": "http://127.0.0.1:4318", "queued_spans": 0,
                                   "forwarded_spans": 5, "dropped_spans": 0, "failed_spans": 0}]},
    }  # fmt: skip


class PluginCollector(FakeCollector):
    """A collector registered besides the built-in ones, with a state of its own."""


@pytest.fixture(scope="module")
def now_ns() -> int:
    return time.time_ns()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, now_ns: int) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("contract")
    store = open_store(f"sqlite:///{path}/oracle.db")
    scenario = seed_scenario()
    store.write_spans([*scenario.spans, *rich_trace(now_ns - 60 * SECOND)])
    store.write_events(
        [*scenario.events,
         InfraEvent(now_ns - 55 * SECOND, "k8s", "oom_killed", "pod/agents/writer-7d9f8-x2",
                    Severity.CRITICAL, "writer OOMKilled",
                    {"k8s.pod.name": "writer-7d9f8-x2", "k8s.namespace.name": "agents"}),
         InfraEvent(now_ns - 58 * SECOND, "llm", "rate_limit_burst", "model/openai/gpt-4o",
                    Severity.WARNING, "429s", {"gen_ai.provider.name": "openai",
                                               "gen_ai.request.model": "gpt-4o", "count": 3})]
    )  # fmt: skip
    alerts = [
        Alert(alert_id("oom_killed", "pod/agents/writer-7d9f8-x2", now_ns - 55 * SECOND),
              "oom_killed", "critical", now_ns - 55 * SECOND, now_ns - 50 * SECOND,
              "pod/agents/writer-7d9f8-x2", "writer OOMKilled", 2, RICH_TRACE, "task-7"),
        Alert(alert_id("lag_spike", "partition/tool-responses/3", now_ns - 40 * SECOND),
              "lag_spike", "warning", now_ns - 40 * SECOND, now_ns - 40 * SECOND,
              "partition/tool-responses/3", "lag 5.2 s"),
    ]  # fmt: skip
    store.write_alerts(alerts)
    for seconds in (600, 300, 30):
        at_ns = now_ns - seconds * SECOND
        snapshot = build_snapshot(at_ns, collectors(), [agent("research"), agent("writer", "idle")],
                                  [alert_json(a) for a in alerts])  # fmt: skip
        store.write_snapshot(at_ns, snapshot)
    yield store
    store.close()


@pytest.fixture(scope="module")
def client(store: Store) -> TestClient:
    running = [*collectors(), PluginCollector("gpu", {"devices": [{"id": 0, "busy": 0.5}]})]
    return TestClient(create_app(store, serve_status, collectors=running))


@pytest.fixture(scope="module")
def contract(client: TestClient) -> Contract:
    return Contract(client.get("/api/openapi.json").json())


def _iso(ns: int) -> str:
    return rfc3339(ns)


def requests(now_ns: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(documented path, real path, query) of every request the test makes."""
    hour = {"start": _iso(now_ns - 3600 * SECOND), "end": _iso(now_ns)}
    t0 = seed_scenario().now_ns
    seed_window = {"start": _iso(t0 - 3 * 3600 * SECOND), "end": _iso(t0)}
    jaeger_window = {"start": str((now_ns - 3600 * SECOND) // 1000), "end": str(now_ns // 1000)}
    return [
        ("/api/v1/health", "/api/v1/health", {}),
        ("/api/v1/traces", "/api/v1/traces", {}),
        ("/api/v1/traces", "/api/v1/traces", {"status": "error", "limit": "5", **seed_window}),
        ("/api/v1/traces", "/api/v1/traces", {"agent": "nobody"}),
        ("/api/v1/traces/{trace_id}", f"/api/v1/traces/{RICH_TRACE}", {}),
        ("/api/v1/traces/{trace_id}", f"/api/v1/traces/{SEED_TRACE}", {}),
        ("/api/v1/traces/{trace_id}/causal-chain", f"/api/v1/traces/{SEED_TRACE}/causal-chain",
         {"at": _iso(t0)}),
        ("/api/v1/traces/{trace_id}/causal-chain", f"/api/v1/traces/{RICH_TRACE}/causal-chain", {}),
        ("/api/v1/tasks/{task_id}/causal-chain", "/api/v1/tasks/task-42/causal-chain",
         {"at": _iso(t0)}),
        ("/api/v1/tasks/{task_id}/causal-chain", "/api/v1/tasks/task-7/causal-chain", {}),
        ("/api/v1/costs", "/api/v1/costs", {}),
        ("/api/v1/costs", "/api/v1/costs", {"group_by": "agent", **hour}),
        ("/api/v1/costs", "/api/v1/costs", {"group_by": "provider", "start": _iso(now_ns)}),
        ("/api/v1/infra", "/api/v1/infra", {}),
        ("/api/v1/events", "/api/v1/events", {}),
        ("/api/v1/events", "/api/v1/events", {"source": "k8s", "entity": "pod/agents/*"}),
        ("/api/v1/alerts", "/api/v1/alerts", {}),
        ("/api/v1/alerts", "/api/v1/alerts", {"severity": "critical", **hour}),
        ("/api/v1/snapshots/latest", "/api/v1/snapshots/latest", {}),
        ("/api/v1/snapshots/at", "/api/v1/snapshots/at", {"ts": _iso(now_ns - 400 * SECOND)}),
        ("/api/v1/snapshots", "/api/v1/snapshots", {"step": "120", **hour}),
        ("/api/v1/snapshots", "/api/v1/snapshots", {"start": _iso(now_ns - 5 * SECOND)}),
        ("/api/v1/agents", "/api/v1/agents", {}),
        ("/jaeger/api/services", "/jaeger/api/services", {}),
        ("/jaeger/api/services/{service}/operations",
         "/jaeger/api/services/writer-agent/operations", {}),
        ("/jaeger/api/operations", "/jaeger/api/operations", {"service": "writer-agent"}),
        ("/jaeger/api/operations", "/jaeger/api/operations",
         {"service": "writer-agent", "spanKind": "client"}),
        ("/jaeger/api/traces", "/jaeger/api/traces", {"service": "writer-agent", **jaeger_window}),
        ("/jaeger/api/traces", f"/jaeger/api/traces?traceID={RICH_TRACE}&traceID={'e' * 32}", {}),
        ("/jaeger/api/traces/{trace_id}", f"/jaeger/api/traces/{RICH_TRACE}", {}),
        ("/jaeger/api/traces/{trace_id}", f"/jaeger/api/traces/{SEED_TRACE}", {}),
        ("/jaeger/api/dependencies", "/jaeger/api/dependencies", {}),
    ]  # fmt: skip


def test_every_json_route_is_asked(contract: Contract, now_ns: int) -> None:
    assert contract.json_routes() == {path for path, _, _ in requests(now_ns)}


def test_answers_match_the_openapi_document(
    client: TestClient, contract: Contract, now_ns: int
) -> None:
    for path, url, params in requests(now_ns):
        response = client.get(url, params=params or None)
        assert response.status_code == 200, (url, response.text[:300])
        contract.check(path, response.json())


def test_the_answers_fill_what_they_describe(client: TestClient, now_ns: int) -> None:
    """The populated store makes the answers non-trivial (so their validation means much)."""
    trace = client.get(f"/api/v1/traces/{RICH_TRACE}").json()
    chat = next(span for span in trace["spans"] if span["name"] == "chat gpt-4o")
    assert chat["attributes"]["payload.digest"] == {"bytesValue": "AAFiaW5hcnk="}
    assert chat["events"] and chat["tokens"]["input"] == 1200 and chat["rate_limited"]
    assert any(span["handoff"] for span in trace["spans"])
    assert any(span["links"] for span in trace["spans"])
    assert trace["events"] and trace["events"][0]["span_ids"]
    infra = client.get("/api/v1/infra").json()["collectors"]
    assert set(infra) == {"k8s", "kafka", "llm", "gpu"}
    assert infra["k8s"]["state"]["pods"] and infra["kafka"]["state"]["groups"]
    chain = client.get(f"/api/v1/tasks/task-42/causal-chain?at={_iso(seed_scenario().now_ns)}")
    assert len(chain.json()["chain"]) >= 5
    jaeger = client.get(f"/jaeger/api/traces/{RICH_TRACE}").json()["data"][0]
    assert any("flags" in span for span in jaeger["spans"])
    assert any(span["warnings"] for span in jaeger["spans"])
    assert client.get("/api/v1/agents").json()["source"] == "snapshot"
    assert len(client.get("/api/v1/snapshots", params={"step": "1"}).json()["snapshots"]) == 3


def test_agents_from_spans_match(store: Store, contract: Contract, tmp_path: Path) -> None:
    """Without a fresh snapshot, /agents computes the views from the stored spans."""
    spans_only = open_store(f"sqlite:///{tmp_path}/spans.db")
    try:
        spans_only.write_spans(store.get_trace(RICH_TRACE))
        body = TestClient(create_app(spans_only, serve_status)).get("/api/v1/agents").json()
        assert body["source"] == "spans" and body["agents"]
        contract.check("/api/v1/agents", body)
    finally:
        spans_only.close()


def test_health_of_the_api_role(store: Store, contract: Contract) -> None:
    """``oracle-monitor api`` reports its role and live poller instead of serve's duties."""
    poll = {"interval_seconds": 1.0, "polls": 3, "published": {"snapshots": 1, "alerts": 0,
            "events": 2}, "last_error": ""}  # fmt: skip
    app = create_app(store, lambda: {"role": "api", "live": {"clients": 0, "poll": poll}})
    contract.check("/api/v1/health", TestClient(app).get("/api/v1/health").json())


@pytest.mark.parametrize(
    ("path", "url", "status"),
    [
        ("/api/v1/traces", "/api/v1/traces?limit=0", 400),
        ("/api/v1/traces/{trace_id}", "/api/v1/traces/xyz", 400),
        ("/api/v1/traces/{trace_id}", f"/api/v1/traces/{'c' * 32}", 404),
        ("/api/v1/tasks/{task_id}/causal-chain", "/api/v1/tasks/none/causal-chain", 404),
        ("/api/v1/snapshots/at", "/api/v1/snapshots/at?ts=yesterday", 400),
        ("/api/v1/snapshots", "/api/v1/snapshots?step=0.0001", 400),
        ("/api/v1/events", "/api/v1/events?source=dns", 400),
        ("/api/v1/alerts", "/api/v1/alerts?severity=loud", 400),
        ("/api/v1/costs", "/api/v1/costs?group_by=pod", 400),
        ("/jaeger/api/traces", "/jaeger/api/traces", 400),
        ("/jaeger/api/traces/{trace_id}", f"/jaeger/api/traces/{'c' * 32}", 404),
        ("/jaeger/api/traces/{trace_id}", "/jaeger/api/traces/xyz", 400),
        ("/jaeger/api/operations", "/jaeger/api/operations?service=a&spanKind=odd", 400),
        ("/jaeger/api/dependencies", "/jaeger/api/dependencies?endTs=soon", 400),
    ],
)
def test_refusals_match_the_openapi_document(
    client: TestClient, contract: Contract, path: str, url: str, status: int
) -> None:
    response = client.get(url)
    assert response.status_code == status, response.text[:300]
    contract.check(path, response.json(), status)


def test_an_undeclared_or_missing_key_fails(client: TestClient, contract: Contract) -> None:
    """The check is strict: the document lists every key, and the required ones are there."""
    body = client.get(f"/api/v1/traces/{RICH_TRACE}").json()
    assert not contract.errors("/api/v1/traces/{trace_id}", body)
    body["spans"][0]["surprise"] = 1
    del body["events"][0]["via"]
    errors = contract.errors("/api/v1/traces/{trace_id}", body)
    assert any("surprise" in error for error in errors), errors
    assert any("'via' is a required property" in error for error in errors), errors
    snapshot = client.get("/api/v1/snapshots/latest").json()
    snapshot["snapshot"]["kafka"]["extra"] = True
    assert contract.errors("/api/v1/snapshots/latest", snapshot)
    jaeger = client.get(f"/jaeger/api/traces/{RICH_TRACE}").json()
    jaeger["data"][0]["spans"][0]["tags"][0]["type"] = "int32"
    assert contract.errors("/jaeger/api/traces/{trace_id}", jaeger)
