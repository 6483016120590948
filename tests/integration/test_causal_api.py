"""The causal-chain routes over a real SQLite store holding the scenarios' spans and events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from oracle_monitor.api import create_app
from oracle_monitor.store import Store, open_store
from oracle_monitor.timestamps import rfc3339
from tests.unit.aggregator.scenarios import Scenario, healthy_scenario, seed_scenario

SEED = [
    "kafka_lag_spike", "agent_timeout", "retry", "llm_rate_limited", "oom_killed",
    "pod_rescheduled", "task_orphaned",
]  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path}/chains.db")
    yield opened
    opened.close()


def client_with(store: Store, *scenarios: Scenario) -> TestClient:
    for scenario in scenarios:
        store.write_spans(scenario.spans)
        store.write_events(scenario.events)
    return TestClient(create_app(store, dict))


def test_the_seed_cascade_by_trace_and_by_task(store: Store) -> None:
    seed = seed_scenario()
    client = client_with(store, seed)
    at = {"at": rfc3339(seed.now_ns)}
    trace_id = seed.spans[0].trace_id
    by_trace = client.get(f"/api/v1/traces/{trace_id}/causal-chain", params=at).json()
    assert [link["kind"] for link in by_trace["chain"]] == SEED
    assert by_trace["root_cause"]["kind"] == "kafka_lag_spike"
    assert by_trace["root_cause"]["entity"] == "partition/tool-responses/3"
    assert all(link["rule"] for link in by_trace["chain"][1:])
    task_id = next(span.task_id for span in seed.spans if span.task_id)
    by_task = client.get(f"/api/v1/tasks/{task_id}/causal-chain", params=at).json()
    assert [link["kind"] for link in by_task["chain"]] == SEED
    # Asked about a moment before the orphan timeout ran out, the task is not orphaned yet.
    early = {"at": by_trace["chain"][-2]["at"]}
    before = client.get(f"/api/v1/traces/{trace_id}/causal-chain", params=early).json()
    assert "task_orphaned" not in [link["kind"] for link in before["chain"]]


def test_a_healthy_trace_has_an_empty_chain(store: Store) -> None:
    healthy = healthy_scenario()
    client = client_with(store, healthy)  # the scenarios share pods and times: one at a time
    body = client.get(
        f"/api/v1/traces/{healthy.spans[0].trace_id}/causal-chain",
        params={"at": rfc3339(healthy.now_ns)},
    ).json()
    assert body["chain"] == []
    assert body["root_cause"] is None


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/api/v1/traces/{'c' * 32}/causal-chain", 404),
        ("/api/v1/traces/xyz/causal-chain", 400),
        ("/api/v1/tasks/no-such-task/causal-chain", 404),
        (f"/api/v1/traces/{'c' * 32}/causal-chain?at=yesterday", 400),
    ],
)
def test_errors(store: Store, path: str, status: int) -> None:
    assert client_with(store).get(path).status_code == status
