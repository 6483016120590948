"""The REST API over a real SQLite store: filters, validation (400), unknown trace (404)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from oracle_monitor.api import create_app
from oracle_monitor.collectors.base import CollectorHealth
from oracle_monitor.model import InfraEvent, Severity, Span, SpanKind, StatusCode
from oracle_monitor.store import Store, open_store

T0 = 1_790_000_000_000_000_000  # 2026-09-21T14:13:20Z
SECOND = 1_000_000_000


def span(trace: str, span_id: str, parent: str = "", **fields: Any) -> Span:
    values: dict[str, Any] = {
        "name": "step",
        "kind": SpanKind.INTERNAL,
        "start_time_ns": T0,
        "end_time_ns": T0 + SECOND,
        "service_name": "writer-agent",
    }
    values.update(fields)
    return Span(trace_id=trace, span_id=span_id, parent_span_id=parent, **values)


TRACE_A = "a" * 32
TRACE_B = "b" * 32


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path}/api.db")
    store.write_spans(
        [
            span(TRACE_A, "1" * 16, name="agent.task", agent_name="writer"),
            span(TRACE_A, "2" * 16, "1" * 16, name="chat", input_tokens=7, output_tokens=3,
                 provider="openai", model="gpt-4o"),
            span(TRACE_B, "3" * 16, name="agent.task", service_name="research-agent",
                 start_time_ns=T0 + 60 * SECOND, end_time_ns=T0 + 61 * SECOND,
                 status_code=StatusCode.ERROR, status_message="timeout"),
        ]
    )  # fmt: skip
    yield store
    store.close()


class StaticCollector:
    """A collector that reports a fixed state (the API only reads `health` and `state`)."""

    name = "kafka"

    async def start(self) -> None: ...

    async def shutdown(self) -> None: ...

    def health(self) -> CollectorHealth:
        return CollectorHealth("unreachable", "broker down", T0)

    def state(self) -> dict[str, Any]:
        return {"groups": {"research-agents": {"status": "STALL"}}}


@pytest.fixture
def client(store: Store) -> TestClient:
    store.write_events(
        [
            InfraEvent(T0 + SECOND, "k8s", "oom_killed", "pod/agents/research-1", Severity.ERROR,
                       "research-1 OOMKilled", {"k8s.pod.name": "research-1", "exit_code": 137}),
            InfraEvent(T0 + 2 * SECOND, "kafka", "lag_spike", "partition/tool-responses/0",
                       Severity.WARNING, "lag 5.2 s", {"lag_seconds": 5.2}),
        ]
    )  # fmt: skip
    status = {"receiver": {"accepted_spans": 3}}
    return TestClient(create_app(store, lambda: status, collectors=[StaticCollector()]))


def test_health(client: TestClient) -> None:
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["receiver"] == {"accepted_spans": 3}


def test_trace_by_id(client: TestClient) -> None:
    response = client.get(f"/api/v1/traces/{TRACE_A.upper()}")
    assert response.status_code == 200
    body = response.json()
    assert body["trace_id"] == TRACE_A
    root, chat = body["spans"]
    assert root["parent_span_id"] is None
    assert chat["parent_span_id"] == "1" * 16
    assert root["start_time"] == "2026-09-21T14:13:20.000000000Z"
    assert root["end_time"] == "2026-09-21T14:13:21.000000000Z"
    assert root["duration_ms"] == 1000.0
    assert chat["tokens"]["input"] == 7
    assert chat["model"] == "gpt-4o"
    assert root["status"] == {"code": "UNSET", "message": ""}


def test_unknown_trace_is_404(client: TestClient) -> None:
    response = client.get(f"/api/v1/traces/{'c' * 32}")
    assert response.status_code == 404
    assert "not found" in response.json()["detail"]


@pytest.mark.parametrize("bad", ["abc", "z" * 32, "a" * 33, "a" * 31])
def test_invalid_trace_id_is_400(client: TestClient, bad: str) -> None:
    response = client.get(f"/api/v1/traces/{bad}")
    assert response.status_code == 400
    assert "32 hex digits" in response.json()["detail"]


def test_search_newest_first_with_summaries(client: TestClient) -> None:
    traces = client.get("/api/v1/traces").json()["traces"]
    assert [trace["trace_id"] for trace in traces] == [TRACE_B, TRACE_A]
    a = traces[1]
    assert a["root_name"] == "agent.task"
    assert a["span_count"] == 2
    assert a["total_tokens"] == 10
    assert a["has_error"] is False
    assert a["agents"] == ["writer"]
    assert traces[0]["has_error"] is True


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"service": "research-agent"}, [TRACE_B]),
        ({"agent": "writer"}, [TRACE_A]),
        ({"status": "error"}, [TRACE_B]),
        ({"status": "ok"}, [TRACE_A]),
        ({"start": "2026-09-21T14:14:00Z"}, [TRACE_B]),
        ({"end": "2026-09-21T14:14:00+00:00"}, [TRACE_A]),
        ({"start": "2026-09-21T16:13:20+02:00", "end": "2026-09-21T16:13:20+02:00"}, [TRACE_A]),
        ({"limit": "1"}, [TRACE_B]),
        ({"service": "nobody"}, []),
    ],
)
def test_search_filters(client: TestClient, params: dict[str, str], expected: list[str]) -> None:
    response = client.get("/api/v1/traces", params=params)
    assert response.status_code == 200
    assert [trace["trace_id"] for trace in response.json()["traces"]] == expected


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "broken"}, "status"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-09-21T14:00:00Z", "end": "2026-09-21T13:00:00Z"}, "start"),
    ],
)
def test_bad_parameters_are_400(client: TestClient, params: dict[str, str], fragment: str) -> None:
    response = client.get("/api/v1/traces", params=params)
    assert response.status_code == 400
    assert fragment in response.json()["detail"]


def test_costs(client: TestClient) -> None:
    body = client.get("/api/v1/costs", params={"group_by": "provider"}).json()
    assert body["group_by"] == "provider"
    assert [group["key"] for group in body["groups"]] == ["openai"]
    assert body["groups"][0]["tokens"]["input"] == 7
    assert body["total"]["requests"] == 1
    assert body["total"]["unpriced_requests"] == 1  # the fixture's span carries no cost


@pytest.mark.parametrize(
    "params",
    [{"group_by": "pod"}, {"start": "2026-09-21T15:00:00Z", "end": "2026-09-21T14:00:00Z"}],
)
def test_costs_bad_parameters_are_400(client: TestClient, params: dict[str, str]) -> None:
    assert client.get("/api/v1/costs", params=params).status_code == 400


def test_infra_reports_each_collectors_health_and_state(client: TestClient) -> None:
    kafka = client.get("/api/v1/infra").json()["collectors"]["kafka"]
    assert kafka["health"]["status"] == "unreachable"
    assert kafka["state"]["groups"]["research-agents"]["status"] == "STALL"


@pytest.mark.parametrize(
    ("params", "kinds"),
    [
        ({}, ["lag_spike", "oom_killed"]),
        ({"source": "k8s"}, ["oom_killed"]),
        ({"kind": "lag_spike"}, ["lag_spike"]),
        ({"entity": "pod/agents/*"}, ["oom_killed"]),
        ({"start": "2026-09-21T14:13:22Z"}, ["lag_spike"]),
        ({"limit": "1"}, ["lag_spike"]),
    ],
)
def test_events(client: TestClient, params: dict[str, str], kinds: list[str]) -> None:
    response = client.get("/api/v1/events", params=params)
    assert response.status_code == 200
    events = response.json()["events"]
    assert [event["kind"] for event in events] == kinds
    if "oom_killed" in kinds:
        oom = next(event for event in events if event["kind"] == "oom_killed")
        assert oom["attributes"] == {"k8s.pod.name": "research-1", "exit_code": 137}
        assert oom["time"] == "2026-09-21T14:13:21.000000000Z"
        assert oom["severity"] == "error"


@pytest.mark.parametrize(
    "params",
    [
        {"source": "docker"},
        {"limit": "0"},
        {"start": "2026-09-22T00:00:00Z", "end": "2026-09-21T00:00:00Z"},
    ],
)
def test_events_bad_parameters_are_400(client: TestClient, params: dict[str, str]) -> None:
    assert client.get("/api/v1/events", params=params).status_code == 400
