"""Real ``oracle-monitor receiver`` and ``aggregator`` subprocesses, and a topic reader.

Both are started with tansu-friendly group timings (``session.timeout.ms=2000``,
``heartbeat.interval.ms=400``: tansu takes about half the session timeout to form a group)
and one ingest worker per receiver, to spare the test machine's two cores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition

from oracle_monitor.demo.broker import KafkaBroker
from tests.integration.oracle_server import free_port
from tests.integration.postgres import fresh_store_url

FAST_GROUP = {
    "ORACLE_PIPELINE_SESSION_TIMEOUT_MS": "2000",
    "ORACLE_PIPELINE_HEARTBEAT_INTERVAL_MS": "400",
    "ORACLE_PIPELINE_STATS_INTERVAL_SECONDS": "1",
    "ORACLE_INGEST_WORKERS": "1",
    "ORACLE_LOG_LEVEL": "INFO",
}


@dataclass
class PipelineProcess:
    """One ``oracle-monitor receiver`` or ``aggregator`` process."""

    command: list[str]
    env: dict[str, str]
    log_path: Path
    health_port: int
    process: subprocess.Popen[bytes] | None = None
    grpc_port: int = 0
    http_port: int = 0

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def otlp_http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout_s: float = 30.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "oracle_monitor", *self.command],
                env={**os.environ, **FAST_GROUP, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command[0]} exited early:\n{self.log()}")
            try:
                if httpx.get(self.health_url, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{self.command[0]} not ready after {timeout_s}s:\n{self.log()}")

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}/health"

    def health(self) -> dict[str, Any]:
        response = httpx.get(self.health_url, timeout=5)
        body: dict[str, Any] = response.json()
        return body

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout_s)


@dataclass
class Pipeline:
    """Starts receivers and aggregators on one broker and topic; stops them afterwards."""

    broker: KafkaBroker
    tmp_path: Path
    topic: str
    started: list[PipelineProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"kafka://{self.broker.bootstrap_servers}/{self.topic}"

    def receiver(self, **env: str) -> PipelineProcess:
        grpc_port, http_port = free_port(), free_port()
        process = PipelineProcess(
            ["receiver", "--pipeline", self.url, "--otlp-grpc-port", str(grpc_port),
             "--otlp-http-port", str(http_port)],
            {f"ORACLE_{k.upper()}": v for k, v in env.items()},
            self.tmp_path / f"receiver{len(self.started)}.log",
            health_port=http_port,
            grpc_port=grpc_port,
            http_port=http_port,
        )  # fmt: skip
        return self._start(process)

    def aggregator(self, store_url: str, **env: str) -> PipelineProcess:
        port = free_port()
        process = PipelineProcess(
            [
                "aggregator",
                "--pipeline",
                self.url,
                "--store",
                store_url,
                "--health-port",
                str(port),
            ],
            {f"ORACLE_{k.upper()}": v for k, v in env.items()},
            self.tmp_path / f"aggregator{len(self.started)}.log",
            health_port=port,
        )
        return self._start(process)

    def _start(self, process: PipelineProcess) -> PipelineProcess:
        self.started.append(process)
        process.start()
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.alive():
                try:
                    process.stop()
                except subprocess.TimeoutExpired:
                    process.stop(signal.SIGKILL)


@pytest.fixture
def pipeline(kafka_broker: KafkaBroker, tmp_path: Path) -> Iterator[Pipeline]:
    """A fresh four-partition topic on the test's broker, and process starters."""
    topic = kafka_broker.create_topic(f"oracle.spans.{uuid.uuid4().hex[:8]}", partitions=4)
    kafka_broker.create_topic(f"{topic}.dlq", partitions=1)
    started = Pipeline(kafka_broker, tmp_path, topic)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture
def store_url() -> Iterator[str]:
    """A PostgreSQL store in a fresh schema, dropped afterwards."""
    yield from fresh_store_url()


def read_topic(
    broker: KafkaBroker,
    topic: str,
    until: Callable[[list[Any]], bool],
    timeout_s: float = 15.0,
) -> list[Any]:
    """Messages of every partition of ``topic`` from the start, until ``until(messages)``."""
    consumer = Consumer(broker.consumer_config(f"reader-{uuid.uuid4().hex[:8]}"))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        messages: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not until(messages):
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                messages.append(message)
        return messages
    finally:
        consumer.close()
