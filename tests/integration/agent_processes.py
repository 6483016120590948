"""Agent processes (``python -m oracle_monitor.agents <kind>``) for integration tests.

Each is started as the demo's cluster starts a pod: environment only, OTLP to a running
``oracle-monitor serve``, Kafka on a tansu broker, LLM calls through a real ``oracle-monitor
proxy`` to the local provider.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer

from oracle_monitor.demo.broker import KafkaBroker
from tests.integration.oracle_server import OracleServer, free_port

TOPICS = [
    "tasks.research", "tasks.writer", "tasks.analysis", "tool-requests", "tool-responses",
    "results", "tasks.dlq",
]  # fmt: skip


@dataclass
class AgentProcess:
    """One running agent or tool worker process and its log."""

    kind: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited:\n{self.log()}")
            time.sleep(0.05)
        raise TimeoutError(f"{self.kind} never logged {text!r}:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout_s)


@dataclass
class AgentLauncher:
    """Starts agent processes with a shared environment; stops them all at the end."""

    directory: Path
    env: dict[str, str]
    started: list[AgentProcess] = field(default_factory=list)

    def start(self, kind: str, *args: str, **env: str) -> AgentProcess:
        log_path = self.directory / f"{kind}-{len(self.started)}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "oracle_monitor.agents", kind, *args],
                env={**os.environ, **self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        agent = AgentProcess(kind, log_path, process)
        self.started.append(agent)
        return agent

    def stop_all(self) -> None:
        for agent in self.started:
            try:
                agent.stop()
            except subprocess.TimeoutExpired:
                agent.stop(signal.SIGKILL)


def otel_env(otlp_http_url: str) -> dict[str, str]:
    """OTLP/HTTP to a running server, spans exported soon after they end."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_http_url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }


@dataclass
class LLMProxy:
    """A running ``oracle-monitor proxy`` in front of an upstream."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @classmethod
    def start(cls, directory: Path, upstream: str, otlp_http_url: str) -> LLMProxy:
        port = free_port()
        log_path = directory / "proxy.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "oracle_monitor", "proxy", "--port", str(port),
                 "--openai-upstream", upstream, "--anthropic-upstream", upstream],
                env={**os.environ, **otel_env(otlp_http_url)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        proxy = cls(process, f"http://127.0.0.1:{port}", log_path)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"proxy exited:\n{log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return proxy
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"proxy not listening:\n{log_path.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def agent_env(broker: KafkaBroker, otlp_http_url: str, llm_base_url: str) -> dict[str, str]:
    """The environment a pod of the demo gets (short group timeouts for tansu): the LLM at
    ``llm_base_url`` is the proxy, which records the calls (so the agents do not)."""
    return {
        **otel_env(otlp_http_url),
        "ORACLE_AGENT_KAFKA_BOOTSTRAP": broker.bootstrap_servers,
        "ORACLE_AGENT_OPENAI_BASE_URL": llm_base_url + "/v1",
        "ORACLE_AGENT_ANTHROPIC_BASE_URL": llm_base_url,
        "ORACLE_AGENT_INSTRUMENT_LLM": "false",
        "ORACLE_AGENT_SESSION_TIMEOUT_MS": "2000",
        "OPENAI_API_KEY": "sk-test-not-a-key",
        "ANTHROPIC_API_KEY": "sk-ant-test-not-a-key",
        "K8S_NAMESPACE": "agents",
        "K8S_NODE_NAME": "node-a",
    }


def send_task(broker: KafkaBroker, task: dict[str, Any]) -> None:
    """Produce one task on ``tasks.<kind>``, as the demo's load generator does."""
    producer = Producer(broker.producer_config())
    producer.produce(f"tasks.{task['kind']}", json.dumps(task).encode(), key=task["task_id"])
    assert producer.flush(10) == 0


@dataclass
class Delivered:
    """A message read back from ``results`` or ``tasks.dlq``."""

    topic: str
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def trace_id(self) -> str:
        """The trace id of the ``traceparent`` header the agent's producer span put there."""
        return self.headers["traceparent"].split("-")[1]


class Outputs:
    """Reads ``results`` and ``tasks.dlq`` and finds the message of a task."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._consumer = Consumer(broker.consumer_config(f"outputs-{time.monotonic_ns()}"))
        self._consumer.subscribe(["results", "tasks.dlq"])
        self._seen: dict[str, Delivered] = {}

    def wait_for(self, task_id: str, timeout_s: float = 30.0) -> Delivered:
        deadline = time.monotonic() + timeout_s
        while task_id not in self._seen and time.monotonic() < deadline:
            message = self._consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            body = json.loads(message.value() or b"null")
            raw = message.headers() or []
            pairs = list(raw.items()) if isinstance(raw, dict) else list(raw)
            headers = {
                str(k): v.decode() if isinstance(v, bytes) else str(v)
                for k, v in pairs
                if v is not None
            }
            self._seen[body["task_id"]] = Delivered(str(message.topic()), body, headers)
        if task_id not in self._seen:
            raise TimeoutError(f"no result or dead letter for {task_id}")
        return self._seen[task_id]

    def close(self) -> None:
        self._consumer.close()


def iter_spans(trace: dict[str, Any], name_prefix: str) -> Iterator[dict[str, Any]]:
    """The spans of a trace (as the API serves it) whose name starts with ``name_prefix``."""
    return (span for span in trace["spans"] if span["name"].startswith(name_prefix))


def wait_for_spans(
    server: OracleServer,
    trace_id: str,
    *names: str,
    llm_calls: int = 0,
    timeout_s: float = 20.0,
) -> dict[str, Any]:
    """The trace once it holds a span of each name and at least ``llm_calls`` chat spans
    (each process's exporter flushes in the background, the proxy's too)."""
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {"spans": []}
    while time.monotonic() < deadline:
        response = server.api(f"/api/v1/traces/{trace_id}")
        if response.status_code == 200:
            body = response.json()
            chats = [
                s for s in body["spans"] if s["attributes"].get("gen_ai.operation.name") == "chat"
            ]
            if set(names) <= {span["name"] for span in body["spans"]} and len(chats) >= llm_calls:
                return body
        time.sleep(0.1)
    have = sorted({span["name"] for span in body["spans"]})
    raise TimeoutError(f"trace {trace_id} lacks some of {names}; has {have}")
