"""``GET /metrics`` over a real SQLite store and collectors with fixed states, parsed with
prometheus-client's own text parser: names, types, labels, values and bounded cardinality.

The collectors here report a fixed state (the metrics only read ``name``, ``health`` and
``state``); their real state shapes are those of the k8s and Kafka collectors' tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from oracle_monitor.api import create_app, prometheus
from oracle_monitor.api.prometheus import MAX_GROUPS
from oracle_monitor.collectors.base import CollectorHealth
from oracle_monitor.model import Attributes, InfraEvent, Severity, Span, SpanKind
from oracle_monitor.receiver.latency import LatencyHistogram
from oracle_monitor.store import Store, open_store
from tests.integration.oracle_server import OracleServer
from tests.integration.test_exporters import send_agent_trace

T0 = 1_790_000_000_000_000_000
RESERVED = {"trace_id", "span_id", "task_id", "trace", "span", "task"}


class FixedCollector:
    """A collector whose health and state are given."""

    def __init__(self, name: str, state: dict[str, Any], status: str = "ok") -> None:
        self.name = name
        self._state = state
        self._status = status

    async def start(self) -> None: ...

    async def shutdown(self) -> None: ...

    def health(self) -> CollectorHealth:
        return CollectorHealth(self._status)  # type: ignore[arg-type]

    def state(self) -> dict[str, Any]:
        return self._state


def pod(name: str, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "namespace": "agents", "name": name, "uid": "u-" + name, "phase": "Running",
        "ready": True, "restarts": 0,
        "cpu_cores": {"usage": 0.25, "limit": 1.0},
        "memory_bytes": {"usage": 200e6, "limit": 256e6},
    }  # fmt: skip
    values.update(fields)
    return values


KAFKA = {
    "groups": {
        "research-agents-tool-responses": {
            "status": "STALL",
            "partitions": [
                {"topic": "tool-responses", "partition": 0, "lag": 42, "lag_seconds": 6.5},
                {"topic": "tool-responses", "partition": 1, "lag": 0, "lag_seconds": None},
            ],
        }
    },
    "topics": {"tasks.dlq": {"is_dlq": True, "dlq_depth": 3}, "results": {"is_dlq": False}},
}
K8S = {
    "pods": [
        pod("research-0", restarts=2, ready=False, phase="Pending"),
        pod("writer-0", cpu_cores={"usage": None, "limit": None}),
    ]
}


def llm_span(number: int, agent: str, model: str, **fields: Any) -> Span:
    start = T0 + number
    return Span(
        f"{number:032x}", f"{number:016x}", "", "chat", SpanKind.CLIENT, start, start + 5,
        agent_name=agent, provider="openai", model=model, **fields,
    )  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path}/metrics.db")
    store.write_spans(
        [
            llm_span(1, "research", "gpt-4o", input_tokens=1000, output_tokens=200, cost_usd=0.5),
            llm_span(2, "research", "gpt-4o", input_tokens=10, cache_read_tokens=5, cost_usd=0.25),
            llm_span(3, "writer", "gpt-4o-mini", rate_limited=True),
        ]
    )
    owner: Attributes = {"k8s.namespace.name": "agents", "k8s.owner.name": "research"}
    critical = Severity.CRITICAL
    store.write_events(
        [
            InfraEvent(T0, "k8s", "oom_killed", "pod/agents/research-0", critical, "", owner),
            InfraEvent(T0 + 1, "k8s", "oom_killed", "pod/agents/research-1", critical, "", owner),
            InfraEvent(T0 + 2, "k8s", "pod_evicted", "pod/agents/research-1", critical, "", owner),
        ]
    )
    yield store
    store.close()


def scrape(store: Store, receiver: dict[str, Any], *collectors: FixedCollector) -> dict[str, Any]:
    app = create_app(store, lambda: {"receiver": receiver}, collectors=list(collectors))
    response = TestClient(app).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def values(family: Any, sample_name: str | None = None) -> dict[tuple[tuple[str, str], ...], float]:
    samples: list[Sample] = family.samples
    return {
        tuple(sorted(s.labels.items())): s.value
        for s in samples
        if sample_name is None or s.name == sample_name
    }


def receiver_state() -> dict[str, Any]:
    latency = LatencyHistogram()
    for seconds in (0.004, 0.02, 0.02, 3.0):
        latency.observe(seconds)
    return {
        "accepted_spans": 120, "rejected_spans": 2, "refused_requests": 1, "malformed_requests": 0,
        "failed_requests": 0, "worker_restarts": 0, "queued_bytes": 4096, "queued_requests": 2,
        "max_queued_bytes": 1 << 26, "write_latency_seconds": latency.as_json(),
    }  # fmt: skip


def test_every_family_with_its_type_labels_and_values(store: Store) -> None:
    families = scrape(
        store,
        receiver_state(),
        FixedCollector("kafka", KAFKA),
        FixedCollector("k8s", K8S, status="degraded"),
    )
    types = {name: family.type for name, family in families.items()}
    assert types["oracle_receiver_accepted_spans"] == "counter"
    assert values(
        families["oracle_receiver_accepted_spans"], "oracle_receiver_accepted_spans_total"
    ) == {(): 120}
    assert values(families["oracle_receiver_rejected_spans"])[()] == 2
    assert values(families["oracle_receiver_refused_requests"])[()] == 1
    assert types["oracle_receiver_queued_requests"] == "gauge"
    assert values(families["oracle_receiver_queued_bytes"])[()] == 4096
    latency = families["oracle_receiver_write_duration_seconds"]
    assert latency.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in latency.samples if s.name.endswith("_bucket")}
    assert (buckets["0.005"], buckets["0.025"], buckets["2.5"], buckets["+Inf"]) == (1, 3, 3, 4)
    count = values(latency, "oracle_receiver_write_duration_seconds_count")
    assert count == {(): 4}

    tokens = values(families["oracle_llm_agent_tokens"], "oracle_llm_agent_tokens_total")
    assert tokens[(("agent", "research"), ("kind", "input"))] == 1010
    assert tokens[(("agent", "research"), ("kind", "output"))] == 200
    assert tokens[(("agent", "research"), ("kind", "cache_read"))] == 5
    assert values(families["oracle_llm_agent_cost_usd"])[(("agent", "research"),)] == 0.75
    assert values(families["oracle_llm_agent_requests"])[(("agent", "writer"),)] == 1
    assert values(families["oracle_llm_model_rate_limited_requests"]) == {
        (("model", "gpt-4o"),): 0, (("model", "gpt-4o-mini"),): 1
    }  # fmt: skip

    group = ("group", "research-agents-tool-responses")
    lag = values(families["oracle_kafka_consumer_lag_messages"])
    assert lag[(group, ("partition", "0"), ("topic", "tool-responses"))] == 42
    lag_s = values(families["oracle_kafka_consumer_lag_seconds"])
    assert lag_s == {(group, ("partition", "0"), ("topic", "tool-responses")): 6.5}
    status = values(families["oracle_kafka_consumer_group_status"])
    assert status[(group, ("status", "STALL"))] == 1 and status[(group, ("status", "OK"))] == 0
    assert values(families["oracle_kafka_dlq_messages"]) == {(("topic", "tasks.dlq"),): 3}

    research = (("namespace", "agents"), ("pod", "research-0"))
    assert (
        values(families["oracle_k8s_pod_restarts"], "oracle_k8s_pod_restarts_total")[research] == 2
    )
    assert values(families["oracle_k8s_pod_ready"])[research] == 0
    phase = values(families["oracle_k8s_pod_phase"])
    assert phase[(("namespace", "agents"), ("phase", "Pending"), ("pod", "research-0"))] == 1
    assert phase[(("namespace", "agents"), ("phase", "Running"), ("pod", "research-0"))] == 0
    assert values(families["oracle_k8s_pod_memory_usage_bytes"])[research] == 200e6
    assert values(families["oracle_k8s_pod_memory_limit_bytes"])[research] == 256e6
    cpu = values(families["oracle_k8s_pod_cpu_usage_cores"])
    assert cpu == {research: 0.25}  # writer-0 has no usage reported: no sample
    ooms = values(families["oracle_k8s_oom_kills"], "oracle_k8s_oom_kills_total")
    assert ooms == {(("namespace", "agents"), ("owner", "research")): 2}
    assert values(families["oracle_collector_up"]) == {
        (("collector", "k8s"),): 0, (("collector", "kafka"),): 1
    }  # fmt: skip
    for family in families.values():
        assert family.name.startswith("oracle_")
        for sample in family.samples:
            assert not RESERVED & set(sample.labels), sample


def test_no_collectors_no_spans_still_scrapes(tmp_path: Path) -> None:
    empty = open_store(f"sqlite:///{tmp_path}/empty.db")
    try:
        families = scrape(empty, {})
    finally:
        empty.close()
    assert values(families["oracle_receiver_accepted_spans"])[()] == 0
    assert families["oracle_llm_agent_tokens"].samples == []
    assert "oracle_kafka_consumer_lag_messages" not in families
    assert families["oracle_k8s_pod_ready"].samples == []


def test_agents_beyond_the_bound_are_summed_as_other(tmp_path: Path) -> None:
    many = open_store(f"sqlite:///{tmp_path}/many.db")
    try:
        many.write_spans(
            [
                llm_span(n, f"agent-{n:03}", "gpt-4o", input_tokens=n, cost_usd=n / 100)
                for n in range(1, MAX_GROUPS + 21)
            ]
        )
        families = scrape(many, {})
    finally:
        many.close()
    requests = values(families["oracle_llm_agent_requests"])
    assert len(requests) == MAX_GROUPS
    assert requests[(("agent", "other"),)] == 21  # the 21 cheapest
    assert sum(requests.values()) == MAX_GROUPS + 20
    tokens = values(families["oracle_llm_agent_tokens"], "oracle_llm_agent_tokens_total")
    assert tokens[(("agent", "other"), ("kind", "input"))] == sum(range(1, 22))


def test_a_running_server_exports_what_it_stored(
    server: OracleServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://{server.grpc_target}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    trace_id, _ = send_agent_trace("grpc")
    server.wait_for_trace(trace_id, spans=3)
    response = httpx.get(f"{server.api_url}/metrics", timeout=10)
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert values(families["oracle_receiver_accepted_spans"])[()] == 3
    assert values(families["oracle_receiver_queued_requests"])[()] == 0
    count = values(
        families["oracle_receiver_write_duration_seconds"],
        "oracle_receiver_write_duration_seconds_count",
    )
    assert count[()] >= 1
    tokens = values(families["oracle_llm_model_tokens"], "oracle_llm_model_tokens_total")
    assert tokens[(("kind", "input"), ("model", "gpt-4o-2024-08-06"))] == 1200
    # The LLM span of that trace names no agent itself: it is counted under its parent's.
    assert values(families["oracle_llm_agent_requests"]) == {(("agent", "research"),): 1}


def test_store_aggregates_are_cached_between_scrapes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(store, lambda: {"receiver": {}})
    client = TestClient(app)

    def research_requests() -> float:
        families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
        return values(families["oracle_llm_agent_requests"])[(("agent", "research"),)]

    assert research_requests() == 2
    store.write_spans([llm_span(9, "research", "gpt-4o", input_tokens=1)])
    assert research_requests() == 2  # within the TTL: the cached figures
    monkeypatch.setattr(prometheus, "STORE_TTL_S", 0.0)
    monkeypatch.setattr(prometheus, "STORE_BUDGET", 0.0)
    assert research_requests() == 3
