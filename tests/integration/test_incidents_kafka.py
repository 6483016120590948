"""Kafka incidents a task meets, through a real broker (tansu), a running ``oracle-monitor
serve`` with its Kafka and Kubernetes collectors, and the agents' spans over OTLP/gRPC from
the OpenTelemetry SDK's exporter. Pods come from the in-process fake of the Kubernetes API
server (`oracle_monitor.demo.apiserver`), fed with recorded pod objects moved to now.

* A bad rollout: the consumer group's Deployment gets a revision whose image cannot be
  pulled, its old pod is gone, nothing consumes, the lag grows and the task waiting on it
  times out. tansu reports no group members, so which pods run the group is learnt from a
  CONSUMER span the old pod sent earlier.
* A dead-letter build-up: a poison message stalls the worker group and is parked in the DLQ.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from oracle_monitor.demo.apiserver import ApiServer
from oracle_monitor.demo.broker import KafkaBroker
from tests.fakes.k8s_fixtures import fixture
from tests.integration.conftest import StartServer
from tests.integration.oracle_server import OracleServer
from tests.integration.test_incidents import (
    alert_kinds,
    chain_when,
    events_of,
    kafka_ready,
    moved,
)

pytestmark = pytest.mark.integration

KAFKA = {"messaging.system": "kafka", "server.address": "127.0.0.1"}


def tracer_for(server: OracleServer, **resource: str) -> tuple[TracerProvider, trace.Tracer]:
    """A tracer whose spans go to ``server`` as soon as they end."""
    provider = TracerProvider(resource=Resource.create(resource))
    exporter = OTLPSpanExporter(endpoint=server.grpc_target, insecure=True)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, provider.get_tracer("agent")


def consume_one(broker: KafkaBroker, topic: str, group: str) -> None:
    """Consume one message of ``topic`` as ``group`` and commit it (the group's offset)."""
    consumer = Consumer(broker.consumer_config(group, **{"enable.auto.commit": False}))
    consumer.subscribe([topic])
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                consumer.commit(message=message, asynchronous=False)
                return
        raise AssertionError(f"{group} never got a message of {topic}")
    finally:
        consumer.close()


def produce(broker: KafkaBroker, topic: str, count: int) -> None:
    producer = Producer(broker.producer_config())
    for n in range(count):
        producer.produce(topic, f"message {n}".encode())
    assert producer.flush(10) == 0


@pytest.fixture
def cluster_and_broker(
    start_server: StartServer, kafka_broker: KafkaBroker, tmp_path: Path
) -> Iterator[tuple[ApiServer, KafkaBroker, OracleServer]]:
    with ApiServer() as api:
        server = start_server(
            kubeconfig=str(api.write_kubeconfig(tmp_path / "kubeconfig")),
            kafka_bootstrap=kafka_broker.bootstrap_servers, kafka_poll_seconds="0.2",
            kafka_lag_spike_seconds="1", kafka_window_polls="3", chain_timeout_seconds="1",
        )  # fmt: skip
        yield api, kafka_broker, server


def rollout(
    cluster: tuple[ApiServer, KafkaBroker, OracleServer], old_pod: dict[str, str], task_id: str
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The group ``planners`` consumed ``plans`` on ``old_pod`` (its resource attributes, as
    its CONSUMER span says); then a pod of Deployment ``planner-agent`` cannot pull its
    image (recorded), nothing consumes, the lag grows and the task waiting for its plan times
    out. Returns the task's chain, its trace id and the pod that could not pull."""
    api, broker, server = cluster
    broker.create_topics(["plans", "plans-replies"])
    produce(broker, "plans", 1)
    consume_one(broker, "plans", "planners")
    provider, tracer = tracer_for(
        server, **{"service.name": "planner-agent", "k8s.namespace.name": "agents", **old_pod}
    )
    with tracer.start_as_current_span(
        "process plans", kind=trace.SpanKind.CONSUMER,
        attributes={**KAFKA, "messaging.destination.name": "plans",
                    "messaging.consumer.group.name": "planners"},
    ):  # fmt: skip
        pass
    provider.shutdown()
    pulling = moved(fixture("pod_image_pull_backoff"), time.time() - 5)
    api.apply("pods", pulling)
    events_of(server, "image_pull_backoff")
    task_start = time.time_ns()
    produce(broker, "plans", 3)
    spiked_ns = max(e["time_unix_nano"] for e in events_of(server, "lag_spike"))
    # The task gives up waiting after the lag was seen (by 0.2 s at least).
    trace_id = send_waiting_task(server, task_id, task_start, spiked_ns + 200_000_000)
    return chain_when(server, task_id, "task_failed"), trace_id, pulling


def test_a_bad_rollout_is_the_root_of_the_tasks_it_stalled(
    cluster_and_broker: tuple[ApiServer, KafkaBroker, OracleServer],
) -> None:
    server = cluster_and_broker[2]
    old_pod = {"k8s.pod.name": "planner-agent-7d9f8b6c4d-x2x4q"}  # of the same Deployment
    body, trace_id, pulling = rollout(cluster_and_broker, old_pod, "task-rollout")
    shape = [(link["kind"], link["entity"], link["caused_by"], link["rule"])
             for link in body["chain"]]  # fmt: skip
    name = pulling["metadata"]["name"]
    assert shape == [
        ("image_pull_backoff", f"pod/agents/{name}", None, None),
        ("kafka_lag_spike", "partition/plans/0", 0, "starved_consumer_group"),
        ("agent_timeout", "agent/research", 1, "kafka_entity_of_span"),
        ("task_failed", "task/task-rollout", 2, "error_propagated"),
    ], [(link["kind"], link["at"], link["evidence"]) for link in body["chain"]]
    assert body["summary"].startswith(f"Root cause: pod agents/{name} could not pull its image")
    assert (
        "with no pod of the consumer group running, Kafka consumer lag on partition plans/0"
        in (body["summary"])
    )
    # The trace's events show the pod problem, reached through the consumer group.
    events = server.api(f"/api/v1/traces/{trace_id}").json()["events"]
    pulled = [e for e in events if e["kind"] == "image_pull_backoff"]
    assert [e["via"] for e in pulled] == [["kafka"]], events
    assert {"image_pull_backoff", "lag_spike"} <= alert_kinds(server)


def test_lag_from_a_rollout_of_another_deployment_is_not_blamed_on_it(
    cluster_and_broker: tuple[ApiServer, KafkaBroker, OracleServer],
) -> None:
    """Precision: the same incident, but the group's consumers ran in another Deployment
    than the pod that cannot pull: the lag is the root, the pod is not in the chain."""
    old_pod = {"k8s.pod.name": "planner-v2-5f6a7b8c9d-aaaaa", "k8s.deployment.name": "planner-v2"}
    body, _, _ = rollout(cluster_and_broker, old_pod, "task-other")
    kinds = [link["kind"] for link in body["chain"]]
    assert kinds == ["kafka_lag_spike", "agent_timeout", "task_failed"], body["summary"]


def send_waiting_task(server: OracleServer, task_id: str, start_ns: int, not_before_ns: int) -> str:
    """A research task that sent a request to ``plans`` and waited for the answer on
    ``plans-replies`` until its tool timed out (now, and not before ``not_before_ns``); the
    task failed. Returns its trace id."""
    provider, tracer = tracer_for(server, **{"service.name": "research-agent"})
    own = {"oracle.task.id": task_id, "gen_ai.agent.name": "research"}
    end = max(time.time_ns(), not_before_ns)
    task = tracer.start_span(
        "invoke_agent research", start_time=start_ns,
        attributes={**own, "gen_ai.operation.name": "invoke_agent"},
    )  # fmt: skip
    tool = tracer.start_span(
        "execute_tool make_plan", context=trace.set_span_in_context(task), start_time=start_ns,
        attributes={**own, "gen_ai.operation.name": "execute_tool"},
    )  # fmt: skip
    inside = trace.set_span_in_context(tool)
    send = tracer.start_span(
        "send plans", context=inside, kind=trace.SpanKind.PRODUCER, start_time=start_ns,
        attributes={**own, **KAFKA, "messaging.destination.name": "plans"},
    )  # fmt: skip
    send.end(start_ns + 5_000_000)
    wait = tracer.start_span(
        "receive plans-replies", context=inside, kind=trace.SpanKind.CONSUMER,
        start_time=start_ns + 10_000_000,
        attributes={**own, **KAFKA, "messaging.destination.name": "plans-replies",
                    "messaging.consumer.group.name": "research-agents"},
    )  # fmt: skip
    wait.end(end - 20_000_000)
    tool.set_status(trace.Status(trace.StatusCode.ERROR, "make_plan timed out"))
    tool.end(end - 10_000_000)
    task.set_status(trace.Status(trace.StatusCode.ERROR, "no plan"))
    task.end(end)
    provider.shutdown()
    return f"{task.get_span_context().trace_id:032x}"


def test_a_dead_letter_build_up_follows_the_stalled_group(
    start_server: StartServer, kafka_broker: KafkaBroker
) -> None:
    kafka_broker.create_topics(["tasks", "tasks.dlq"])
    server = start_server(
        kafka_bootstrap=kafka_broker.bootstrap_servers, kafka_poll_seconds="0.2",
        kafka_window_polls="3",
    )  # fmt: skip
    kafka_ready(server)  # it has polled once: the DLQ's depth (0) is known
    produce(kafka_broker, "tasks", 1)
    consume_one(kafka_broker, "tasks", "research-workers")
    start = time.time_ns()
    # The intake sends the task; the worker fails on it and never commits again.
    produce(kafka_broker, "tasks", 2)
    stalled = events_of(server, "consumer_status_changed")
    assert stalled[0]["attributes"]["oracle.kafka.status"] in ("STALL", "STOP"), stalled
    produce(kafka_broker, "tasks.dlq", 1)  # the worker parks the poison message
    events_of(server, "dlq_growth")
    send_dead_lettered_task(server, "task-poison", start)

    body = chain_when(server, "task-poison", "task_failed")
    shape = [(link["kind"], link["entity"], link["caused_by"], link["rule"])
             for link in body["chain"]]  # fmt: skip
    assert shape == [
        ("consumer_stalled", "consumer_group/research-workers", None, None),
        ("dlq_growth", "topic/tasks.dlq", 0, "shared_span"),
        ("task_failed", "task/task-poison", 1, "kafka_entity_of_span"),
    ], body["summary"]
    deadline = time.monotonic() + 20
    while not {"consumer_stalled", "dlq_growth"} <= alert_kinds(server):
        assert time.monotonic() < deadline, alert_kinds(server)
        time.sleep(0.3)


def send_dead_lettered_task(server: OracleServer, task_id: str, start_ns: int) -> None:
    """The intake's task message, the worker's failed processing and its send to the DLQ."""
    own = {"oracle.task.id": task_id}
    intake, tracer = tracer_for(server, **{"service.name": "intake-agent"})
    end = time.time_ns()
    task = tracer.start_span(
        "invoke_agent intake", start_time=start_ns,
        attributes={**own, "gen_ai.agent.name": "intake", "gen_ai.operation.name": "invoke_agent"},
    )  # fmt: skip
    send = tracer.start_span(
        "send tasks", context=trace.set_span_in_context(task), kind=trace.SpanKind.PRODUCER,
        start_time=start_ns, attributes={**own, **KAFKA, "messaging.destination.name": "tasks"},
    )  # fmt: skip
    send.end(start_ns + 5_000_000)
    worker, worker_tracer = tracer_for(server, **{"service.name": "research-worker"})
    consumed = worker_tracer.start_span(
        "process tasks", context=trace.set_span_in_context(send), kind=trace.SpanKind.CONSUMER,
        start_time=start_ns + 50_000_000,
        attributes={**own, **KAFKA, "messaging.destination.name": "tasks",
                    "messaging.consumer.group.name": "research-workers"},
    )  # fmt: skip
    consumed.set_status(trace.Status(trace.StatusCode.ERROR, "malformed payload"))
    consumed.end(start_ns + 80_000_000)
    parked = worker_tracer.start_span(
        "send tasks.dlq", context=trace.set_span_in_context(consumed),
        kind=trace.SpanKind.PRODUCER, start_time=end - 30_000_000,
        attributes={**own, **KAFKA, "messaging.destination.name": "tasks.dlq"},
    )  # fmt: skip
    parked.end(end - 20_000_000)
    worker.shutdown()
    task.set_status(trace.Status(trace.StatusCode.ERROR, "task rejected by worker"))
    task.end(end)
    intake.shutdown()
