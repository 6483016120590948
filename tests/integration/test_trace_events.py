"""``GET /api/v1/traces/{id}`` returns the infrastructure events correlated with its spans
(the seed cascade over a real SQLite store)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from oracle_monitor.api import create_app
from oracle_monitor.store import open_store
from tests.unit.aggregator.scenarios import healthy_scenario, seed_scenario


def test_a_trace_comes_with_its_correlated_events(tmp_path: Path) -> None:
    scenario = seed_scenario()
    store = open_store(f"sqlite:///{tmp_path}/trace.db")
    store.write_spans(scenario.spans)
    store.write_events(scenario.events)
    client = TestClient(create_app(store, dict))
    trace_id = scenario.spans[0].trace_id
    body = client.get(f"/api/v1/traces/{trace_id}").json()
    assert len(body["spans"]) == len(scenario.spans)
    found = {(e["kind"], e["entity"]): e for e in body["events"]}
    assert {key: found[key]["via"] for key in found if key[0] != "pod_ready"} == {
        ("lag_spike", "partition/tool-responses/3"): ["kafka"],
        ("rate_limit_burst", "model/openai/gpt-4o"): ["llm"],
        ("oom_killed", "pod/agents/research-agent-7d9f8-abcde"): ["pod"],
        ("pod_deleted", "pod/agents/research-agent-7d9f8-abcde"): ["pod"],
        ("pod_rescheduled", "pod/agents/research-agent-7d9f8-fghij"): ["pod"],
    }
    assert not {e["event_id"] for e in body["events"]} & set(scenario.unrelated)
    times = [e["time_unix_nano"] for e in body["events"]]
    assert times == sorted(times)
    lag = found[("lag_spike", "partition/tool-responses/3")]
    consumers = {s.span_id for s in scenario.spans if s.name == "receive tool-responses"}
    assert set(lag["span_ids"]) <= consumers and lag["span_ids"]
    assert lag["attributes"]["oracle.kafka.lag"] == 1840
    store.close()


def test_other_pods_partitions_and_models_are_left_out(tmp_path: Path) -> None:
    scenario = healthy_scenario()
    store = open_store(f"sqlite:///{tmp_path}/healthy.db")
    store.write_spans(scenario.spans)
    store.write_events(scenario.events)
    body = (
        TestClient(create_app(store, dict))
        .get(f"/api/v1/traces/{scenario.spans[0].trace_id}")
        .json()
    )
    # only its own pod becoming ready a minute before: not the other pod's OOM, the other
    # partition's lag or the other model's burst
    assert [(e["kind"], e["via"]) for e in body["events"]] == [("pod_ready", ["pod"])]
    store.close()
