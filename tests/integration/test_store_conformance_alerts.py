"""Alerts, snapshot retention and agents' activity: the same behaviour on every store backend (see
`tests.integration.test_store_conformance`, whose fixtures run each test once per backend)."""

from __future__ import annotations

import orjson

from oracle_monitor.aggregator.agents import activity_of
from oracle_monitor.model import Alert, StatusCode
from oracle_monitor.store import AlertQuery, Store
from tests.integration.test_store_conformance import T0 as SPANS_T0
from tests.integration.test_store_conformance import make_span, store, store_url

__all__ = ["store", "store_url"]
S = 1_000_000_000
T0 = 1_790_000_000 * S


def alert(key: str, first_s: int, last_s: int, severity: str = "warning", count: int = 1) -> Alert:
    return Alert(key * 32, "lag_spike", severity, T0 + first_s * S, T0 + last_s * S,
                 f"group/g/topic/{key}", f"{key} at {last_s}", count)  # fmt: skip


def test_alerts_are_upserted_and_found_by_overlap(store: Store) -> None:
    assert store.find_alerts(AlertQuery()) == []
    store.write_alerts([alert("a", 0, 10, "critical", 2), alert("b", 20, 30), alert("c", 5, 5)])
    store.write_alerts([alert("b", 15, 40, "info", 5), alert("a", 3, 8, "warning", 1)])
    found = {a.alert_id[0]: a for a in store.find_alerts(AlertQuery())}
    b, a = found["b"], found["a"]
    assert (b.first_at_ns, b.last_at_ns, b.count, b.severity) == (
        T0 + 15 * S,
        T0 + 40 * S,
        5,
        "warning",
    )
    assert b.summary == "b at 40"
    assert (a.first_at_ns, a.last_at_ns, a.count, a.severity) == (T0, T0 + 10 * S, 2, "critical")
    assert a.summary == "a at 10"  # an older repeat does not replace the summary

    def ids(**kwargs: object) -> list[str]:
        return [x.alert_id[0] for x in store.find_alerts(AlertQuery(**kwargs))]  # type: ignore[arg-type]

    assert ids() == ["b", "a", "c"]
    assert ids(start_ns=T0 + 11 * S) == ["b"]
    assert ids(end_ns=T0 + 4 * S) == ["a"]
    assert ids(severities=("critical", "info")) == ["a"]
    assert ids(limit=2) == ["b", "a"]
    assert store.delete_alerts_before(T0 + 9 * S) == 1
    assert ids() == ["b", "a"]


def test_snapshots_thinned_and_deleted(store: Store) -> None:
    for n in range(0, 240, 20):  # 0, 20, ..., 220 s
        store.write_snapshot(T0 + n * S, {"n": n})
    # T0 is 20 s past a whole minute: buckets end at 40, 100, 160, 220 s
    assert store.thin_snapshots(T0, T0 + 160 * S, 60 * S) == 5
    kept = [ts for ts, _ in store.snapshot_series(0, 2**62, 1)]
    assert [(ts - T0) // S for ts in kept] == [20, 80, 140, 160, 180, 200, 220]
    assert store.thin_snapshots(T0, T0 + 160 * S, 60 * S) == 0
    assert store.delete_snapshots_before(T0 + 100 * S) == 2
    assert [(ts - T0) // S for ts, _ in store.snapshot_series(0, 2**62, 1)] == [
        140, 160, 180, 200, 220,
    ]  # fmt: skip


def test_agent_activity_is_the_lean_form_of_recent_agent_spans(store: Store) -> None:
    store.write_spans(
        [
            make_span(1, 1, agent_name="research", start=0, task_id="t-1",
                      attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": 7},
                      status_code=StatusCode.ERROR),
            make_span(1, 2, 1, agent_name="research", start=50, pod_name="p-1",
                      input_tokens=10, output_tokens=3, cost_usd=0.25,
                      attributes={"oracle.agent.reasoning": "look it up",
                                  "oracle.agent.tools_planned": ["search", "sum"]}),
            make_span(2, 3, agent_name="writer", start=100,
                      attributes={"oracle.agent.tools_planned": "not a list"}),
            make_span(2, 4, 3, start=150),  # its agent is its parent's
            make_span(3, 5, start=160),  # no agent anywhere in its trace
        ]
    )  # fmt: skip
    activity = store.recent_agent_activity(SPANS_T0)
    assert activity == [activity_of(span) for span in store.recent_agent_spans(SPANS_T0)]
    assert [(a.agent_name, a.agent_id, a.operation, a.is_error, a.agent_inherited)
            for a in activity] == [
        ("writer", None, None, False, True), ("writer", None, None, False, False),
        ("research", None, None, False, False), ("research", "7", "invoke_agent", True, False),
    ]  # fmt: skip
    assert activity[2].tools_planned == ("search", "sum") and activity[3].tools_planned is None
    assert activity[2].reasoning == "look it up" and activity[2].cost_usd == 0.25
    assert store.recent_agent_activity(SPANS_T0, limit=1) == activity[:1]
    assert store.recent_agent_activity(SPANS_T0 + 151) == []


def test_series_as_text_is_the_series_undecoded(store: Store) -> None:
    for n in range(0, 240, 20):
        store.write_snapshot(T0 + n * S, {"n": n, "nested": {"list": [1, 2.5, None, "x"]}})
    as_text = store.snapshot_series_text(T0, T0 + 240 * S, 60 * S)
    assert [(ts, orjson.loads(text)) for ts, text in as_text] == store.snapshot_series(
        T0, T0 + 240 * S, 60 * S
    )
    assert [(ts - T0) // S for ts, _ in as_text] == [20, 80, 140, 200, 220]
