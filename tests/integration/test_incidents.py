"""Incidents a task meets, driven by real signals: the agent's spans through the OpenTelemetry
SDK's OTLP exporter into a running ``oracle-monitor serve``, its pod through a Kubernetes API
server (the in-process fake of its list/watch protocol, `oracle_monitor.demo.apiserver`, fed
with recorded pod objects whose times are moved to now). However its process died, the task is
orphaned, the chain names the cause a person would, and the alert a person expects is raised.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from oracle_monitor.demo.apiserver import ApiServer
from oracle_monitor.demo.broker import KafkaBroker
from tests.fakes.k8s_fixtures import fixture
from tests.integration.conftest import StartServer
from tests.integration.oracle_server import OracleServer
from tests.integration.test_bad_input import EXPORT
from tests.integration.test_causal_end_to_end import as_otlp
from tests.unit.aggregator.scenarios import ALL
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ORPHAN_TIMEOUT_S = 2


def _times(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _times(value)
    elif isinstance(node, list):
        for value in node:
            yield from _times(value)
    elif isinstance(node, str) and _TIME.match(node):
        yield node


def _parse(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def moved(obj: dict[str, Any], to_s: float, anchor: str | None = None) -> dict[str, Any]:
    """A recorded object with its times moved so that ``anchor`` (one of them; default the
    latest) is ``to_s``."""
    delta = to_s - _parse(anchor or max(_times(obj), key=_parse))

    def shift(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: shift(value) for key, value in node.items()}
        if isinstance(node, list):
            return [shift(value) for value in node]
        if isinstance(node, str) and _TIME.match(node):
            return datetime.fromtimestamp(_parse(node) + delta, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return node

    result: dict[str, Any] = shift(obj)
    return result


def running(incident: dict[str, Any], latest_s: float) -> dict[str, Any]:
    """The incident's pod as it was before: running and ready, with the same identity."""
    pod = copy.deepcopy(fixture("pod_running"))
    pod["metadata"] = copy.deepcopy(incident["metadata"])
    pod["metadata"].pop("deletionTimestamp", None)
    pod["metadata"].pop("deletionGracePeriodSeconds", None)
    return moved(pod, latest_s)


def send_open_task(
    server: OracleServer,
    pod: dict[str, Any],
    task_id: str,
    node: str | None = None,
    *,
    framework: bool = False,
) -> str:
    """The agent's task on ``pod`` (on ``node``, as the downward API names it): its LLM call
    and tool ended and were exported; its own span never ends (the process dies). Returns the
    trace id."""
    meta = pod["metadata"]
    names = {"service.name": "research-agent", "k8s.pod.name": meta["name"],
             "k8s.pod.uid": meta["uid"], "k8s.namespace.name": meta["namespace"]}  # fmt: skip
    resource = Resource.create({**names, **({"k8s.node.name": node} if node else {})})
    provider = TracerProvider(resource=resource)
    exporter = OTLPSpanExporter(endpoint=server.grpc_target, insecure=True)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("agent")
    task = tracer.start_span(
        "invoke_agent research",
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "research",
                    "oracle.task.id": task_id},
    )  # fmt: skip
    context = trace.set_span_in_context(task)
    # As oracle_monitor.instrumentation's invoke_agent does, spans inside the task carry its
    # id and agent (the task's own span, which would name them, never arrives).
    inside = {"oracle.task.id": task_id, "gen_ai.agent.name": "research"}
    if framework:  # as most frameworks: only the agent's own span names it, and no task id
        inside = {}
    with tracer.start_as_current_span("chat gpt-4o", context=context, attributes=inside):
        pass
    with tracer.start_as_current_span(
        "execute_tool web_search", context=context,
        attributes={**inside, "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "web_search"},
    ):  # fmt: skip
        pass
    provider.shutdown()  # the task's own span is never ended: it is not exported
    return f"{task.get_span_context().trace_id:032x}"


def chain_when(server: OracleServer, task_id: str, kind: str, within_s: float = 30) -> Any:
    """The task's causal chain once it has a link of ``kind``."""
    deadline = time.monotonic() + within_s
    body: Any = {}
    while time.monotonic() < deadline:
        response = server.api(f"/api/v1/tasks/{task_id}/causal-chain")
        if response.status_code == 200:
            body = response.json()
            if kind in [link["kind"] for link in body["chain"]]:
                return body
        time.sleep(0.3)
    raise AssertionError(f"no {kind} in the chain of {task_id}: {body}")


def seen(server: OracleServer, pod: dict[str, Any]) -> None:
    """Wait until the collector has seen ``pod`` (its first list may come after a change)."""
    deadline = time.monotonic() + 15
    entity = f"pod/{pod['metadata']['namespace']}/{pod['metadata']['name']}"
    while not server.api("/api/v1/events", entity=entity, kind="pod_created").json()["events"]:
        assert time.monotonic() < deadline, f"the collector never saw {entity}"
        time.sleep(0.1)


def alert_kinds(server: OracleServer) -> set[str]:
    return {alert["kind"] for alert in server.api("/api/v1/alerts").json()["alerts"]}


@pytest.fixture
def cluster(start_server: StartServer, tmp_path: Path) -> Iterator[tuple[ApiServer, OracleServer]]:
    with ApiServer() as api:
        server = start_server(
            kubeconfig=str(api.write_kubeconfig(tmp_path / "kubeconfig")),
            chain_orphan_timeout_seconds=str(ORPHAN_TIMEOUT_S),
        )
        yield api, server


def died_at(pod: dict[str, Any]) -> str:
    """When the recorded pod's process died: its eviction, else its last termination."""
    for condition in pod["status"].get("conditions") or []:
        if condition["type"] == "DisruptionTarget":
            return str(condition["lastTransitionTime"])
    (container,) = pod["status"]["containerStatuses"]
    return str(container["lastState"]["terminated"]["finishedAt"])


@pytest.mark.parametrize(
    ("incident", "root", "alert"),
    [
        ("pod_evicted", "pod_evicted", "pod_evicted"),  # no deletion, no replacement
        ("pod_oomkilled", "oom_killed", "oom_killed"),  # restarted in place
        ("pod_crashloop", "crash_loop", "crash_loop"),  # exits again and again
    ],
)
def test_a_task_whose_process_died_is_orphaned(
    cluster: tuple[ApiServer, OracleServer], incident: str, root: str, alert: str
) -> None:
    api, server = cluster
    task_id = f"task-{incident}"
    recorded = fixture(incident)
    before = running(recorded, time.time() - 60)
    api.apply("pods", before)
    seen(server, before)
    send_open_task(server, recorded, task_id)
    # The process dies just after the task's last exported spans.
    api.apply("pods", moved(recorded, time.time() + 1, anchor=died_at(recorded)))
    body = chain_when(server, task_id, "task_orphaned")
    kinds = [link["kind"] for link in body["chain"]]
    assert body["root_cause"]["kind"] == root, body["summary"]
    assert kinds[-1] == "task_orphaned" and kinds.count(root) == 1, kinds
    assert body["chain"][-1]["caused_by"] is not None
    assert body["summary"].endswith(f" task {task_id} was orphaned."), body["summary"]
    deadline = time.monotonic() + 15
    while not {alert, "task_orphaned"} <= alert_kinds(server):
        assert time.monotonic() < deadline, alert_kinds(server)
        time.sleep(0.3)


def test_memory_pressure_before_an_oom_kill_is_its_cause(
    start_server: StartServer, tmp_path: Path
) -> None:
    """The pod's working set sits at 98 % of its limit (metrics.k8s.io, recorded), then the
    kernel kills it: the pressure is the root, the kill follows, the task is orphaned."""
    recorded = fixture("pod_oomkilled")
    with ApiServer() as api:
        items = fixture("pod_metrics")["items"]
        for container in items[0]["containers"]:  # 500 MiB of its 512 MiB limit
            container["usage"]["memory"] = f"{500 // len(items[0]['containers'])}Mi"
        api.metrics = items
        server = start_server(
            kubeconfig=str(api.write_kubeconfig(tmp_path / "kubeconfig")),
            chain_orphan_timeout_seconds=str(ORPHAN_TIMEOUT_S),
            k8s_metrics_poll_seconds="0.2", k8s_memory_pressure_seconds="0.5",
        )  # fmt: skip
        before = running(recorded, time.time() - 60)
        api.apply("pods", before)
        seen(server, before)
        send_open_task(server, recorded, "task-pressure")
        (pressure,) = events_of(server, "memory_pressure")
        assert pressure["entity"] == f"pod/agents/{recorded['metadata']['name']}"
        killed_at = max(time.time() + 1, pressure["time_unix_nano"] / 1e9 + 1)
        api.apply("pods", moved(recorded, killed_at, anchor=died_at(recorded)))
        body = chain_when(server, "task-pressure", "task_orphaned")
        shape = [(link["kind"], link["caused_by"]) for link in body["chain"]]
        assert shape == [("memory_pressure", None), ("oom_killed", 0), ("task_orphaned", 1)], body[
            "summary"
        ]
        assert "at 98% of its memory limit" in body["summary"], body["summary"]
        deadline = time.monotonic() + 15
        while not {"memory_pressure", "oom_killed", "task_orphaned"} <= alert_kinds(server):
            assert time.monotonic() < deadline, alert_kinds(server)
            time.sleep(0.3)


def test_a_deleted_pod_orphans_its_task(cluster: tuple[ApiServer, OracleServer]) -> None:
    api, server = cluster
    task_id = "task-deleted"
    pod = running(fixture("pod_running"), time.time() - 60)
    api.apply("pods", pod)
    seen(server, pod)
    send_open_task(server, pod, task_id)
    deleting = copy.deepcopy(pod)
    stamp = datetime.fromtimestamp(time.time() + 1, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    deleting["metadata"].update(deletionTimestamp=stamp, deletionGracePeriodSeconds=0)
    api.apply("pods", deleting)  # as the API server does: marked first, then removed
    api.delete("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
    body = chain_when(server, task_id, "task_orphaned")
    assert body["root_cause"]["kind"] == "pod_deleted", body["summary"]
    assert [link["kind"] for link in body["chain"]] == ["pod_deleted", "task_orphaned"]


def test_a_broker_outage_is_the_cause_of_the_tasks_it_broke(
    start_server: StartServer, kafka_broker: KafkaBroker
) -> None:
    kafka_broker.create_topics(["tool-requests", "tool-responses"])
    server = start_server(
        kafka_bootstrap=kafka_broker.bootstrap_servers, kafka_poll_seconds="0.2",
        chain_timeout_seconds="1",
    )  # fmt: skip
    kafka_ready(server)
    kafka_broker.stop()
    outage = events_of(server, "broker_unreachable")[0]
    began = outage["time_unix_nano"]
    time.sleep(3.5)  # the task runs into the outage (its spans are given their real times)
    send_task_during_outage(server, "task-outage", began)
    body = chain_when(server, "task-outage", "task_failed")
    kinds = [link["kind"] for link in body["chain"]]
    assert kinds == ["broker_unreachable", "agent_timeout", "task_failed"], body["summary"]
    assert body["chain"][1]["caused_by"] == 0 and body["chain"][1]["rule"] == "kafka_entity_of_span"
    assert body["summary"].startswith("Root cause: the Kafka broker "), body["summary"]
    assert "broker_unreachable" in alert_kinds(server)


def kafka_ready(server: OracleServer) -> None:
    """Wait until the Kafka collector has polled the broker."""
    wait_for(
        lambda: server.api("/api/v1/infra").json()["collectors"]["kafka"]["health"]["status"]
        == "ok",
        20, "the Kafka collector to reach the broker", 0.2,
    )  # fmt: skip


def events_of(server: OracleServer, kind: str, within_s: float = 20) -> list[Any]:
    deadline = time.monotonic() + within_s
    while not (found := server.api("/api/v1/events", kind=kind).json()["events"]):
        assert time.monotonic() < deadline, f"no {kind} event"
        time.sleep(0.2)
    return list(found)


def send_task_during_outage(server: OracleServer, task_id: str, began_ns: int) -> None:
    """A task that asked a tool over Kafka after the broker went away: its request failed to
    send, its wait for the answer timed out, and it failed."""
    provider = TracerProvider(resource=Resource.create({"service.name": "research-agent"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=server.grpc_target, insecure=True))
    )
    tracer = provider.get_tracer("agent")
    start = began_ns + 500_000_000
    own = {"oracle.task.id": task_id, "gen_ai.agent.name": "research"}
    kafka = {"messaging.system": "kafka", "server.address": "127.0.0.1"}
    task = tracer.start_span(
        "invoke_agent research", start_time=start,
        attributes={**own, "gen_ai.operation.name": "invoke_agent"},
    )  # fmt: skip
    ctx = trace.set_span_in_context(task)
    tool = tracer.start_span(
        "execute_tool web_search", context=ctx, start_time=start,
        attributes={**own, "gen_ai.operation.name": "execute_tool"},
    )  # fmt: skip
    tool_ctx = trace.set_span_in_context(tool)
    send = tracer.start_span(
        "send tool-requests", context=tool_ctx, kind=trace.SpanKind.PRODUCER, start_time=start,
        attributes={**own, **kafka, "messaging.destination.name": "tool-requests"},
    )  # fmt: skip
    send.set_status(trace.Status(trace.StatusCode.ERROR, "KafkaError: all brokers down"))
    send.end(start + 10_000_000)
    wait = tracer.start_span(
        "receive tool-responses", context=tool_ctx, kind=trace.SpanKind.CONSUMER,
        start_time=start + 20_000_000,
        attributes={**own, **kafka, "messaging.destination.name": "tool-responses",
                    "messaging.kafka.consumer.group": "research-agents"},
    )  # fmt: skip
    wait.end(start + 2_000_000_000)
    tool.set_status(trace.Status(trace.StatusCode.ERROR, "tool web_search timed out"))
    tool.end(start + 2_100_000_000)
    task.set_status(trace.Status(trace.StatusCode.ERROR, "research failed: no search results"))
    task.end(start + 2_200_000_000)
    provider.shutdown()


def test_a_node_lost_with_its_pods_is_the_cause(cluster: tuple[ApiServer, OracleServer]) -> None:
    api, server = cluster
    task_id = "task-node-lost"
    node = moved(fixture("node_ready"), time.time() - 60)
    api.apply("nodes", node)
    pod = running(fixture("pod_running"), time.time() - 60)
    api.apply("pods", pod)
    seen(server, pod)
    send_open_task(server, pod, task_id, node=node["metadata"]["name"])
    # The kubelet stops posting status; the node controller marks the node and taints it.
    lost = fixture("node_lost")
    api.apply("nodes", moved(lost, time.time() + 1, anchor="2026-03-14T12:05:36Z"))
    body = chain_when(server, task_id, "task_orphaned")
    kinds = [link["kind"] for link in body["chain"]]
    assert kinds == ["node_not_ready", "task_orphaned"], body["summary"]
    assert body["chain"][0]["count"] == 2  # NotReady and the unreachable taint: one loss
    node_name = node["metadata"]["name"]
    assert body["summary"].startswith(f"Root cause: node {node_name} went down (NotReady)")
    deadline = time.monotonic() + 15
    while not {"node_not_ready", "task_orphaned"} <= alert_kinds(server):
        assert time.monotonic() < deadline, alert_kinds(server)
        time.sleep(0.3)


def test_nodes_the_credentials_may_not_read_are_left_out(
    start_server: StartServer, tmp_path: Path
) -> None:
    with ApiServer() as api:
        api.forbidden.add("nodes")  # RBAC for namespaced credentials
        api.apply("pods", fixture("pod_running"))
        server = start_server(kubeconfig=str(api.write_kubeconfig(tmp_path / "kubeconfig")))
        deadline = time.monotonic() + 15
        while server.api("/api/v1/infra").json()["collectors"]["k8s"]["health"]["status"] != "ok":
            assert time.monotonic() < deadline, "the collector did not become healthy"
            time.sleep(0.2)
        assert any("/api/v1/nodes" in request for request in api.requests)


def test_a_framework_task_without_task_id_is_orphaned_by_its_trace(
    cluster: tuple[ApiServer, OracleServer],
) -> None:
    """No span that arrives names a task or an agent (the agent's span died with the process):
    the trace is the task, for the chain and for the alert."""
    api, server = cluster
    recorded = fixture("pod_oomkilled")
    before = running(recorded, time.time() - 60)
    api.apply("pods", before)
    seen(server, before)
    trace_id = send_open_task(server, recorded, "unused", framework=True)
    api.apply("pods", moved(recorded, time.time() + 1, anchor=died_at(recorded)))
    deadline = time.monotonic() + 30
    chain: Any = {}
    while time.monotonic() < deadline:
        chain = server.api(f"/api/v1/traces/{trace_id}/causal-chain").json()
        if "task_orphaned" in [link["kind"] for link in chain.get("chain", [])]:
            break
        time.sleep(0.3)
    assert chain["root_cause"]["kind"] == "oom_killed", chain
    assert chain["chain"][-1]["entity"] == f"trace/{trace_id}"
    deadline = time.monotonic() + 15
    while True:
        alerts = server.api("/api/v1/alerts").json()["alerts"]
        orphaned = [a for a in alerts if a["kind"] == "task_orphaned"]
        if orphaned:
            break
        assert time.monotonic() < deadline, alerts
        time.sleep(0.3)
    assert orphaned[0]["trace_id"] == trace_id and orphaned[0]["task_id"] is None


@pytest.mark.parametrize(
    ("name", "alert"),
    [("slow_tool", None), ("quota", "quota_exhausted"), ("healthy", None)],
)
def test_span_incidents_through_the_receiver(
    start_server: StartServer, name: str, alert: str | None
) -> None:
    """The scenarios whose evidence is in the spans: sent over OTLP/gRPC as they happened a
    moment ago; the LLM collector reads them back as the server stores them."""
    scenario = ALL[name]()
    delta = time.time_ns() - max(s.end_time_ns for s in scenario.spans) - 1_000_000_000
    spans = [
        dataclasses.replace(s, start_time_ns=s.start_time_ns + delta,
                            end_time_ns=s.end_time_ns + delta)
        for s in scenario.spans
    ]  # fmt: skip
    server = start_server(llm_poll_seconds="0.5")
    with grpc.insecure_channel(server.grpc_target) as channel:
        export = channel.unary_unary(
            EXPORT,
            request_serializer=ExportTraceServiceRequest.SerializeToString,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )
        assert export(as_otlp(spans), timeout=10).partial_success.rejected_spans == 0
    task_id = next(s.task_id for s in spans if s.task_id)
    expected = list(dict.fromkeys(kind for kind, *_ in scenario.expected))
    if expected:
        body = chain_when(server, task_id, expected[-1])
    else:
        server.wait_for_trace(spans[0].trace_id, spans=1)
        time.sleep(1)
        body = server.api(f"/api/v1/tasks/{task_id}/causal-chain").json()
    assert [link["kind"] for link in body["chain"]] == expected, body["summary"]
    if alert is not None:
        deadline = time.monotonic() + 20
        while alert not in alert_kinds(server):
            assert time.monotonic() < deadline, alert_kinds(server)
            time.sleep(0.3)
