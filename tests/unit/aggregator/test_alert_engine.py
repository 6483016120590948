"""The alert engine over a real SQLite store: the seed cascade's alerts and snapshots at
chosen instants, orphaned tasks, invalid snapshots, persistence across a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oracle_monitor.aggregator.alert_engine import AlertEngine
from oracle_monitor.aggregator.alerts import AlertBook
from oracle_monitor.aggregator.snapshot import validate_snapshot
from oracle_monitor.aggregator.snapshot_loop import SnapshotLoop
from oracle_monitor.model import InfraEvent
from oracle_monitor.store import AlertQuery, Store, open_store
from tests.unit.aggregator.scenarios import RESEARCH, RESEARCH_OTHER, at, seed_scenario
from tests.unit.aggregator.snapshot_sample import FakeCollector

S = 1_000_000_000


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path}/alerts.db")
    yield store
    store.close()


def brief(alerts: list[dict[str, Any]]) -> list[tuple[str, str, int, str]]:
    return [(a["kind"], a["entity"], a["count"], a["severity"]) for a in alerts]


def test_seed_cascade_alerts_and_snapshots_at_chosen_instants(store: Store) -> None:
    scenario = seed_scenario()
    store.write_spans(scenario.spans)
    store.write_events(scenario.events)
    published: list[dict[str, Any]] = []
    engine = AlertEngine(store, publish=published.append)
    engine.on_events(scenario.events)
    loop = SnapshotLoop(store, [], 2.0, alerts=engine)
    for seconds in (30, 72, 371.2, 372, 376, 670, 700):
        loop.snapshot_once(at(seconds))
    assert loop.invalid_snapshots == 0

    def snapshot_alerts(seconds: float) -> list[tuple[str, str, int, str]]:
        found = store.snapshot_at(at(seconds))
        assert found is not None and found[0] == at(seconds)
        assert validate_snapshot(found[1]) == []
        return brief(found[1]["alerts"])

    lag = ("lag_spike", "group/research-agents/topic/tool-responses", 2, "warning")
    billing = ("lag_spike", "group/billing-agents/topic/tool-responses", 1, "warning")
    assert snapshot_alerts(30) == [billing, lag]  # two partitions of one group: one alert
    assert snapshot_alerts(72) == [
        ("oom_killed", RESEARCH_OTHER.entity, 1, "critical"),
        ("oom_killed", RESEARCH.entity, 1, "critical"),
        ("rate_limit_burst", "model/openai/gpt-4o", 1, "warning"),
        ("rate_limit_burst", "model/anthropic/claude-sonnet-4-5", 1, "warning"),
        billing,
        lag,
    ]  # newest last_at first; the OOM kill two hours before is long inactive
    orphan = ("task_orphaned", "task/task-42", 1, "critical")
    assert snapshot_alerts(371.2) == [("oom_killed", RESEARCH_OTHER.entity, 1, "critical")]
    assert snapshot_alerts(372) == []  # its pod went away at 74 s: orphaned only from 374 s
    assert snapshot_alerts(376) == [orphan]
    assert snapshot_alerts(670) == [orphan]
    assert snapshot_alerts(700) == []  # 326 s after it happened: no longer active

    stored = store.find_alerts(AlertQuery(limit=100))
    assert [(a.kind, a.entity, a.count) for a in stored][:1] == [
        ("task_orphaned", "task/task-42", 1)
    ]
    assert stored[0].task_id == "task-42" and stored[0].first_at_ns == at(374)
    kinds = sorted((a.kind, a.entity) for a in stored)
    assert kinds == sorted(
        [
            ("lag_spike", "group/research-agents/topic/tool-responses"),
            ("lag_spike", "group/billing-agents/topic/tool-responses"),
            ("rate_limit_burst", "model/openai/gpt-4o"),
            ("rate_limit_burst", "model/anthropic/claude-sonnet-4-5"),
            ("oom_killed", RESEARCH.entity),
            ("oom_killed", RESEARCH.entity),  # the one two hours before is another alert
            ("oom_killed", RESEARCH_OTHER.entity),
            ("task_orphaned", "task/task-42"),
        ]
    )
    assert published[-1]["kind"] == "task_orphaned"
    assert published[-1]["link"] == "/tasks/task-42"


def test_an_invalid_snapshot_raises_an_alert_and_the_loop_goes_on(store: Store) -> None:
    broken = FakeCollector("k8s", {"pods": [{"name": "no-other-fields"}]})
    engine = AlertEngine(store)
    loop = SnapshotLoop(store, [broken], 2.0, alerts=engine)
    loop.snapshot_once(at(0))
    loop.snapshot_once(at(2))
    assert loop.invalid_snapshots == 2 and store.latest_snapshot() is None
    (alert,) = store.find_alerts(AlertQuery(limit=10))
    assert (alert.kind, alert.entity, alert.count) == ("invalid_snapshot", "oracle/snapshots", 2)
    assert "$.kubernetes.pods[0]" in alert.summary
    fixed = SnapshotLoop(store, [], 2.0, alerts=engine)
    fixed.snapshot_once(at(4))
    found = store.latest_snapshot()
    assert found is not None
    assert brief(found[1]["alerts"]) == [("invalid_snapshot", "oracle/snapshots", 2, "warning")]


def test_alerts_survive_a_restart_and_keep_deduplicating(tmp_path: Path) -> None:
    scenario = seed_scenario()
    oom = next(e for e in scenario.events if e.kind == "oom_killed" and e.time_ns == at(71))
    url = f"sqlite:///{tmp_path}/restart.db"
    first = open_store(url)
    AlertEngine(first).on_events([oom])
    first.close()
    second = open_store(url)
    engine = AlertEngine(second, book=AlertBook(dedupe_ns=600 * S))
    engine.restore(at(100))
    repeat = RESEARCH.event("oom_killed", 200.0, "again")
    engine.on_events([repeat])
    (alert,) = second.find_alerts(AlertQuery(limit=10))
    assert (alert.count, alert.first_at_ns, alert.last_at_ns) == (2, at(71), at(200))
    assert alert.summary == "again"
    second.close()


def test_orphan_checks_survive_a_restart(tmp_path: Path) -> None:
    scenario = seed_scenario()
    url = f"sqlite:///{tmp_path}/orphan.db"
    first = open_store(url)
    first.write_spans(scenario.spans)
    first.write_events(scenario.events)
    AlertEngine(first).on_events(scenario.events)
    first.close()  # the server stops at 100 s, before the task is orphaned (374 s)
    second = open_store(url)
    engine = AlertEngine(second)
    engine.restore(at(100))
    assert engine.check_orphans(at(300)) == []
    (orphan,) = engine.check_orphans(at(400))
    assert (orphan.kind, orphan.task_id, orphan.first_at_ns) == (
        "task_orphaned",
        "task-42",
        at(374),
    )
    second.close()


def status(seconds: float, group: str, to: str) -> InfraEvent:
    """The Kafka collector's ``consumer_status_changed`` of ``group`` to ``to``."""
    return InfraEvent(
        at(seconds), "kafka", "consumer_status_changed", f"consumer_group/{group}",
        summary=f"{group} -> {to}", attributes={"oracle.kafka.status": to},
    )  # fmt: skip


def test_a_stall_counts_once_it_has_lasted(store: Store) -> None:
    engine = AlertEngine(store)
    # flaps for a poll: nothing
    assert engine.on_events([status(10, "tools", "STALL"), status(11, "tools", "OK")]) == []
    assert engine.on_events([status(12, "tools", "STALL")]) == []
    assert engine.tick(at(16)) == []
    assert engine.on_events([status(16.5, "tools", "OK")]) == []  # 4.5 s: still a flap
    # lasts: raised at the next tick, at its own time; WARN is no recovery
    engine.on_events([status(20, "research", "STALL"), status(21, "research", "WARN")])
    assert engine.tick(at(24)) == []
    (alert,) = engine.tick(at(25))
    assert (alert.kind, alert.entity, alert.first_at_ns) == (
        "consumer_stalled", "consumer_group/research", at(20),
    )  # fmt: skip
    # lasts, then recovers before a tick: raised when the recovery arrives; STOP is worse
    engine.on_events([status(30, "writer", "STALL"), status(32, "writer", "STOP")])
    (worse,) = engine.on_events([status(40, "writer", "OK")])
    assert (worse.severity, worse.first_at_ns, worse.last_at_ns) == ("critical", at(30), at(30))
    kinds = [(a.entity, a.count) for a in store.find_alerts(AlertQuery())]
    assert kinds == [("consumer_group/writer", 1), ("consumer_group/research", 1)]
