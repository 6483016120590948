"""``GET /api/v1/alerts`` over a real SQLite store, and alerts raised inside the real server
from the LLM collector's events, read back over REST after a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from oracle_monitor.api import create_app
from oracle_monitor.model import Alert
from oracle_monitor.store import Store, open_store
from oracle_monitor.timestamps import rfc3339
from tests.integration.conftest import StartServer
from tests.integration.oracle_server import OracleServer

S = 1_000_000_000
T0 = 1_790_000_000 * S


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path}/alerts.db")
    store.write_alerts(
        [
            Alert("a" * 32, "oom_killed", "critical", T0, T0 + 10 * S, "pod/agents/r-0", "OOM", 3),
            Alert("b" * 32, "lag_spike", "warning", T0 + 20 * S, T0 + 30 * S, "group/g/topic/t",
                  "lag"),
            Alert("c" * 32, "task_orphaned", "critical", T0 + 40 * S, T0 + 40 * S, "task/task-1",
                  "lost", task_id="task-1", trace_id="d" * 32),
        ]
    )  # fmt: skip
    yield store
    store.close()


def ids(client: TestClient, **params: str) -> list[str]:
    response = client.get("/api/v1/alerts", params=params)
    assert response.status_code == 200, response.text
    return [alert["id"][0] for alert in response.json()["alerts"]]


def test_alerts_newest_first_and_filtered(store: Store) -> None:
    client = TestClient(create_app(store, dict))
    assert ids(client) == ["c", "b", "a"]
    assert ids(client, severity="critical") == ["c", "a"]
    assert ids(client, severity="warning,info") == ["b"]
    assert ids(client, limit="1") == ["c"]
    assert ids(client, start=rfc3339(T0 + 11 * S)) == ["c", "b"]  # a ended at +10 s
    assert ids(client, end=rfc3339(T0 + 19 * S)) == ["a"]  # b opened at +20 s
    assert ids(client, start=rfc3339(T0 + 25 * S), end=rfc3339(T0 + 25 * S)) == ["b"]
    (orphan,) = client.get("/api/v1/alerts", params={"limit": "1"}).json()["alerts"]
    assert orphan["link"] == "/tasks/task-1" and orphan["trace_id"] == "d" * 32


def test_a_repeat_updates_the_stored_alert(store: Store) -> None:
    store.write_alerts(
        [Alert("a" * 32, "oom_killed", "warning", T0 + 5 * S, T0 + 50 * S, "pod/agents/r-0",
               "OOM again", 4)]
    )  # fmt: skip
    body = TestClient(create_app(store, dict)).get("/api/v1/alerts").json()["alerts"][0]
    assert (body["id"], body["count"], body["severity"]) == ("a" * 32, 4, "critical")
    assert (body["first_at"], body["last_at"]) == (rfc3339(T0), rfc3339(T0 + 50 * S))
    assert body["summary"] == "OOM again"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"severity": "error"}, "severity"),
        ({"severity": ""}, "severity"),
        ({"limit": "0"}, "limit"),
        ({"limit": "5000"}, "limit"),
        ({"start": "soon"}, "start"),
        ({"start": rfc3339(T0 + S), "end": rfc3339(T0)}, "after end"),
    ],
)
def test_bad_parameters_are_400(store: Store, params: dict[str, str], message: str) -> None:
    response = TestClient(create_app(store, dict)).get("/api/v1/alerts", params=params)
    assert response.status_code == 400
    assert message in response.json()["detail"]


def rate_limited_calls(server: OracleServer, count: int, token: str | None = None) -> None:
    """``count`` 429s of gpt-4o, through the real OTLP exporter."""
    provider = TracerProvider(resource=Resource.create({"service.name": "research-agent"}))
    headers = {"authorization": f"Bearer {token}"} if token else None
    exporter = OTLPSpanExporter(
        endpoint=f"http://{server.grpc_target}", insecure=True, headers=headers
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    for _ in range(count):
        attributes: dict[str, str | int | bool] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o", "gen_ai.agent.name": "research",
            "http.response.status_code": 429, "oracle.llm.rate_limited": True,
            "error.type": "rate_limit_exceeded",
        }  # fmt: skip
        with tracer.start_as_current_span(
            "chat gpt-4o", kind=SpanKind.CLIENT, attributes=attributes
        ):
            pass
    provider.shutdown()


def wait_for_alerts(server: OracleServer, timeout_s: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found: list[dict[str, Any]] = server.api("/api/v1/alerts").json()["alerts"]
        if found:
            return found
        time.sleep(0.1)
    raise TimeoutError(f"no alert:\n{server.log()}")


@pytest.mark.integration
def test_the_server_raises_alerts_and_keeps_them_across_a_restart(
    start_server: StartServer, tmp_path: Path
) -> None:
    settings = {"llm_poll_seconds": "0.2", "llm_rate_limit_burst": "2",
                "snapshot_interval_seconds": "0.2"}  # fmt: skip
    server = start_server(data_dir=tmp_path / "data", **settings)
    rate_limited_calls(server, 2)
    (alert,) = wait_for_alerts(server)
    assert (alert["kind"], alert["entity"], alert["severity"]) == (
        "rate_limit_burst", "model/openai/gpt-4o", "warning",
    )  # fmt: skip
    assert alert["trace_id"] and alert["link"] == f"/traces/{alert['trace_id']}"
    deadline = time.monotonic() + 10  # the next snapshot holds it as active
    while not (snap := server.api("/api/v1/snapshots/latest").json()["snapshot"])["alerts"]:
        assert time.monotonic() < deadline, "the alert never shows in a snapshot"
        time.sleep(0.1)
    assert [a["id"] for a in snap["alerts"]] == [alert["id"]]
    assert server.stop() == 0

    again = start_server(data_dir=tmp_path / "data", **settings)
    assert [a["id"] for a in wait_for_alerts(again)] == [alert["id"]]
