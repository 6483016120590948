"""System snapshots: the schema, `build_snapshot` over fake collectors, `agent_views`."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from oracle_monitor.aggregator.agents import agent_views
from oracle_monitor.aggregator.snapshot import (
    _fast_validator,
    build_snapshot,
    load_schema,
    validate_snapshot,
    validator,
)
from oracle_monitor.model import Span, SpanKind, StatusCode
from tests.unit.aggregator.snapshot_sample import T0, S, agent, collectors

ROOT = Path(__file__).resolve().parents[3]


def sample() -> dict[str, Any]:
    """A snapshot with every section filled."""
    return build_snapshot(T0, collectors(), [agent("research"), agent("writer", "idle")])


def test_schema_copies_are_identical() -> None:
    packaged = ROOT / "src/oracle_monitor/aggregator/oracle_state.schema.json"
    top = ROOT / "schema/oracle_state.schema.json"
    assert packaged.read_bytes() == top.read_bytes()
    assert json.loads(top.read_text()) == load_schema()


def test_full_sample_is_valid_and_filled() -> None:
    snapshot = sample()
    assert validate_snapshot(snapshot) == []
    assert snapshot["timestamp"] == "2026-11-27T07:20:00.000000000Z"
    assert len(snapshot["kubernetes"]["pods"]) == 3
    assert snapshot["kafka"]["groups"]["group-1"]["status"] == "STALL"
    assert snapshot["llm_usage"]["totals"]["requests"] == 20
    assert snapshot["llm_usage"]["totals"]["cost_usd"] == pytest.approx(0.75)
    assert [a["name"] for a in snapshot["agents"]] == ["research", "writer"]


def test_collectors_not_running_give_stopped_empty_sections() -> None:
    snapshot = build_snapshot(T0, [], [])
    assert validate_snapshot(snapshot) == []
    for section in ("kubernetes", "kafka", "llm_usage"):
        assert snapshot[section]["health"]["status"] == "stopped"
    assert snapshot["kubernetes"]["pods"] == []
    assert snapshot["kafka"]["groups"] == {} and snapshot["kafka"]["broker"] is None
    assert snapshot["llm_usage"]["totals"]["requests"] == 0


def _break(snapshot: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target: Any = snapshot
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is _DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("timestamp", "yesterday", "$.timestamp: 'yesterday' does not match"),
        ("kafka.groups.group-1.status", "STALLED", "$.kafka.groups['group-1'].status"),
        ("kubernetes.pods.0.restarts", -1, "$.kubernetes.pods[0].restarts: -1 is less than"),
        ("kubernetes.pods.0.colour", "red", "'colour' was unexpected"),
        ("agents.0.status", "busy", "$.agents[0].status: 'busy' is not one of"),
        ("agents.1.tokens", _DELETE, "$.agents[1]: 'tokens' is a required property"),
        ("llm_usage.by_model.0.requests", "10", "$.llm_usage.by_model[0].requests: '10' is not"),
        ("llm_usage.totals.key", "x", "Unevaluated properties are not allowed ('key'"),
        ("kafka.topics.tool-responses.end_offsets.p0", 1, "'p0' does not match"),
        ("alerts", None, "$.alerts: None is not of type 'array'"),
        ("agent_count", 2, "'agent_count' was unexpected"),
    ],
)
def test_broken_snapshots_fail_with_clear_messages(path: str, value: Any, message: str) -> None:
    snapshot = copy.deepcopy(sample())
    _break(snapshot, path, value)
    errors = validate_snapshot(snapshot)
    assert errors, f"breaking {path} went unnoticed"
    assert any(message in error for error in errors), errors


def span(number: int, agent: str | None, start_s: float, end_s: float, **fields: Any) -> Span:
    return Span(
        trace_id=f"{number:032x}", span_id=f"{number:016x}", parent_span_id="", name="step",
        kind=SpanKind.INTERNAL, start_time_ns=T0 + int(start_s * S),
        end_time_ns=T0 + int(end_s * S), agent_name=agent, **fields,
    )  # fmt: skip


TASK = {"gen_ai.operation.name": "invoke_agent"}


def test_agent_views_derive_every_field() -> None:
    spans = [
        span(1, "research", 0, 50, attributes={**TASK, "gen_ai.agent.id": "r-1"},
             task_id="t-1", pod_name="research-7d9f"),
        span(2, "research", 10, 20, input_tokens=100, output_tokens=20, cost_usd=0.01,
             attributes={"oracle.agent.reasoning": "first", "oracle.agent.tools_planned": ["a"]}),
        span(3, "research", 30, 40, input_tokens=50, output_tokens=5, cost_usd=0.02,
             status_code=StatusCode.ERROR, attributes={"oracle.agent.reasoning": "second",
                                                      "oracle.agent.tools_planned": ["b", "c"]}),
        span(4, None, 0, 55),
    ]  # fmt: skip
    (view,) = agent_views(spans, now_ns=T0 + 60 * S)
    assert view == {
        "name": "research", "id": "r-1", "status": "running", "current_task": "t-1",
        "current_trace": f"{1:032x}", "last_reasoning": "second", "tools_planned": ["b", "c"],
        "tokens": {"input": 150, "output": 25}, "cost_usd": pytest.approx(0.03), "errors": 1,
        "pod": "research-7d9f", "last_seen_ns": T0 + 50 * S,
    }  # fmt: skip


def test_agent_status_error_idle_and_running_again() -> None:
    failed = span(1, "a", 0, 10, attributes=TASK, status_code=StatusCode.ERROR)
    assert agent_views([failed], T0 + 11 * S)[0]["status"] == "error"
    assert agent_views([failed], T0 + 3600 * S)[0]["status"] == "error"
    retry = span(2, "a", 12, 13, task_id="t-2")  # a new task in progress
    assert agent_views([failed, retry], T0 + 14 * S)[0]["status"] == "running"
    done = span(3, "b", 0, 10, attributes=TASK)
    assert agent_views([done], T0 + 20 * S)[0]["status"] == "running"
    assert agent_views([done], T0 + 100 * S)[0]["status"] == "idle"
    views = agent_views([failed, retry, done], T0 + 100 * S)
    assert [(v["name"], v["status"], v["current_task"]) for v in views] == [
        ("a", "idle", "t-2"),
        ("b", "idle", None),
    ]


def test_the_fast_validator_agrees_with_jsonschema() -> None:
    snapshot = sample()
    assert _fast_validator().is_valid(snapshot) and validator().is_valid(snapshot)
    snapshot["kubernetes"]["pods"][1]["ready"] = "yes"
    snapshot["kafka"]["topics"]["tool-responses"]["is_dlq"] = 1
    assert not _fast_validator().is_valid(copy.deepcopy(snapshot))
    assert validate_snapshot(snapshot) == [
        "$.kafka.topics['tool-responses'].is_dlq: 1 is not of type 'boolean'",
        "$.kubernetes.pods[1].ready: 'yes' is not of type 'boolean'",
    ]
    assert validate_snapshot(sample()) == []


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.update(kafka=None), "$.kafka: None is not of type 'object'"),
        (lambda s: s["kubernetes"].update(pods={"a": 1}), "$.kubernetes.pods: {'a': 1} is not"),
        (lambda s: s["kafka"].pop("groups"), "$.kafka: 'groups' is a required property"),
        (lambda s: s["agents"].append(b"raw"), "$.agents[2]: b'raw' is not of type 'object'"),
    ],
)
def test_odd_shapes_are_reported_too(mutate: Any, message: str) -> None:
    snapshot = sample()
    mutate(snapshot)
    assert message in "\n".join(validate_snapshot(snapshot))


def test_non_objects_are_invalid() -> None:
    assert validate_snapshot([]) == ["$: [] is not of type 'object'"]
    assert "'timestamp' is a required property" in validate_snapshot({})[0]
