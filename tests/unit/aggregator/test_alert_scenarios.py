"""The scenarios' alerts at chosen instants, as the snapshots taken then list them (engine,
snapshot loop and a real SQLite store; the seed cascade is in test_alert_engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from oracle_monitor.aggregator.alert_engine import AlertEngine
from oracle_monitor.aggregator.snapshot_loop import SnapshotLoop
from oracle_monitor.store import AlertQuery, open_store
from tests.unit.aggregator import scenarios
from tests.unit.aggregator.scenarios import PLANNER, SUMMARIZER, at

Brief = tuple[str, str, int, str]
GPT41 = "model/openai/gpt-4.1"
CASES: dict[str, dict[float, list[Brief]]] = {
    "quota": {
        10.0: [
            ("quota_exhausted", "model/openai/gpt-4.1-mini", 1, "critical"),
            ("quota_exhausted", GPT41, 1, "critical"),
            ("rate_limit_burst", GPT41, 1, "warning"),
        ],
        1000.0: [("quota_exhausted", GPT41, 1, "critical")],  # 898.6 s later: a new alert
    },
    "crash_loop": {
        20.0: [
            ("crash_loop", SUMMARIZER.entity, 1, "critical"),
            ("crash_loop", PLANNER.entity, 1, "critical"),
            ("config_error", SUMMARIZER.entity, 1, "warning"),
        ],
        600.0: [],
    },
    "dlq": {
        70.0: sorted(
            [
                ("dlq_growth", "topic/tasks.dlq", 1, "warning"),
                ("dlq_growth", "topic/payments.dlq", 1, "warning"),
                ("consumer_stalled", "consumer_group/research-workers", 1, "warning"),
                ("consumer_stalled", "consumer_group/billing", 1, "warning"),
            ]
        ),  # STALL -> WARN raises nothing
        400.0: [],
    },
    "eviction": {
        100.0: sorted(
            [
                ("pod_evicted", SUMMARIZER.entity, 1, "warning"),
                ("pod_evicted", PLANNER.entity, 1, "warning"),
                ("memory_pressure", SUMMARIZER.entity, 1, "warning"),
            ]
        ),
        346.0: [],  # the summariser's task is orphaned at 347 s (its pod left at 47 s)
        350.0: [("task_orphaned", "task/task-46", 1, "critical")],
    },
    "healthy": {
        6.0: sorted(
            [
                ("oom_killed", "pod/agents/research-agent-7d9f8-zzzzz", 1, "critical"),
                ("lag_spike", "group/research-agents/topic/tool-responses", 1, "warning"),
                ("rate_limit_burst", "model/openai/gpt-4o-mini", 1, "warning"),
            ]
        ),  # other pods' and models' trouble alerts even though this task went well
    },
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_alerts_in_snapshots_at_chosen_instants(name: str, tmp_path: Path) -> None:
    scenario = scenarios.ALL[name]()
    store = open_store(f"sqlite:///{tmp_path}/{name}.db")
    store.write_spans(scenario.spans)
    store.write_events(scenario.events)
    engine = AlertEngine(store)
    engine.on_events(scenario.events)
    loop = SnapshotLoop(store, [], 2.0, alerts=engine)
    for seconds, expected in CASES[name].items():
        loop.snapshot_once(at(seconds))
        found = store.snapshot_at(at(seconds))
        assert found is not None and found[0] == at(seconds)
        alerts = found[1]["alerts"]
        brief = [(a["kind"], a["entity"], a["count"], a["severity"]) for a in alerts]
        assert sorted(brief) == sorted(expected), seconds
        assert [a["last_at"] for a in alerts] == sorted(
            (a["last_at"] for a in alerts), reverse=True
        )
        if brief and brief[0][0] != "task_orphaned":
            assert alerts[0]["link"].startswith("/infra?entity=")
    orphans = [a for a in store.find_alerts(AlertQuery()) if a.kind == "task_orphaned"]
    assert [a.task_id for a in orphans] == (["task-46"] if name == "eviction" else [])
    store.close()
