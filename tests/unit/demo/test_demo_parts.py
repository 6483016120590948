"""The demo's pure parts: scenarios, the agents' environment, the control file, pod objects."""

from __future__ import annotations

import json
from pathlib import Path

import click

from oracle_monitor.cli import demo as demo_command
from oracle_monitor.demo.pods import Deployment, Pod, pod_object, terminated_state
from oracle_monitor.demo.scenarios import SCENARIOS
from oracle_monitor.demo.services import Ports
from oracle_monitor.demo.workload import ControlFile
from oracle_monitor.roles.demo import _agent_env
from tests.unit.aggregator.scenarios import seed_scenario


def test_the_cli_offers_every_scenario() -> None:
    option = next(p for p in demo_command.params if p.name == "scenario")
    assert isinstance(option.type, click.Choice)
    assert set(option.type.choices) == set(SCENARIOS)


def test_the_seed_expects_the_chain_the_engine_gives_the_seed() -> None:
    assert list(SCENARIOS["seed"].expected_chain) == [k for k, *_ in seed_scenario().expected]


def test_agents_get_the_contract_environment(tmp_path: Path) -> None:
    ports = Ports(api=1, otlp_grpc=2, otlp_http=3, proxy=4)
    env = _agent_env("research", ports, "127.0.0.1:9", tmp_path / "c.json", SCENARIOS["seed"],
                     "http://127.0.0.1:4")  # fmt: skip
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:2"
    assert env["OTEL_SERVICE_NAME"] == "research-agent"
    assert env["ORACLE_AGENT_KAFKA_BOOTSTRAP"] == "127.0.0.1:9"
    assert env["ORACLE_AGENT_OPENAI_BASE_URL"] == "http://127.0.0.1:4/v1"
    assert env["ORACLE_AGENT_ANTHROPIC_BASE_URL"] == "http://127.0.0.1:4"
    assert env["ORACLE_AGENT_CONTROL_FILE"] == str(tmp_path / "c.json")
    assert float(env["ORACLE_AGENT_TOOL_TIMEOUT_SECONDS"]) > 0
    assert env["OPENAI_API_KEY"].startswith("sk-") and "real" in env["OPENAI_API_KEY"]


def test_the_control_file_merges_sections(tmp_path: Path) -> None:
    control = ControlFile(tmp_path / "control.json")
    assert json.loads(control.path.read_text()) == {}
    control.set(research={"response_delay_seconds": 6})
    control.set(research={"retry_memory_mb": 64}, tool_delay_seconds=1)
    assert json.loads(control.path.read_text()) == {
        "research": {"response_delay_seconds": 6, "retry_memory_mb": 64},
        "tool_delay_seconds": 1,
    }
    assert not list(tmp_path.glob("*.tmp"))


def test_an_oom_killed_pod_object() -> None:
    deployment = Deployment("research-agent", ["python", "-m", "x"], {"A": "1"}, agent="research",
                            memory_limit_mib=320)  # fmt: skip
    pod = Pod.new(deployment, 1_800_000_000.5, "seed")
    pod.phase, pod.started_s = "Failed", 0.0
    pod.terminated = terminated_state("OOMKilled", 137, 1_800_000_001.0, 1_800_000_002.25, "c://1")
    obj = pod_object(pod)
    assert obj["metadata"]["name"].startswith(f"{deployment.replicaset}-")
    assert obj["metadata"]["ownerReferences"][0]["uid"] == deployment.replicaset_uid
    assert obj["metadata"]["creationTimestamp"] == "2027-01-15T08:00:00.500000Z"
    status = obj["status"]["containerStatuses"][0]
    assert status["state"]["terminated"]["reason"] == "OOMKilled"
    assert status["state"]["terminated"]["finishedAt"] == "2027-01-15T08:00:02.250000Z"
    assert {"image", "imageID", "name", "ready", "restartCount"} <= set(status)
    assert obj["spec"]["containers"][0]["resources"]["limits"]["memory"] == "320Mi"
    assert Pod.new(deployment, 0, "other").name != pod.name
