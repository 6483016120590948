"""``oracle-monitor api`` as a real process over the real PostgreSQL, with no aggregator: what
a store written by another process holds comes back over REST, and a real ``websockets``
client receives the snapshots, alerts and events stored after it connected."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from oracle_monitor.aggregator.agent_tracker import AgentTracker
from oracle_monitor.aggregator.snapshot_loop import take_snapshot
from oracle_monitor.model import Alert, InfraEvent, Severity, Span, SpanKind
from oracle_monitor.store import open_store
from oracle_monitor.store.base import Store
from tests.integration.oracle_server import free_port
from tests.integration.postgres import fresh_store_url
from tests.openapi_contract import Contract

SECOND = 1_000_000_000


@pytest.fixture
def store_url() -> Iterator[str]:
    yield from fresh_store_url()


def write_snapshot(store: Store, at_ns: int) -> None:
    store.write_snapshot(at_ns, take_snapshot(AgentTracker(store), [], at_ns))


def start_api(url: str, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "oracle_monitor", "api", "--store", url, "--api-port", str(port)],
        env={**os.environ, "ORACLE_LIVE_POLL_SECONDS": "0.2"},
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).is_success:
                return process, port
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise TimeoutError(log.read_text())


def next_of(ws: Connection, kind: str, timeout_s: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        message: dict[str, Any] = orjson.loads(ws.recv(timeout=left))
        if message["type"] == kind:
            return message
    raise TimeoutError(kind)


def test_api_alone_serves_and_streams_what_others_store(store_url: str, tmp_path: Path) -> None:
    writer = open_store(store_url)  # stands in for the aggregators: another process's writes
    now = time.time_ns()
    writer.write_spans([Span(
        trace_id="ab" * 16, span_id="cd" * 8, parent_span_id="", name="invoke_agent research",
        kind=SpanKind.INTERNAL, start_time_ns=now - 10 * SECOND, end_time_ns=now - 9 * SECOND,
        agent_name="research", task_id="t-1",
        attributes={"gen_ai.operation.name": "invoke_agent", "oracle.agent.reasoning": "plan"},
    )])  # fmt: skip
    write_snapshot(writer, now - 2 * SECOND)
    old_event = InfraEvent(now - 3 * SECOND, "k8s", "oom_killed", "pod/agents/research-0",
                           Severity.ERROR, "OOMKilled")  # fmt: skip
    writer.write_events([old_event])
    process, port = start_api(store_url, tmp_path / "api.log")
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        health = httpx.get(f"{base}/health").json()
        assert health["role"] == "api" and health["status"] == "ok"
        contract = Contract(httpx.get(f"http://127.0.0.1:{port}/api/openapi.json").json())
        contract.check("/api/v1/health", health)
        assert "receiver" not in health and "snapshots" not in health
        latest = httpx.get(f"{base}/snapshots/latest").json()
        assert latest["timestamp_unix_nano"] == now - 2 * SECOND
        # Taken without collectors, from the PostgreSQL store's activity alone.
        assert latest["snapshot"]["kubernetes"]["health"]["status"] == "stopped"
        (agent,) = latest["snapshot"]["agents"]
        assert (agent["name"], agent["last_reasoning"]) == ("research", "plan")
        services = httpx.get(f"http://127.0.0.1:{port}/jaeger/api/services").json()
        assert services["data"] == ["unknown_service"]  # the span has no service.name
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert metrics.status_code == 200 and "oracle_llm_" in metrics.text
        events = httpx.get(f"{base}/events", params={"kind": "oom_killed"}).json()
        assert [e["entity"] for e in events["events"]] == ["pod/agents/research-0"]

        with connect(f"ws://127.0.0.1:{port}/api/v1/live", open_timeout=5) as ws:
            assert next_of(ws, "hello")["version"]
            assert next_of(ws, "snapshot")["timestamp_unix_nano"] == now - 2 * SECOND
            time.sleep(0.5)  # the poller has seen the store as it was
            written = time.time_ns()
            write_snapshot(writer, written)
            sent = time.monotonic()
            assert next_of(ws, "snapshot")["timestamp_unix_nano"] == written
            print(f"snapshot reached the client {time.monotonic() - sent:.3f} s after its write")
            alert = Alert("a1", "oom_killed", "critical", written, written,
                          "pod/agents/research-0", "research-0 OOMKilled")  # fmt: skip
            writer.write_alerts([alert])
            got = next_of(ws, "alert")["alert"]
            assert (got["id"], got["kind"], got["count"]) == ("a1", "oom_killed", 1)
            writer.write_alerts([Alert("a1", "oom_killed", "critical", written, written + SECOND,
                                       "pod/agents/research-0", "again", count=2)])  # fmt: skip
            assert next_of(ws, "alert")["alert"]["count"] == 2  # a repeat is announced too
            lag = InfraEvent(written, "kafka", "lag_spike", "group/research/topic/tool-responses")
            writer.write_events([lag])
            event = next_of(ws, "event")["event"]
            assert event["kind"] == "lag_spike"  # the old OOM kill was not announced again
        health = httpx.get(f"{base}/health").json()
        assert health["live"]["poll"]["published"] == {"snapshots": 1, "alerts": 2, "events": 1}
        contract.check("/api/v1/health", health)
        alerts = httpx.get(f"{base}/alerts").json()
        assert [a["id"] for a in alerts["alerts"]] == ["a1"]
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
        writer.close()
    assert code == 0, (tmp_path / "api.log").read_text()
