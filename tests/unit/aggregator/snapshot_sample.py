"""Fake collectors whose states have the shapes the real ones report, for snapshot tests.

Pods go through the real `describe` of the Kubernetes collector and usage groups through
`dataclasses.asdict(CostGroup)`, as in the collectors, so a change of those shapes shows here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from oracle_monitor.collectors.base import CollectorHealth
from oracle_monitor.collectors.k8s.convert import ContainerState, PodState, describe
from oracle_monitor.store.base import CostGroup

S = 1_000_000_000
T0 = 1_795_764_000 * S


class FakeCollector:
    """A collector with a fixed name, health and state (snapshots read only those)."""

    def __init__(self, name: str, state: dict[str, Any], status: str = "ok") -> None:
        self.name = name
        self._state = state
        self._health = CollectorHealth(status, "", T0)  # type: ignore[arg-type]

    async def start(self) -> None: ...

    async def shutdown(self) -> None: ...

    def health(self) -> CollectorHealth:
        return self._health

    def state(self) -> dict[str, Any]:
        return self._state


def pod(index: int) -> dict[str, Any]:
    """One pod as the Kubernetes collector's `state()` lists it."""
    state = PodState(
        uid=f"uid-{index}", name=f"research-agent-{index}", namespace="agents",
        node="node-1", phase="Running", reason="", scheduled=True, ready=index % 7 != 0,
        created_ns=T0, deletion_ns=0, grace_seconds=30, owner_kind="ReplicaSet",
        owner_name="research-agent-7d9f8", owner_uid="rs-1", agent="research",
        containers=(ContainerState("agent", restart_count=index % 3,
                                   last_termination_reason="OOMKilled" if index % 5 else ""),),
        requests=(0.5, 512 * 2**20), limits=(1.0, 1024 * 2**20), last_time_ns=T0,
    )  # fmt: skip
    usage = (0.25, 300 * 2**20) if index % 2 else None
    return describe(state, usage)


def kafka_state(groups: int = 2, partitions: int = 4) -> dict[str, Any]:
    """The Kafka collector's state: ``groups`` groups each on ``partitions`` partitions."""
    group_states: dict[str, Any] = {}
    for g in range(groups):
        group_states[f"group-{g}"] = {
            "status": "STALL" if g == 1 else "OK",
            "state": "STABLE",
            "members": [{"member_id": f"m-{g}", "client_id": "agent", "host": "/10.0.0.7"}],
            "error": None,
            "lag": 10 * partitions,
            "lag_clamped": False,
            "partitions": [
                {"topic": "tool-responses", "partition": p, "committed_offset": 100,
                 "log_end_offset": 110, "lag": 10, "lag_seconds": 1.5 if p else None,
                 "lag_seconds_from": "message" if p else None, "lag_clamped": False,
                 "status": "OK"}
                for p in range(partitions)
            ],
        }  # fmt: skip
    return {
        "polled_at_ns": T0,
        "groups": group_states,
        "topics": {
            "tool-responses": {
                "end_offsets": {str(p): 110 for p in range(partitions)},
                "throughput_msgs_per_s": 12.5,
                "is_dlq": False,
                "dlq_depth": None,
            },
            "tool-responses.dlq": {
                "end_offsets": {"0": 3},
                "throughput_msgs_per_s": 0.0,
                "is_dlq": True,
                "dlq_depth": 3,
            },
        },
        "broker": "127.0.0.1:9092",
        "health": {"status": "ok", "detail": "", "since_ns": T0},
    }


def usage_group(key: str | None, cost: float) -> dict[str, Any]:
    """One usage group as the LLM collector reports it."""
    return dataclasses.asdict(CostGroup(key, 10, 1, 1, 1000, 200, 50, 0, 20, cost, 0))


def llm_state() -> dict[str, Any]:
    """The LLM usage collector's state after a poll."""
    return {
        "window_seconds": 300.0,
        "by_agent": [usage_group("research", 0.5), usage_group(None, 0.25)],
        "by_model": [usage_group("gpt-4o", 0.75)],
        "by_provider": [usage_group("openai", 0.5), usage_group("anthropic", 0.25)],
        "cost_last_hour_usd": 3.5,
        "budget_usd_per_hour": 10.0,
        "rate_limit_bursts": ["model/openai/gpt-4o"],
    }


def agent(name: str, status: str = "running") -> dict[str, Any]:
    """One agent view, as `agent_views` makes it."""
    return {
        "name": name, "id": f"{name}-1", "status": status, "current_task": "task-42",
        "last_reasoning": "Search three sources, then summarise.",
        "tools_planned": ["web_search"], "tokens": {"input": 1200, "output": 300},
        "cost_usd": 0.02, "errors": 0, "pod": f"{name}-7d9f8-abcde", "last_seen_ns": T0,
    }  # fmt: skip


def collectors(pods: int = 3, groups: int = 2, partitions: int = 4) -> list[FakeCollector]:
    """All three collectors with every part of their state filled."""
    k8s = {
        "health": {"status": "ok", "detail": "", "since_ns": T0},
        "metrics_available": True,
        "pods": [pod(i) for i in range(pods)],
    }
    return [
        FakeCollector("k8s", k8s),
        FakeCollector("kafka", kafka_state(groups, partitions)),
        FakeCollector("llm", llm_state()),
    ]
