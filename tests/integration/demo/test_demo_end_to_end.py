"""`oracle-monitor demo`, headless, end to end: the seed cascade happens and is explained.

The demo runs as a user runs it (a subprocess of ``python -m oracle_monitor demo``): a real
tansu broker, the local LLM provider, the simulated Kubernetes cluster whose pods are the
agent processes, ``serve`` with every collector, the LLM proxy and the agents. Everything is
asserted through serve's API while the demo runs; then Ctrl-C, and nothing it started may be
left running or listening.
"""

from __future__ import annotations

import contextlib
import importlib.util
import ipaddress
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from oracle_monitor.demo.ports import free_port, listening
from oracle_monitor.demo.scenarios import SCENARIOS
from tests.openapi_contract import Contract

pytestmark = pytest.mark.integration
WITHIN_S = 150.0  # the chain is complete well within this (the demo aims at 90 s)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    if importlib.util.find_spec("oracle_monitor.agents") is None:
        message = "the agents package (oracle_monitor.agents) is not installed"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    out = tmp_path / "demo.out"
    with out.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "oracle_monitor", "demo", "--no-browser", "--duration", "240",
             "--api-port", str(port), "--data-dir", str(tmp_path / "data")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        yield process, f"http://127.0.0.1:{port}", out
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """After a failure: Ctrl-C, then SIGKILL for whatever of the demo's tree is left."""
    if process.poll() is not None:
        return
    tree = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
    for child in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def poll(check: Callable[[], Any], within_s: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with_value = check()
        if with_value:
            return with_value
        time.sleep(1.0)
    raise AssertionError(f"{what} not seen in {within_s:.0f}s:\n{log.read_text()[-4000:]}")


def get(api: str, path: str, **params: Any) -> Any:
    try:
        response = httpx.get(f"{api}{path}", params=params, timeout=10)
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None


def tree_of(process: subprocess.Popen[bytes]) -> tuple[set[int], set[int]]:
    """Pids of the demo and all its descendants, and the TCP ports they listen on."""
    root = psutil.Process(process.pid)
    procs = [root, *root.children(recursive=True)]
    ports: set[int] = set()
    for proc in procs:
        try:
            for conn in proc.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN:
                    assert _loopback(conn.laddr.ip), f"{proc.cmdline()} listens on {conn.laddr}"
                    ports.add(conn.laddr.port)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return {p.pid for p in procs}, ports


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def orphan_alert(api: str) -> dict[str, Any] | None:
    body = get(api, "/api/v1/alerts")
    alerts = body["alerts"] if body else []
    return next((a for a in alerts if a["kind"] == "task_orphaned"), None)


def test_the_seed_cascade_end_to_end(demo: tuple[subprocess.Popen[bytes], str, Path]) -> None:
    process, api, log = demo
    started = time.monotonic()
    poll(lambda: get(api, "/api/v1/health"), 60, "serve's health", log)
    alert = poll(lambda: orphan_alert(api), WITHIN_S, "a task_orphaned alert", log)
    task_id = alert["task_id"]
    expected = SCENARIOS["seed"].expected_chain

    seen: list[str] = []

    def chain() -> Any:
        body = get(api, f"/api/v1/tasks/{task_id}/causal-chain")
        seen[:] = [body["summary"]] if body else []
        kinds = [link["kind"] for link in body["chain"]] if body else []
        # Repeats fold into one step each: the chain reads as the seed's steps, nothing else.
        return body if tuple(kinds) == expected else None

    try:
        found = poll(chain, 45, f"the seed chain for {task_id}", log)
    except AssertionError as error:
        raise AssertionError(f"{error}\nlast chain: {seen}") from None
    took = time.monotonic() - started
    links = found["chain"]
    assert found["root_cause"]["kind"] == "kafka_lag_spike", found["summary"]
    story = found["summary"]
    assert story.startswith("Root cause: Kafka consumer lag on partition tool-responses/"), story
    assert story.endswith(f"and task {task_id} was orphaned."), story
    assert found["root_cause"]["entity"].startswith("partition/tool-responses/")
    positions = _positions(expected, [link["kind"] for link in links])
    for earlier, later in itertools.pairwise(positions):
        assert links[later]["at"] >= links[earlier]["at"]
    for index in positions[1:]:
        assert links[index]["caused_by"] is not None, links[index]  # every step is explained
    oom = links[positions[expected.index("oom_killed")]]
    moved = links[positions[expected.index("pod_rescheduled")]]
    assert oom["entity"].startswith("pod/agents/research-agent-")
    assert moved["entity"] != oom["entity"] and moved["rule"] == "replaced_pod"
    assert links[positions[-1]]["entity"] == f"task/{task_id}"

    alerts = get(api, "/api/v1/alerts")["alerts"]
    ooms = [a for a in alerts if a["kind"] == "oom_killed"]
    assert ooms and ooms[0]["severity"] == "critical" and ooms[0]["entity"] == oom["entity"]
    lag = get(api, "/api/v1/events", kind="lag_spike")["events"]
    assert any("tool-responses" in event["entity"] for event in lag)
    costs = {g["key"]: g for g in get(api, "/api/v1/costs", group_by="agent")["groups"]}
    for agent in ("research", "writer", "analysis"):
        assert costs[agent]["requests"] > 0 and costs[agent]["cost_usd"] > 0, costs
    assert costs["research"]["rate_limited"] > 0
    assert None not in costs  # every call is attributed to its agent, and counted once
    answers_match_the_openapi(api, task_id)

    pids, ports = tree_of(process)
    assert len(pids) >= 8 and ports  # broker, serve (+ workers), proxy, four agents
    process.send_signal(signal.SIGINT)  # Ctrl-C
    assert process.wait(60) == 0, log.read_text()[-3000:]
    time.sleep(0.5)
    alive = [pid for pid in pids if psutil.pid_exists(pid)
             and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]  # fmt: skip
    assert not alive, [psutil.Process(pid).cmdline() for pid in alive]
    assert not [port for port in ports if listening(port)]
    print(f"seed chain complete after {took:.0f}s")


def answers_match_the_openapi(api: str, task_id: str) -> None:
    """Each JSON route's answer, from serve with every collector running, matches the schema
    its OpenAPI document gives it."""
    contract = Contract(httpx.get(f"{api}/api/openapi.json", timeout=10).json())
    trace_id = get(api, "/api/v1/traces", agent="research")["traces"][0]["trace_id"]
    service = get(api, "/jaeger/api/services")["data"][0]
    taken = get(api, "/api/v1/snapshots/latest")["snapshot"]["timestamp"]
    asked = {
        "/api/v1/health": {}, "/api/v1/traces": {}, "/api/v1/traces/{trace_id}": {},
        "/api/v1/traces/{trace_id}/causal-chain": {}, "/api/v1/tasks/{task_id}/causal-chain": {},
        "/api/v1/costs": {"group_by": "provider"}, "/api/v1/infra": {}, "/api/v1/events": {},
        "/api/v1/alerts": {}, "/api/v1/snapshots/latest": {}, "/api/v1/agents": {},
        "/api/v1/snapshots/at": {"ts": taken}, "/api/v1/snapshots": {"step": "10"},
        "/jaeger/api/services": {}, "/jaeger/api/services/{service}/operations": {},
        "/jaeger/api/operations": {"service": service}, "/jaeger/api/traces": {"service": service},
        "/jaeger/api/traces/{trace_id}": {}, "/jaeger/api/dependencies": {},
    }  # fmt: skip
    assert set(asked) == contract.json_routes()
    for path, params in asked.items():
        url = path.format(trace_id=trace_id, task_id=task_id, service=service)
        response = httpx.get(f"{api}{url}", params=params, timeout=30)
        assert response.status_code == 200, (url, response.text[:300])
        contract.check(path, response.json())
    infra = get(api, "/api/v1/infra")["collectors"]
    assert {"k8s", "kafka", "llm"} <= set(infra)  # every collector's real state was checked


def _positions(expected: tuple[str, ...], kinds: list[str]) -> list[int]:
    """Index in ``kinds`` of each of ``expected``, in order (first match after the last)."""
    found: list[int] = []
    start = 0
    for kind in expected:
        index = kinds.index(kind, start)
        found.append(index)
        start = index + 1
    return found
