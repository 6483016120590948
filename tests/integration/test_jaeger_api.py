"""The Jaeger query API of a running ``oracle-monitor serve``, fed by the real OTLP exporter.

Two services (a gateway calling the research agent, which calls an LLM and consumes a Kafka
message) send their spans over OTLP/gRPC; the collectors' events (an OOM kill of the agent's
pod, a lag spike on the topic it consumes, a 429 burst on its model) are stored the way their
sink stores them. Every route is then read the way Grafana's Jaeger data source reads it,
and the bodies are checked field by field against Jaeger's model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from oracle_monitor.model import InfraEvent, Severity
from oracle_monitor.store import open_store
from tests.integration.oracle_server import OracleServer
from tests.unit.api.test_jaeger_model import SPAN_FIELDS, check_key_value

pytestmark = pytest.mark.integration

ENVELOPE = {"data", "total", "limit", "offset", "errors"}
POD = {"k8s.pod.name": "research-0", "k8s.namespace.name": "agents"}


def provider(service: str, endpoint: str, **resource: str) -> TracerProvider:
    tracer_provider = TracerProvider(
        resource=Resource.create({"service.name": service, **resource})
    )
    exporter = OTLPSpanExporter(endpoint=endpoint, insecure=True)
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    return tracer_provider


def send_task(server: OracleServer) -> dict[str, str]:
    """gateway ``POST /tasks`` -> research ``invoke_agent`` -> LLM call (429) + Kafka consume."""
    endpoint = f"http://{server.grpc_target}"
    gateway, agent = provider("gateway", endpoint), provider("research-agent", endpoint, **POD)
    ids: dict[str, str] = {}
    with gateway.get_tracer("tests.gateway").start_as_current_span(
        "POST /tasks", kind=SpanKind.SERVER, attributes={"http.response.status_code": 202}
    ) as front:
        tracer = agent.get_tracer("oracle.agents", "0.1.0")
        context = trace.set_span_in_context(front)
        with tracer.start_as_current_span(
            "invoke_agent research",
            context=context,
            attributes={"gen_ai.agent.name": "research", "oracle.task.id": "task-1"},
        ) as task:
            with tracer.start_as_current_span(
                "chat gpt-4o",
                kind=SpanKind.CLIENT,
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.usage.input_tokens": 1200,
                    "gen_ai.usage.output_tokens": 300,
                    "http.response.status_code": 429,
                },
            ) as llm:
                llm.add_event("retry", {"attempt": 1})
                llm.set_status(Status(StatusCode.ERROR, "rate limited"))
            with tracer.start_as_current_span(
                "receive tool-responses",
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": "tool-responses",
                    "messaging.destination.partition.id": "0",
                    "messaging.kafka.consumer.group": "research-agents-tool-responses",
                },
            ) as consume:
                time.sleep(0.002)
    for name, span in (("front", front), ("task", task), ("llm", llm), ("consume", consume)):
        ids[name] = format(span.get_span_context().span_id, "016x")
    ids["trace"] = format(front.get_span_context().trace_id, "032x")
    for tracer_provider in (agent, gateway):
        assert tracer_provider.force_flush(10_000)
        tracer_provider.shutdown()
    return ids


def infra_events(at_ns: int) -> list[InfraEvent]:
    return [
        InfraEvent(at_ns, "k8s", "oom_killed", "pod/agents/research-0", Severity.CRITICAL,
                   "research-0 OOMKilled", {**POD, "exit_code": 137}),
        InfraEvent(at_ns, "kafka", "lag_spike", "partition/tool-responses/0", Severity.WARNING,
                   "lag 6.0 s", {"messaging.kafka.consumer.group":
                                 "research-agents-tool-responses", "lag_seconds": 6.0}),
        InfraEvent(at_ns, "llm", "rate_limit_burst", "model/openai/gpt-4o", Severity.WARNING,
                   "5 rate-limited calls in 60 s", {"gen_ai.provider.name": "openai"}),
        InfraEvent(at_ns, "k8s", "oom_killed", "pod/agents/writer-0", Severity.CRITICAL,
                   "another pod", {"k8s.pod.name": "writer-0", "k8s.namespace.name": "agents"}),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OracleServer, dict[str, str]]]:
    """One server for the module, holding the task trace and the events."""
    server = OracleServer(data_dir=tmp_path_factory.mktemp("jaeger") / "data", env={})
    server.start()
    try:
        before = time.time_ns()
        ids = send_task(server)
        store = open_store(f"sqlite:///{server.data_dir}/oracle.db")
        store.write_events(infra_events(before + 1_000_000))
        store.close()
        server.wait_for_trace(ids["trace"], spans=4)
        ids["before_us"] = str(before // 1000)
        yield server, ids
    finally:
        server.stop()


def jaeger(server: OracleServer, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{server.api_url}/jaeger/api{path}", params=params, timeout=10)


def ok(server: OracleServer, path: str, **params: Any) -> dict[str, Any]:
    response = jaeger(server, path, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == ENVELOPE
    assert (body["limit"], body["offset"]) == (0, 0)
    return body


def check_trace(trace_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Jaeger's trace model field by field; returns the spans by id."""
    assert set(trace_json) == {"traceID", "spans", "processes", "warnings"}
    assert trace_json["warnings"] is None
    for span in trace_json["spans"]:
        # The Python exporter puts only its is-remote bits into OTLP's span flags, no W3C
        # trace flags: so no ``flags`` (Jaeger leaves zero flags out too).
        assert set(span) == set(SPAN_FIELDS) - {"flags"}
        for name, (types, _) in SPAN_FIELDS.items():
            assert name == "flags" or isinstance(span[name], types), name
        assert span["traceID"] == trace_json["traceID"]
        assert span["processID"] in trace_json["processes"]
        for tag in span["tags"]:
            check_key_value(tag)
        for log in span["logs"]:
            assert set(log) == {"timestamp", "fields"}
            for field in log["fields"]:
                check_key_value(field)
    return {span["spanID"]: span for span in trace_json["spans"]}


def tags(item: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    return {tag["key"]: (tag["type"], tag["value"]) for tag in item["tags"]}


def test_services_and_operations(fed: tuple[OracleServer, dict[str, str]]) -> None:
    server, _ = fed
    assert ok(server, "/services") == {
        "data": ["gateway", "research-agent"], "total": 2, "limit": 0, "offset": 0,
        "errors": None,
    }  # fmt: skip
    legacy = ok(server, "/services/research-agent/operations")
    assert legacy["data"] == ["chat gpt-4o", "invoke_agent research", "receive tool-responses"]
    assert legacy["total"] == 3
    body = ok(server, "/operations", service="research-agent")
    assert body["data"] == [
        {"name": "chat gpt-4o", "spanKind": "client"},
        {"name": "invoke_agent research", "spanKind": "internal"},
        {"name": "receive tool-responses", "spanKind": "consumer"},
    ]
    client = ok(server, "/operations", service="research-agent", spanKind="client")
    assert client["data"] == [{"name": "chat gpt-4o", "spanKind": "client"}]
    assert client["total"] == 1
    assert ok(server, "/operations", service="nobody")["data"] == []


def test_trace_by_id_in_jaegers_model(fed: tuple[OracleServer, dict[str, str]]) -> None:
    server, ids = fed
    body = ok(server, f"/traces/{ids['trace']}")
    assert (body["total"], body["errors"]) == (0, None)
    (trace_json,) = body["data"]
    assert trace_json["traceID"] == ids["trace"]
    spans = check_trace(trace_json)
    assert set(spans) == {ids["front"], ids["task"], ids["llm"], ids["consume"]}
    front, task, llm, consume = (spans[ids[k]] for k in ("front", "task", "llm", "consume"))

    processes = trace_json["processes"]
    assert len(processes) == 2
    gateway, agent = processes[front["processID"]], processes[task["processID"]]
    assert gateway["serviceName"] == "gateway" and agent["serviceName"] == "research-agent"
    agent_tags = tags(agent)
    assert agent_tags["k8s.pod.name"] == ("string", "research-0")
    assert "service.name" not in agent_tags
    assert agent_tags["telemetry.sdk.language"] == ("string", "python")

    assert front["references"] == []
    assert task["references"] == [
        {"refType": "CHILD_OF", "traceID": ids["trace"], "spanID": ids["front"]}
    ]
    assert llm["references"][0]["spanID"] == ids["task"]
    assert front["operationName"] == "POST /tasks"
    before_us = int(ids["before_us"])
    assert before_us <= front["startTime"] <= task["startTime"] <= llm["startTime"]
    assert front["duration"] >= task["duration"] >= consume["duration"] >= 2000  # µs

    assert tags(front)["span.kind"] == ("string", "server")
    assert tags(front)["http.response.status_code"] == ("int64", 202)
    assert tags(task)["span.kind"] == ("string", "internal")  # only UNSPECIFIED has none
    llm_tags = tags(llm)
    assert llm_tags["otel.scope.name"] == ("string", "oracle.agents")
    assert llm_tags["otel.scope.version"] == ("string", "0.1.0")
    assert llm_tags["gen_ai.request.model"] == ("string", "gpt-4o")
    assert llm_tags["gen_ai.usage.input_tokens"] == ("int64", 1200)
    assert llm_tags["error"] == ("bool", True)
    assert llm_tags["otel.status_code"] == ("string", "ERROR")
    assert llm_tags["otel.status_description"] == ("string", "rate limited")
    assert llm_tags["oracle.llm.cost_usd"][0] == "float64"  # priced at ingest
    assert llm_tags["oracle.llm.cost_usd"][1] == pytest.approx(1200 * 2.5e-6 + 300 * 10e-6)

    def log_events(span: dict[str, Any]) -> list[str]:
        return [log["fields"][0]["value"] for log in span["logs"]]

    # Span events and the infrastructure events each span touched, as its logs.
    # (the OOM kill touched every span on the pod; the 429 burst only the LLM call)
    assert sorted(log_events(llm)) == ["oom_killed", "rate_limit_burst", "retry"]
    times = [log["timestamp"] for log in llm["logs"]]
    assert times == sorted(times)
    retry = next(log for log in llm["logs"] if log["fields"][0]["value"] == "retry")
    assert retry["fields"] == [
        {"key": "event", "type": "string", "value": "retry"},
        {"key": "attempt", "type": "int64", "value": 1},
    ]
    assert "rate_limit_burst" not in log_events(task) + log_events(consume)
    assert "oom_killed" in log_events(task) and "writer-0" not in json.dumps(trace_json)
    assert log_events(consume).count("lag_spike") == 1
    assert log_events(front) == []  # the gateway has no pod, topic or model
    lag = next(log for log in consume["logs"] if log["fields"][0]["value"] == "lag_spike")
    fields = {field["key"]: field["value"] for field in lag["fields"]}
    assert fields["message"] == "lag 6.0 s" and fields["level"] == "warning"
    assert fields["oracle.event.entity"] == "partition/tool-responses/0"
    assert fields["oracle.correlation"] == "kafka" and fields["lag_seconds"] == 6.0
    assert lag["timestamp"] >= before_us


def test_unknown_and_malformed_trace_ids(fed: tuple[OracleServer, dict[str, str]]) -> None:
    server, _ = fed
    missing = jaeger(server, "/traces/" + "0" * 31 + "1")
    assert missing.status_code == 404
    assert missing.json() == {
        "data": None, "total": 0, "limit": 0, "offset": 0,
        "errors": [{"code": 404, "msg": "trace not found"}],
    }  # fmt: skip
    bad = jaeger(server, "/traces/not-hex")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"] == 400 and "traceID" in bad.json()["errors"][0]["msg"]


def test_search_like_grafana(fed: tuple[OracleServer, dict[str, str]]) -> None:
    server, ids = fed
    window = {"start": ids["before_us"], "end": str(time.time_ns() // 1000 + 10**6)}

    def found(**params: Any) -> list[str]:
        body = ok(server, "/traces", **{**window, **params})
        assert body["errors"] is None
        for trace_json in body["data"]:
            check_trace(trace_json)
        return [t["traceID"] for t in body["data"]]

    trace_id = [ids["trace"]]
    assert found(service="research-agent", limit=20) == trace_id
    assert found(service="gateway") == trace_id  # any span of the service
    assert found(service="research-agent", operation="chat gpt-4o") == trace_id
    assert found(service="gateway", operation="chat gpt-4o") == []  # one span: both
    assert found(service="research-agent", tags='{"gen_ai.request.model":"gpt-4o"}') == trace_id
    assert found(service="research-agent", tags='{"error":"true"}') == trace_id
    assert found(service="gateway", tags='{"error":"true"}') == []
    assert found(service="research-agent", tag="k8s.pod.name:research-0") == trace_id
    assert found(service="research-agent", minDuration="2ms") == trace_id
    assert found(service="research-agent", operation="chat gpt-4o", minDuration="1h") == []
    assert found(service="research-agent", maxDuration="1ns") == []
    assert found(service="research-agent", end=ids["before_us"]) == []
    assert found(tags='{"gen_ai.agent.name":"research"}') == trace_id  # any service
    by_id = ok(server, "/traces", traceID=[ids["trace"], "f" * 32])
    assert [t["traceID"] for t in by_id["data"]] == trace_id
    assert by_id["errors"] == [{"msg": "trace not found", "traceID": "f" * 32}]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "parameter 'service' is required"),
        ({"service": "gateway", "minDuration": "10"}, "minDuration"),
        ({"service": "gateway", "minDuration": "2s", "maxDuration": "1s"}, "maxDuration"),
        ({"service": "gateway", "limit": "many"}, "limit"),
        ({"service": "gateway", "start": "yesterday"}, "start"),
        ({"service": "gateway", "tags": "{oops"}, "tags"),
    ],
)
def test_bad_search_parameters_get_jaegers_400(
    fed: tuple[OracleServer, dict[str, str]], params: dict[str, str], message: str
) -> None:
    server, _ = fed
    response = jaeger(server, "/traces", **params)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == ENVELOPE and body["data"] is None
    (error,) = body["errors"]
    assert error["code"] == 400 and message in error["msg"]


def test_dependencies(fed: tuple[OracleServer, dict[str, str]]) -> None:
    server, _ = fed
    end_ts = str(time.time_ns() // 10**6 + 1000)
    body = ok(server, "/dependencies", endTs=end_ts, lookback="3600000")
    assert body["data"] == [{"parent": "gateway", "child": "research-agent", "callCount": 1}]
    assert ok(server, "/dependencies", endTs=end_ts, lookback="1")["data"] == []
    assert ok(server, "/dependencies")["data"] == body["data"]  # defaults: now, 24 h
    bad = jaeger(server, "/dependencies", lookback="-")
    assert bad.status_code == 400 and "lookback" in bad.json()["errors"][0]["msg"]
