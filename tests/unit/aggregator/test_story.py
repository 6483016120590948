"""Chains told as short stories: repeats folded into one step with a count, restarts into their
crash loop, causes kept in order, and the summary in plain words with the figures."""

from __future__ import annotations

from oracle_monitor.aggregator.causal import ChainLink
from oracle_monitor.aggregator.story import fold, summary

S = 1_000_000_000
T0 = 1_795_764_000 * S


def link(
    kind: str,
    at_s: float,
    entity: str,
    caused_by: int | None = None,
    rule: str | None = None,
    metrics: dict[str, float] | None = None,
) -> ChainLink:
    return ChainLink(kind, T0 + int(at_s * S), entity, f"{kind} seen", [f"{int(at_s):016x}"],
                     [f"e{at_s}"], dict(metrics or {}), caused_by, rule)  # fmt: skip


def test_the_demo_cascade_reads_as_its_seven_steps() -> None:
    # What the demo's orphaned task produced before folding: eleven links.
    links = [
        link(
            "kafka_lag_spike",
            0,
            "partition/tool-responses/0",
            metrics={"oracle.kafka.lag": 40.0, "oracle.kafka.lag_seconds": 5.5},
        ),
        link("agent_timeout", 10, "agent/research", 0, "kafka_entity_of_span"),
        link("retry", 11, "agent/research", 1, "retry_after_error"),
        link("llm_rate_limited", 12, "model/openai/gpt-4o", 2, "child_of"),
        link("retry", 13, "agent/research", 3, "retry_after_error"),
        link("retry", 14, "agent/research", 4, "same_entity"),
        link("retry", 15, "agent/research", 5, "same_entity"),
        link("agent_timeout", 20, "agent/research", 6, "same_entity"),
        link("retry", 21, "agent/research", 7, "retry_after_error"),
        link(
            "oom_killed",
            30,
            "pod/agents/research-0",
            8,
            "pod_of_span",
            metrics={"k8s.container.memory.usage": 500.0, "k8s.container.memory.limit": 512.0},
        ),
        link("pod_rescheduled", 31, "pod/agents/research-1", 9, "replaced_pod"),
        link("task_orphaned", 331, "task/task-42", 10, "pod_of_span"),
    ]
    steps = fold(links)
    assert [(s.kind, s.count, s.caused_by, s.rule) for s in steps] == [
        ("kafka_lag_spike", 1, None, None),
        ("agent_timeout", 2, 0, "kafka_entity_of_span"),
        ("retry", 5, 1, "retry_after_error"),
        ("llm_rate_limited", 1, 2, "child_of"),
        ("oom_killed", 1, 2, "pod_of_span"),  # its link's cause, a retry, is the retry step
        ("pod_rescheduled", 1, 4, "replaced_pod"),
        ("task_orphaned", 1, 5, "pod_of_span"),
    ]
    retry = steps[2]
    assert (retry.at_ns, retry.last_at_ns) == (T0 + 11 * S, T0 + 21 * S)
    assert len(retry.span_ids) == 5 and len(retry.event_ids) == 5
    text = summary(steps)
    assert text.startswith(
        "Root cause: Kafka consumer lag on partition tool-responses/0 (40 messages, 5.5 s behind)"
    )
    assert "research timed out waiting (2 times)" in text
    assert "research retried (5 times)" in text
    assert "pod agents/research-0 was OOM-killed at 98% of its memory limit" in text
    assert text.endswith("and task task-42 was orphaned.")


def test_restarts_join_the_crash_loop_of_their_pod() -> None:
    pod = "pod/agents/writer-0"
    links = [
        link("container_restarted", 0, pod, metrics={"k8s.container.restart_count": 1.0}),
        link("container_restarted", 30, pod, 0, "same_entity",
             metrics={"k8s.container.restart_count": 2.0}),
        link("crash_loop", 31, pod, 1, "same_entity", metrics={"k8s.container.restart_count": 3.0}),
        link("container_restarted", 60, "pod/agents/other-0"),
        link("task_orphaned", 400, "task/task-9", 2, "pod_of_span"),
    ]  # fmt: skip
    steps = fold(links)
    assert [(s.kind, s.entity, s.count, s.caused_by) for s in steps] == [
        ("crash_loop", pod, 3, None),
        ("container_restarted", "pod/agents/other-0", 1, None),
        ("task_orphaned", "task/task-9", 1, 0),
    ]
    assert steps[0].summary == "crash_loop seen"  # the loop's own words, not a restart's
    assert steps[0].at_ns == T0  # from its first restart
    assert summary(steps).startswith(
        "Root cause: pod agents/writer-0 crash-looped (3 restarts), at"
    )
    assert "1 more problem(s) unexplained" in summary(steps)


def test_a_step_is_never_caused_by_a_later_one() -> None:
    links = [
        link("retry", 0, "agent/a"),
        link("llm_rate_limited", 5, "model/openai/gpt-4o"),
        link("retry", 6, "agent/a", 1, "child_of"),  # the rate limit comes after the first retry
    ]
    steps = fold(links)
    assert [(s.kind, s.caused_by) for s in steps] == [("retry", None), ("llm_rate_limited", None)]
