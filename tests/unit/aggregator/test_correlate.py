"""Span ↔ event correlation: by pod, Kafka entity and LLM model, within margins."""

from __future__ import annotations

from dataclasses import replace

from oracle_monitor.aggregator.correlate import (
    ChainConfig,
    SpanIndex,
    correlate,
    dlq_base,
)
from oracle_monitor.model import InfraEvent, Span, SpanKind
from tests.unit.aggregator.scenarios import (
    RESEARCH,
    RESEARCH_NEW,
    RESEARCH_OTHER,
    Pod,
    TraceBuilder,
    at,
    consumer_attrs,
    lag_spike,
    llm_event,
)

CONFIG = ChainConfig()


def builder(pod: Pod = RESEARCH) -> TraceBuilder:
    return TraceBuilder("0123456789abcdef0123456789abcdef", "task-1", "research", pod)


def matched(span: Span, events: list[InfraEvent], now: float = 600.0, **config: int) -> set[str]:
    """The kinds@entity of the events that correlate with ``span`` (a one-span closed task)."""
    result = correlate([span], events, now_ns=at(now), config=replace(CONFIG, **config))
    return {
        f"{result.events[m.event_id].kind}@{result.events[m.event_id].entity}/{m.via}"
        for m in result.by_span.get(span.span_id, [])
    }


def test_pod_by_uid_ignores_a_namesake_pod_with_another_uid() -> None:
    span = builder().span("invoke_agent research", 0.0, 10.0)
    namesake = Pod(RESEARCH.name, "ffffffff-0000-4000-8000-000000000000")
    events = [RESEARCH.event("oom_killed", 5.0), namesake.event("pod_evicted", 6.0)]
    assert matched(span, events) == {f"oom_killed@{RESEARCH.entity}/pod"}


def test_pod_by_name_and_namespace_without_uid() -> None:
    span = builder().span("invoke_agent research", 0.0, 10.0)
    span.resource.pop("k8s.pod.uid")
    other_namespace = Pod(RESEARCH.name, "", namespace="staging")
    events = [RESEARCH.event("oom_killed", 5.0), other_namespace.event("pod_evicted", 6.0)]
    assert matched(span, events) == {f"oom_killed@{RESEARCH.entity}/pod"}


def test_pod_by_host_name_as_last_resort() -> None:
    span = builder().span("invoke_agent research", 0.0, 10.0)
    for key in ("k8s.pod.uid", "k8s.pod.name", "k8s.namespace.name"):
        span.resource.pop(key)
        span.attributes.pop(key, None)
    span.pod_name = span.namespace = None
    events = [RESEARCH.event("oom_killed", 5.0), RESEARCH_OTHER.event("oom_killed", 5.0)]
    assert matched(span, events) == {f"oom_killed@{RESEARCH.entity}/pod"}


def test_pod_events_within_the_margin_only() -> None:
    span = builder().span("invoke_agent research", 100.0, 110.0)
    events = [
        RESEARCH.event("oom_killed", 100.0 - 120.0),  # exactly the margin before
        RESEARCH.event("container_restarted", 110.0 + 121.0),  # just past the margin after
        RESEARCH.event("crash_loop", 105.0),
    ]
    assert matched(span, events) == {
        f"oom_killed@{RESEARCH.entity}/pod",
        f"crash_loop@{RESEARCH.entity}/pod",
    }
    assert matched(span, events, pod_margin_ns=1) == {f"crash_loop@{RESEARCH.entity}/pod"}


def test_open_task_keeps_its_pods_events_until_now() -> None:
    b = builder()
    root = b.span("invoke_agent research", 0.0, 0.0, keep=False)
    child = b.span("chat", 1.0, 2.0, parent=root)
    late = RESEARCH.event("oom_killed", 500.0)
    result = correlate([child], [late], now_ns=at(600.0), config=CONFIG)
    assert result.index.is_open
    assert [m.event_id for m in result.by_span[child.span_id]] == [late.event_id]
    assert correlate([child], [late], now_ns=at(400.0), config=CONFIG).events == {}


def test_rescheduled_event_matches_the_replaced_pods_spans() -> None:
    span = builder().span("invoke_agent research", 0.0, 10.0)
    moved = RESEARCH_NEW.event(
        "pod_rescheduled", 12.0, **{"oracle.k8s.replaced_pod.name": RESEARCH.name,
                                    "oracle.k8s.replaced_pod.uid": RESEARCH.uid},
    )  # fmt: skip
    unrelated = RESEARCH_NEW.event("pod_rescheduled", 12.0, **{
        "oracle.k8s.replaced_pod.name": RESEARCH_OTHER.name,
        "oracle.k8s.replaced_pod.uid": RESEARCH_OTHER.uid,
    })  # fmt: skip
    unrelated.event_id = "other"
    assert matched(span, [moved, unrelated]) == {f"pod_rescheduled@{RESEARCH_NEW.entity}/pod"}


def test_consumer_span_matches_its_partition_and_group() -> None:
    span = builder().span(
        "receive tool-responses", 0.0, 30.0, kind=SpanKind.CONSUMER,
        messaging=consumer_attrs("tool-responses", 3, "research-agents"),
    )  # fmt: skip
    stalled = InfraEvent(
        at(10.0),
        "kafka",
        "consumer_status_changed",
        "consumer_group/research-agents",
        attributes={"oracle.kafka.status": "STALL"},
    )
    events = [
        lag_spike(10.0, "tool-responses", 3, "research-agents", 100),
        lag_spike(10.0, "tool-responses", 4, "research-agents", 100),
        lag_spike(11.0, "tool-responses", 3, "billing", 100),
        lag_spike(12.0, "tool-requests", 3, "research-agents", 100),
        lag_spike(400.0, "tool-responses", 3, "research-agents", 100),
        stalled,
    ]  # fmt: skip
    assert matched(span, events) == {
        "lag_spike@partition/tool-responses/3/kafka",
        "consumer_status_changed@consumer_group/research-agents/kafka",
    }


def test_span_without_partition_matches_every_partition_of_its_topic() -> None:
    span = builder().span("send tasks", 0.0, 1.0, kind=SpanKind.PRODUCER,
                          messaging__destination__name="tasks")  # fmt: skip
    events = [lag_spike(5.0, "tasks", 0, "g", 9), lag_spike(5.0, "tasks", 7, "g", 9)]
    assert matched(span, events) == {
        "lag_spike@partition/tasks/0/kafka",
        "lag_spike@partition/tasks/7/kafka",
    }


def test_dead_letter_topic_belongs_to_its_source_topic() -> None:
    assert dlq_base("tasks.dlq") == "tasks"
    assert dlq_base("tasks-DLQ") == "tasks"
    assert dlq_base("tasks") == ""
    span = builder().span("process tasks", 0.0, 1.0, kind=SpanKind.CONSUMER,
                          messaging=consumer_attrs("tasks", 1, "workers"))  # fmt: skip
    dlq = InfraEvent(at(30.0), "kafka", "dlq_growth", "topic/tasks.dlq")
    other = InfraEvent(at(30.0), "kafka", "dlq_growth", "topic/payments.dlq")
    assert matched(span, [dlq, other]) == {"dlq_growth@topic/tasks.dlq/kafka"}


def test_llm_span_matches_its_provider_model_and_agent() -> None:
    span = builder().chat("gpt-4o", 0.0, 1.0, "")
    events = [
        llm_event("rate_limit_burst", 2.0, "openai", "gpt-4o", "research"),
        llm_event("rate_limit_burst", 2.0, "openai", "gpt-4o-mini", "research"),
        llm_event("rate_limit_burst", 3.0, "anthropic", "gpt-4o", "research"),
        llm_event("quota_exhausted", 2.0, "openai", "gpt-4o", "billing"),
        llm_event("quota_exhausted", 200.0, "openai", "gpt-4o", "research"),
    ]
    assert matched(span, events) == {"rate_limit_burst@model/openai/gpt-4o/llm"}


def test_llm_event_naming_the_span_matches_whatever_the_time() -> None:
    span = builder().chat("gpt-4o", 0.0, 1.0, "")
    late = llm_event("quota_exhausted", 900.0, "openai", "gpt-4o", "research", span.span_id)
    assert matched(span, [late]) == {"quota_exhausted@model/openai/gpt-4o/llm"}


def test_non_llm_non_messaging_span_gets_only_pod_events() -> None:
    span = builder().span("execute_tool web_search", 0.0, 10.0)
    events = [
        lag_spike(5.0, "tool-responses", 3, "research-agents", 100),
        llm_event("rate_limit_burst", 5.0, "openai", "gpt-4o", "research"),
        RESEARCH.event("oom_killed", 5.0),
    ]
    assert matched(span, events) == {f"oom_killed@{RESEARCH.entity}/pod"}


def test_span_index_tree_and_root() -> None:
    b = builder()
    root = b.span("invoke_agent research", 0.0, 10.0)
    tool = b.span("execute_tool", 1.0, 5.0, parent=root)
    call = b.span("chat", 2.0, 3.0, parent=tool)
    index = SpanIndex.build(b.spans)
    assert index.root is root
    assert not index.is_open
    assert index.descendants([tool.span_id]) == {tool.span_id, call.span_id}
    assert index.ancestors(call.span_id) == [tool.span_id, root.span_id]
    opened = SpanIndex.build([tool, call])
    assert opened.root is None
    assert opened.is_open
    assert opened.ancestors(call.span_id) == [tool.span_id]
