"""The LLM usage collector's figures are one set of numbers: read for one instant over nested
ranges (window, hour, all time), so no total is less than a part of it; the agents' views in
a snapshot are the window's ``by_agent`` groups."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from oracle_monitor.aggregator.snapshot import build_snapshot, validate_snapshot
from oracle_monitor.collectors.llm.usage import UsageConfig
from oracle_monitor.collectors.llm.usage_collector import HOUR_NS, LLMUsageCollector
from oracle_monitor.model import Span, SpanKind
from oracle_monitor.store.sqlite import SQLiteStore

MINUTE = 60_000_000_000


def call(n: int, ago_ns: int, agent: str | None, cost: float) -> Span:
    start = time.time_ns() - ago_ns
    return Span(f"{n:032x}", f"{n:016x}", "", "chat", SpanKind.CLIENT, start, start + 1,
                agent_name=agent, provider="openai", model="gpt-4o-mini", input_tokens=10 * n,
                output_tokens=n, cost_usd=cost)  # fmt: skip


async def test_total_to_date_hour_window_and_agents_nest(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "spans.db")
    store.write_spans([
        call(1, 3 * HOUR_NS, "planner", 1.0),  # before the checkpoint
        call(2, 30 * MINUTE, "planner", 0.5),  # in the hour, not the window
        call(3, 1 * MINUTE, "planner", 0.25),  # in the window
        call(4, 2 * MINUTE, "writer", 0.125),
        call(5, 1 * MINUTE, None, 0.0625),  # no agent anywhere in its trace
    ])  # fmt: skip
    collector = LLMUsageCollector(store, lambda events: None, UsageConfig(), window_s=300)
    try:
        await collector.poll_once()
        state = collector.state()
        to_date = sum(g["cost_usd"] for g in state["to_date"])
        window = sum(g["cost_usd"] for g in state["by_provider"])
        assert to_date == pytest.approx(1.9375)
        assert state["cost_last_hour_usd"] == pytest.approx(0.9375)
        assert window == pytest.approx(0.4375)
        agents = {g["key"]: g["cost_usd"] for g in state["by_agent"]}
        assert agents == {"planner": 0.25, "writer": 0.125, None: 0.0625}

        # A call stored late (started before the last poll) still counts at the next poll.
        store.write_spans([call(6, 40 * MINUTE, "writer", 2.0)])
        await collector.poll_once()
        assert sum(g["cost_usd"] for g in collector.state()["to_date"]) == pytest.approx(3.9375)

        views: list[dict[str, Any]] = [
            {"name": name, "id": None, "status": "idle", "current_task": None,
             "last_reasoning": None, "tools_planned": [], "tokens": {"input": 1, "output": 1},
             "cost_usd": 99.0, "errors": 0, "pod": None, "last_seen_ns": 0}
            for name in ("planner", "writer", "idle-agent")
        ]  # fmt: skip
        snapshot = build_snapshot(time.time_ns(), [collector], views)
        assert validate_snapshot(snapshot) == []
        usage = snapshot["llm_usage"]
        assert usage["to_date"]["cost_usd"] >= usage["cost_last_hour_usd"]
        assert usage["cost_last_hour_usd"] >= usage["totals"]["cost_usd"]
        by_name = {a["name"]: (a["tokens"], a["cost_usd"]) for a in snapshot["agents"]}
        assert by_name == {
            "planner": ({"input": 30, "output": 3}, 0.25),
            "writer": ({"input": 40, "output": 4}, 0.125),
            "idle-agent": ({"input": 0, "output": 0}, 0.0),
        }
    finally:
        await collector.shutdown()
        store.close()
