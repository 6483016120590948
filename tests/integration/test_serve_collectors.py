"""`oracle-monitor serve` runs the collectors its settings turn on and serves their state."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from oracle_monitor.demo.apiserver import ApiServer
from oracle_monitor.demo.broker import KafkaBroker
from tests.fakes.k8s_fixtures import fixture
from tests.integration.conftest import StartServer

pytestmark = pytest.mark.integration


def test_kafka_lag_reaches_the_api(start_server: StartServer, kafka_broker: KafkaBroker) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    kafka_broker.create_topic("tool-responses", partitions=1)
    producer = Producer({"bootstrap.servers": bootstrap, "batch.num.messages": 1, "linger.ms": 0})
    for number in range(5):
        producer.produce("tool-responses", f"response {number}".encode())
    producer.flush(10)
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "research-agents",
         "auto.offset.reset": "earliest", "enable.auto.commit": False,
         "session.timeout.ms": 2000, "heartbeat.interval.ms": 400}
    )  # fmt: skip
    consumer.subscribe(["tool-responses"])
    consumed = 0
    deadline = time.monotonic() + 20
    while consumed < 2 and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            consumed += 1
            offset = TopicPartition("tool-responses", 0, message.offset() + 1)  # type: ignore[operator]
            consumer.commit(offsets=[offset], asynchronous=False)
    consumer.close()
    assert consumed == 2

    server = start_server(kafka_bootstrap=bootstrap, kafka_poll_seconds="0.2")
    deadline = time.monotonic() + 20
    kafka: dict[str, Any] = {}
    while time.monotonic() < deadline:
        kafka = server.api("/api/v1/infra").json()["collectors"].get("kafka", {})
        if kafka.get("health", {}).get("status") == "ok" and "research-agents" in str(kafka):
            break
        time.sleep(0.2)
    assert kafka["health"]["status"] == "ok"
    group = kafka["state"]["groups"]["research-agents"]
    assert group["lag"] == 3
    assert group["partitions"][0]["committed_offset"] == 2
    assert group["partitions"][0]["log_end_offset"] == 5
    assert group["partitions"][0]["lag_seconds"] > 0
    assert "llm" in server.api("/api/v1/infra").json()["collectors"]


def test_kubernetes_events_reach_the_api(start_server: StartServer, tmp_path: Path) -> None:
    with ApiServer() as api:
        api.apply("pods", fixture("pod_running"))
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        server = start_server(kubeconfig=str(kubeconfig))
        api.apply("pods", fixture("pod_oomkilled"))
        deadline = time.monotonic() + 20
        kinds: set[str] = set()
        while time.monotonic() < deadline and "oom_killed" not in kinds:
            events = server.api("/api/v1/events", source="k8s").json()["events"]
            kinds = {event["kind"] for event in events}
            time.sleep(0.2)
        assert "oom_killed" in kinds
        oom = server.api("/api/v1/events", kind="oom_killed").json()["events"][0]
        assert oom["attributes"]["k8s.pod.name"] == fixture("pod_oomkilled")["metadata"]["name"]
        k8s = server.api("/api/v1/infra").json()["collectors"]["k8s"]
        assert k8s["health"]["status"] == "ok"
