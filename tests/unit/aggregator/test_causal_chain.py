"""Causal chains of realistic scenarios, asserted exactly, and the engine's rules."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import replace

import pytest

from oracle_monitor.aggregator import RULES, CausalChain, ChainConfig, build_causal_chain
from oracle_monitor.model import SpanKind
from oracle_monitor.timestamps import rfc3339
from tests.unit.aggregator.scenarios import (
    ALL,
    RESEARCH,
    RESEARCH_NEW,
    RESEARCH_OTHER,
    T0,
    Scenario,
    TraceBuilder,
    at,
    seed_scenario,
)


def chain_of(scenario: Scenario, config: ChainConfig | None = None) -> CausalChain:
    return build_causal_chain(
        scenario.spans, scenario.events, now_ns=scenario.now_ns, config=config or ChainConfig(),
        consumers=scenario.consumers,
    )  # fmt: skip


def shape(chain: CausalChain) -> list[tuple[str, str, int | None, str | None]]:
    return [(link.kind, link.entity, link.caused_by, link.rule) for link in chain.chain]


@pytest.mark.parametrize("name", sorted(ALL))
def test_scenario_chain_is_exactly_the_expected_one(name: str) -> None:
    scenario = ALL[name]()
    chain = chain_of(scenario)
    assert shape(chain) == scenario.expected
    if scenario.expected:
        assert chain.root_cause is chain.chain[0]
    else:
        assert chain.root_cause is None


def test_seed_chain_kinds_in_order() -> None:
    chain = chain_of(seed_scenario())
    assert [link.kind for link in chain.chain] == [
        "kafka_lag_spike",
        "agent_timeout",
        "retry",
        "llm_rate_limited",
        "oom_killed",
        "pod_rescheduled",
        "task_orphaned",
    ]
    assert chain.root_cause is not None
    assert chain.root_cause.entity == "partition/tool-responses/3"


@pytest.mark.parametrize("name", sorted(ALL))
def test_unrelated_events_are_never_evidence(name: str) -> None:
    scenario = ALL[name]()
    assert scenario.unrelated, "each scenario carries events the engine must ignore"
    evidence = {e for link in chain_of(scenario).chain for e in link.event_ids}
    assert evidence.isdisjoint(scenario.unrelated)


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_arrow_is_explained_and_happens_before(name: str) -> None:
    config = ChainConfig()
    chain = chain_of(ALL[name]())
    times = [link.at_ns for link in chain.chain]
    assert times == sorted(times)
    for position, link in enumerate(chain.chain):
        if link.caused_by is None:
            assert link.rule is None
            continue
        assert link.rule in RULES
        assert 0 <= link.caused_by < position
        gap = link.at_ns - chain.chain[link.caused_by].at_ns
        assert 0 <= gap <= config.causal_window_ns


def test_seed_evidence_names_the_spans_and_events() -> None:
    scenario = seed_scenario()
    chain = chain_of(scenario)
    by_name = {s.span_id: s.name for s in scenario.spans}
    kinds = {e.event_id: e.kind for e in scenario.events}
    lag, timeout, retry, limited, oom, moved, orphan = chain.chain
    assert [kinds[e] for e in lag.event_ids] == ["lag_spike"]
    assert lag.metrics["oracle.kafka.lag"] == 1840
    assert [by_name[s] for s in timeout.span_ids] == [
        "execute_tool web_research",
        "receive tool-responses",
    ]
    assert retry.metrics["attempt"] == 1
    assert [by_name[s] for s in retry.span_ids] == ["execute_tool web_research"]
    assert [by_name[s] for s in limited.span_ids] == ["chat gpt-4o"]
    assert [kinds[e] for e in limited.event_ids] == ["rate_limit_burst"]
    # The killed pod's deletion afterwards is part of its kill, not a step of its own.
    assert [kinds[e] for e in oom.event_ids] == ["oom_killed", "pod_deleted"]
    assert [kinds[e] for e in moved.event_ids] == ["pod_rescheduled"]
    assert sorted(kinds[e] for e in orphan.event_ids) == [
        "oom_killed",
        "pod_deleted",
        "pod_rescheduled",
    ]
    assert orphan.at_ns == at(74.0) + ChainConfig().orphan_timeout_ns
    assert len(orphan.span_ids) == len(scenario.spans)


def test_to_json_shape_and_nanosecond_times() -> None:
    document = chain_of(seed_scenario()).to_json()
    assert set(document) == {"root_cause", "chain", "summary"}
    json.dumps(document)  # serialisable as it is
    first = document["chain"][0]
    assert document["root_cause"] == first
    assert set(first) == {
        "kind", "at", "last_at", "count", "entity", "summary", "evidence", "caused_by", "rule",
    }  # fmt: skip
    assert set(first["evidence"]) == {"span_ids", "event_ids", "metrics"}
    assert first["at"] == "2026-11-27T07:20:20.000000000Z"
    assert document["chain"][1]["at"] == "2026-11-27T07:20:33.900000000Z"
    assert [link["caused_by"] for link in document["chain"]] == [None, 0, 1, 2, 3, 4, 5]
    assert document["summary"].startswith(
        "Root cause: Kafka consumer lag on partition tool-responses/3 (1,840 messages"
    )


def test_rfc3339_keeps_every_nanosecond() -> None:
    assert rfc3339(T0 + 415_123_456_789) == "2026-11-27T07:26:55.123456789Z"
    assert rfc3339(0) == "1970-01-01T00:00:00.000000000Z"


def test_healthy_chain_is_empty() -> None:
    document = chain_of(ALL["healthy"]()).to_json()
    assert document["root_cause"] is None
    assert document["chain"] == []
    assert "healthy" in document["summary"]


def test_input_order_does_not_matter() -> None:
    scenario = seed_scenario()
    expected = chain_of(scenario).to_json()
    shuffled = random.Random(7)
    spans, events = list(scenario.spans), list(scenario.events)
    shuffled.shuffle(spans)
    shuffled.shuffle(events)
    assert chain_of(replace(scenario, spans=spans, events=events)).to_json() == expected


def test_orphan_needs_the_timeout_to_pass() -> None:
    scenario = replace(seed_scenario(), now_ns=at(74.0 + 299.0))
    kinds = [link.kind for link in chain_of(scenario).chain]
    assert kinds[-1] == "pod_rescheduled"
    assert "task_orphaned" not in kinds


def test_orphan_is_not_declared_when_the_task_resumed() -> None:
    scenario = seed_scenario()
    b = TraceBuilder(scenario.spans[0].trace_id, "task-42", "research", RESEARCH_NEW)
    resumed = b.span("chat gpt-4o", 90.0, 95.0, parent=scenario.spans[0].parent_span_id)
    kinds = [
        link.kind for link in chain_of(replace(scenario, spans=[*scenario.spans, resumed])).chain
    ]
    assert "task_orphaned" not in kinds
    assert "pod_rescheduled" in kinds


def test_spans_of_other_agents_after_the_kill_do_not_resume_the_task() -> None:
    scenario = seed_scenario()
    trace = scenario.spans[0].trace_id
    # A listener of the replacement pod drops the task's late tool response (no agent named),
    # and a tool worker answers a request the dead pod sent: neither is the task going on.
    dropped = TraceBuilder(trace, "task-42", "", RESEARCH_NEW).span(
        "process tool-responses", 90.0, 90.1, kind=SpanKind.CONSUMER
    )
    answered = TraceBuilder(trace, "task-42", "tool-worker", RESEARCH_OTHER).span(
        "execute_tool search", 91.0, 91.2
    )
    spans = [*scenario.spans, replace(dropped, agent_name=None), answered]
    chain = chain_of(replace(scenario, spans=spans)).chain
    assert chain[-1].kind == "task_orphaned"
    assert chain[-1].entity == "task/task-42"


def test_work_attributed_to_the_agent_from_another_service_does_not_resume_it() -> None:
    scenario = seed_scenario()
    trace, first = scenario.spans[0].trace_id, scenario.spans[0]
    # The tool worker's answer is attributed to "research" by hierarchy (its parent is a
    # span of the research agent's): still not the research agent at work.
    answered = TraceBuilder(trace, "task-42", "tool-worker", RESEARCH_OTHER).span(
        "execute_tool search", 91.0, 91.2
    )
    inherited = replace(answered, agent_name="research", agent_from=first.span_id)
    chain = chain_of(replace(scenario, spans=[*scenario.spans, inherited])).chain
    assert chain[-1].kind == "task_orphaned"
    # The same span in the research agent's own service is the agent at work again.
    own = replace(inherited, service_name=first.service_name)
    kinds = [link.kind for link in chain_of(replace(scenario, spans=[*scenario.spans, own])).chain]
    assert "task_orphaned" not in kinds


def test_an_orphan_is_named_by_its_task_when_its_first_span_names_none() -> None:
    scenario = seed_scenario()
    first = min(scenario.spans, key=lambda span: span.start_time_ns)
    spans = [replace(s, task_id=None) if s is first else s for s in scenario.spans]
    chain = chain_of(replace(scenario, spans=spans)).chain
    assert chain[-1].kind == "task_orphaned"
    assert chain[-1].entity == "task/task-42"


def test_finished_task_is_never_orphaned() -> None:
    b = TraceBuilder("1" * 32, "task-9", "research", RESEARCH)
    root = b.span("invoke_agent research", 0.0, 10.0)
    b.chat("gpt-4o", 1.0, 2.0, root)
    chain = build_causal_chain(b.spans, [RESEARCH.event("oom_killed", 11.0)], now_ns=at(3600.0))
    assert [link.kind for link in chain.chain] == ["oom_killed"]
    assert chain.root_cause is chain.chain[0]


def test_causal_window_limits_arrows() -> None:
    config = replace(ChainConfig(), causal_window_ns=5_000_000_000)
    chain = chain_of(seed_scenario(), config)
    timeout = chain.chain[1]
    assert timeout.kind == "agent_timeout"
    assert (timeout.caused_by, timeout.rule) == (None, None)  # 13.9 s after the lag spike
    assert chain.root_cause is chain.chain[0]
    assert "more problem(s) unexplained" in chain.summary


def _single(build: Callable[[TraceBuilder], None]) -> list[str]:
    b = TraceBuilder("2" * 32, "task-7", "research", RESEARCH)
    build(b)
    return [link.kind for link in build_causal_chain(b.spans, [], now_ns=at(600.0)).chain]


def test_long_wait_span_is_a_timeout_and_a_short_one_is_not() -> None:
    def long_wait(b: TraceBuilder) -> None:
        root = b.span("invoke_agent research", 0.0, 60.0)
        b.span("receive tool-responses", 1.0, 31.0, parent=root, kind=SpanKind.CONSUMER)

    def short_wait(b: TraceBuilder) -> None:
        root = b.span("invoke_agent research", 0.0, 60.0)
        b.span("receive tool-responses", 1.0, 30.9, parent=root, kind=SpanKind.CONSUMER)

    assert _single(long_wait) == ["agent_timeout"]
    assert _single(short_wait) == []


def test_retry_from_siblings_and_from_sdk_attribute() -> None:
    def siblings(b: TraceBuilder) -> None:
        root = b.span("invoke_agent research", 0.0, 60.0)
        b.span("execute_tool fetch", 1.0, 2.0, parent=root, error="connection reset")
        b.span("execute_tool fetch", 3.0, 4.0, parent=root)
        b.span("execute_tool fetch", 5.0, 6.0, parent=root)

    def sdk(b: TraceBuilder) -> None:
        root = b.span("invoke_agent research", 0.0, 60.0)
        b.span("POST /v1/chat/completions", 1.0, 2.0, parent=root,
               oracle__llm__retry_attempt=2)  # fmt: skip

    assert _single(siblings) == ["retry"]
    assert _single(sdk) == ["retry"]


def test_llm_error_and_memory_pressure_from_spans() -> None:
    def failing(b: TraceBuilder) -> None:
        root = b.span("invoke_agent research", 0.0, 60.0)
        b.span("chat gpt-4o", 1.0, 2.0, parent=root, error="Internal server error",
               error_type="InternalServerError", gen_ai__provider__name="openai",
               gen_ai__request__model="gpt-4o")  # fmt: skip
        b.span("execute_tool parse", 3.0, 4.0, parent=root,
               oracle__k8s__memory__utilization=0.95)  # fmt: skip

    assert _single(failing) == ["llm_error", "memory_pressure"]


def test_a_call_whose_caller_went_away_is_no_llm_error() -> None:
    def abandoned(b: TraceBuilder) -> None:  # the proxy's span of an OOM-killed agent's call
        root = b.span("invoke_agent research", 0.0, 60.0)
        b.span("chat gpt-4o-mini", 1.0, 2.0, parent=root,
               error="the client went away mid-response", error_type="client_disconnected",
               gen_ai__provider__name="openai", gen_ai__request__model="gpt-4o-mini")  # fmt: skip

    assert _single(abandoned) == []


def test_a_replacement_running_before_the_task_began_is_no_cause() -> None:
    # The research pod was replaced a minute before the task: the task ran on the new pod.
    b = TraceBuilder("d1" * 16, "task-50", "research", RESEARCH_NEW)
    root = b.span("invoke_agent research", 100.0, 110.0)
    b.chat("gpt-4o", 101.0, 102.0, root)
    moved = RESEARCH_NEW.event(
        "pod_rescheduled", 40.0, f"{RESEARCH_NEW.name} replaces {RESEARCH.name}",
        **{"oracle.k8s.replaced_pod.name": RESEARCH.name,
           "oracle.k8s.replaced_pod.uid": RESEARCH.uid},
    )  # fmt: skip
    killed = RESEARCH.event("oom_killed", 38.0)  # the old pod, which the task never touched
    chain = build_causal_chain(b.spans, [killed, moved], now_ns=at(3600.0))
    assert chain.chain == [] and chain.root_cause is None
