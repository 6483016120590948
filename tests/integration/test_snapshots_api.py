"""``/api/v1/snapshots`` and ``/api/v1/agents``: over a real SQLite store with TestClient, and
against the real server taking snapshots on its own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from oracle_monitor.aggregator.snapshot import build_snapshot, validate_snapshot
from oracle_monitor.api import create_app
from oracle_monitor.api.snapshots import parse_rfc3339_ns
from oracle_monitor.model import Span, SpanKind
from oracle_monitor.store import Store, open_store
from oracle_monitor.timestamps import rfc3339
from tests.integration import otlp_payloads as otlp
from tests.integration.conftest import StartServer
from tests.unit.aggregator.snapshot_sample import agent, collectors

S = 1_000_000_000
T0 = 1_790_000_000 * S  # 2026-09-21T14:13:20Z


def snapshot(at_ns: int, name: str) -> dict[str, Any]:
    return build_snapshot(at_ns, collectors(), [agent(name)])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path}/snapshots.db")
    yield store
    store.close()


@pytest.fixture
def client(store: Store) -> TestClient:
    for n in range(5):  # one every 10 s
        store.write_snapshot(T0 + n * 10 * S, snapshot(T0 + n * 10 * S, f"agent-{n}"))
    return TestClient(create_app(store, dict))


def test_latest(client: TestClient) -> None:
    body = client.get("/api/v1/snapshots/latest").json()
    assert body["timestamp_unix_nano"] == T0 + 40 * S
    assert body["snapshot"]["agents"][0]["name"] == "agent-4"
    assert validate_snapshot(body["snapshot"]) == []


def test_latest_is_404_on_an_empty_store(store: Store) -> None:
    response = TestClient(create_app(store, dict)).get("/api/v1/snapshots/latest")
    assert response.status_code == 404


def test_at_gives_the_last_at_or_before(client: TestClient) -> None:
    body = client.get("/api/v1/snapshots/at", params={"ts": rfc3339(T0 + 25 * S)}).json()
    assert body["timestamp_unix_nano"] == T0 + 20 * S
    body = client.get("/api/v1/snapshots/at", params={"ts": "2026-09-21T16:13:30+02:00"}).json()
    assert body["timestamp_unix_nano"] == T0 + 10 * S
    early = client.get("/api/v1/snapshots/at", params={"ts": rfc3339(T0 - S)})
    assert early.status_code == 404
    assert "no snapshot" in early.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [{}, {"ts": "yesterday"}, {"ts": "2026-13-01T00:00:00Z"}],
)
def test_at_rejects_bad_times(client: TestClient, params: dict[str, str]) -> None:
    response = client.get("/api/v1/snapshots/at", params=params)
    assert response.status_code == 400
    assert "ts" in response.json()["detail"]


def test_series_downsamples(client: TestClient) -> None:
    params = {"start": rfc3339(T0), "end": rfc3339(T0 + 40 * S)}
    body = client.get("/api/v1/snapshots", params={**params, "step": "20"}).json()
    assert [p["timestamp_unix_nano"] - T0 for p in body["snapshots"]] == [10 * S, 30 * S, 40 * S]
    assert body["snapshots"][0]["snapshot"]["agents"][0]["name"] == "agent-1"
    body = client.get("/api/v1/snapshots", params={**params, "step": "5"}).json()
    assert len(body["snapshots"]) == 5
    default = client.get("/api/v1/snapshots", params={"end": rfc3339(T0 + 40 * S)}).json()
    assert default["step_seconds"] == 60
    # T0 is 20 s past a whole minute: buckets [T0 - 20 s, T0 + 40 s) and [T0 + 40 s, ...)
    assert [p["timestamp_unix_nano"] - T0 for p in default["snapshots"]] == [30 * S, 40 * S]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"step": "0"}, "step"),
        ({"step": "-5"}, "step"),
        ({"step": "soon"}, "step"),
        ({"start": "later"}, "start"),
        ({"start": "2026-09-21T15:00:00Z", "end": "2026-09-21T14:00:00Z"}, "after end"),
        ({"start": "2020-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z", "step": "1"}, "steps"),
    ],
)
def test_series_rejects_bad_params(
    client: TestClient, params: dict[str, str], message: str
) -> None:
    response = client.get("/api/v1/snapshots", params=params)
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_agents_from_spans_when_no_fresh_snapshot(client: TestClient, store: Store) -> None:
    now = time.time_ns()
    store.write_spans(
        [
            Span(trace_id="a" * 32, span_id="1" * 16, parent_span_id="", name="task",
                 kind=SpanKind.INTERNAL, start_time_ns=now - 2 * S, end_time_ns=now - S,
                 agent_name="research", task_id="task-9")
        ]
    )  # fmt: skip
    body = client.get("/api/v1/agents").json()  # the stored snapshots are old
    assert body["source"] == "spans"
    assert [(a["name"], a["status"], a["current_task"]) for a in body["agents"]] == [
        ("research", "running", "task-9")
    ]
    store.write_snapshot(now, snapshot(now, "from-snapshot"))
    body = client.get("/api/v1/agents").json()
    assert body["source"] == "snapshot"
    assert [a["name"] for a in body["agents"]] == ["from-snapshot"]


@pytest.mark.integration
def test_server_takes_snapshots_over_time(start_server: StartServer) -> None:
    server = start_server(snapshot_interval_seconds="0.2")
    span = otlp.span(attributes={"gen_ai.agent.name": "research", "oracle.task.id": "task-1"})
    span.start_time_unix_nano = time.time_ns() - S
    span.end_time_unix_nano = time.time_ns()
    response = httpx.post(
        f"{server.otlp_http_url}/v1/traces",
        content=otlp.request(span).SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert response.status_code == 200

    def latest() -> dict[str, Any]:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            response = server.api("/api/v1/snapshots/latest")
            if response.status_code == 200:
                body: dict[str, Any] = response.json()
                return body
            time.sleep(0.05)
        raise TimeoutError("no snapshot")

    first = latest()
    assert validate_snapshot(first["snapshot"]) == []
    assert first["snapshot"]["kubernetes"]["health"]["status"] == "stopped"
    assert first["snapshot"]["llm_usage"]["health"]["status"] != "stopped"
    deadline = time.monotonic() + 10
    while (later := latest())["timestamp_unix_nano"] == first["timestamp_unix_nano"]:
        assert time.monotonic() < deadline, "the latest snapshot does not change"
        time.sleep(0.1)
    assert later["timestamp_unix_nano"] > first["timestamp_unix_nano"]
    deadline = time.monotonic() + 15  # the span reaches the store, then a snapshot
    while not (agents := latest()["snapshot"]["agents"]):
        assert time.monotonic() < deadline, "the agent never appears in a snapshot"
        time.sleep(0.1)
    assert agents[0]["name"] == "research" and agents[0]["current_task"] == "task-1"

    earlier = server.api("/api/v1/snapshots/at", ts=rfc3339(first["timestamp_unix_nano"]))
    assert earlier.status_code == 200
    assert earlier.json() == first
    assert server.health()["snapshots"]["invalid_snapshots"] == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-09-21T14:13:20Z", T0),
        ("2026-09-21T14:13:20.000000001Z", T0 + 1),
        ("2026-09-21T14:13:20.5", T0 + S // 2),
        ("2026-09-21t16:13:20.123456789+02:00", T0 + 123_456_789),
        ("2026-09-21T13:43:20-00:30", T0),
    ],
)
def test_parse_rfc3339_keeps_nanoseconds(text: str, expected: int) -> None:
    assert parse_rfc3339_ns(text) == expected


@pytest.mark.parametrize("text", ["", "2026-09-21", "2026-09-21T14:13:20.1234567890Z", "now"])
def test_parse_rfc3339_refuses_other_text(text: str) -> None:
    with pytest.raises(ValueError, match="not an RFC 3339 time"):
        parse_rfc3339_ns(text)
