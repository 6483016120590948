"""A causal chain told as one short story: repeats folded, the summary in plain words. Pure.

`fold` turns the links of a chain into steps: every link of the same kind on the same entity
joins the first such link (a task that times out, retries, is rate limited and retries again
reads as one timeout, one retry and one rate limit, each with its count, first and last time
and all the evidence), and a pod's ``container_restarted`` links join its ``crash_loop``,
``config_error`` or ``oom_killed`` when it has one (the restarts are the loop, or the kill),
as its ``pod_deleted`` joins its kill, eviction or crash loop (the pod is cleared away after).
A step keeps the cause of its first link whose cause is an earlier step.

`summary` says what happened, cause first, naming the entities and their figures (lag,
429s, memory against its limit, how many times).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from oracle_monitor.model import AttributeValue
from oracle_monitor.timestamps import rfc3339

__all__ = ["Step", "fold", "phrase", "summary"]

#: A link kind that joins a link of another kind on the same entity, when there is one.
_JOINS: Final[dict[str, tuple[str, ...]]] = {
    "container_restarted": ("crash_loop", "config_error", "oom_killed"),
    "pod_deleted": ("oom_killed", "pod_evicted", "crash_loop", "config_error"),
    # A node's loss, as the node controller reports it after NotReady, is the same loss.
    "node_unreachable": ("node_not_ready",),
    "node_deleted": ("node_not_ready",),
}


@dataclass(slots=True)
class Step:
    """Links of one kind on one entity, folded; ``at_ns`` is the first one's time."""

    kind: str
    at_ns: int
    entity: str
    summary: str
    last_at_ns: int
    count: int = 0
    span_ids: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    metrics: dict[str, AttributeValue] = field(default_factory=dict)
    caused_by: int | None = None
    rule: str | None = None


def fold(links: Sequence[Any]) -> list[Step]:
    """The steps of ``links`` (time-ordered `ChainLink`-like objects whose ``caused_by`` are
    indices into ``links``), in the order of their first link."""
    present = {(link.kind, link.entity) for link in links}
    steps: list[Step] = []
    named: list[bool] = []  # whether a step's summary is a link of its own kind's
    where: dict[tuple[str, str], int] = {}
    step_of: list[int] = []
    for link in links:
        joins = _JOINS.get(link.kind, ())
        kind = next((k for k in joins if (k, link.entity) in present), link.kind)
        position = where.get((kind, link.entity))
        if position is None:
            position = where[(kind, link.entity)] = len(steps)
            steps.append(Step(kind, link.at_ns, link.entity, link.summary, link.at_ns))
            named.append(link.kind == kind)
        step = steps[position]
        if link.kind == kind and not named[position]:
            step.summary, named[position] = link.summary, True
        step.count += 1
        step.last_at_ns = max(step.last_at_ns, link.at_ns)
        step.span_ids += [s for s in link.span_ids if s not in step.span_ids]
        step.event_ids += [e for e in link.event_ids if e not in step.event_ids]
        for name, value in link.metrics.items():
            step.metrics[name] = _larger(step.metrics.get(name), value)
        step_of.append(position)
    for number, link in enumerate(links):
        position = step_of[number]
        step = steps[position]
        if step.caused_by is None and link.caused_by is not None:
            cause = step_of[link.caused_by]
            if cause < position:
                step.caused_by, step.rule = cause, link.rule
    return steps


def _larger(old: AttributeValue, new: AttributeValue) -> AttributeValue:
    if _is_number(old) and _is_number(new):
        return max(old, new)  # type: ignore[type-var]
    return new if old is None else old


def _is_number(value: AttributeValue) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _figure(metrics: dict[str, AttributeValue], *keys: str) -> float | None:
    for key in keys:
        value = metrics.get(key)
        if _is_number(value):
            return float(value)  # type: ignore[arg-type]
    return None


def _name(entity: str) -> str:
    """``pod/agents/research-0`` as ``pod agents/research-0``; a model without its prefix."""
    kind, _, rest = entity.partition("/")
    if not rest:
        return entity
    return rest if kind in ("model", "agent") else f"{kind.replace('_', ' ')} {rest}"


def _times(step: Step) -> str:
    return f" ({step.count} times)" if step.count > 1 else ""


def _lag(step: Step) -> str:
    lag = _figure(step.metrics, "oracle.kafka.lag")
    seconds = _figure(step.metrics, "oracle.kafka.lag_seconds", "oracle.kafka.lag_spike_seconds")
    figures = [f"{lag:,.0f} messages" if lag is not None else "",
               f"{seconds:.1f} s behind" if seconds is not None else ""]  # fmt: skip
    shown = ", ".join(f for f in figures if f)
    return f"Kafka consumer lag on {_name(step.entity)}" + (f" ({shown})" if shown else "")


def _memory(step: Step, what: str) -> str:
    ratio = _figure(step.metrics, "memory_ratio", "k8s.pod.memory.utilization")
    usage = _figure(step.metrics, "k8s.container.memory.usage", "k8s.pod.memory.usage")
    limit = _figure(step.metrics, "k8s.container.memory.limit", "k8s.pod.memory.limit")
    if ratio is None and usage is not None and limit:
        ratio = usage / limit
    against = f" at {ratio:.0%} of its memory limit" if ratio is not None else ""
    return f"{_name(step.entity)} {what}{against}"


def _restarts(step: Step, what: str) -> str:
    restarts = _figure(step.metrics, "k8s.container.restart_count")
    count = f" ({restarts:.0f} restarts)" if restarts else _times(step)
    return f"{_name(step.entity)} {what}{count}"


def _rate_limited(step: Step) -> str:
    per_minute = _figure(step.metrics, "rate_limited_calls_per_minute")
    burst = f", {per_minute:.0f} calls a minute" if per_minute else ""
    answers = max(step.count, len(step.span_ids))  # each 429 span is one answer
    times = f" {answers} times" if answers > 1 else ""
    return f"{_name(step.entity)} answered 429{times} (rate limited{burst})"


_PHRASES: Final[dict[str, Callable[[Step], str]]] = {
    "kafka_lag_spike": _lag,
    "consumer_stalled": lambda s: f"{_name(s.entity)} stalled",
    "dlq_growth": lambda s: f"dead letters piled up on {_name(s.entity)}{_times(s)}",
    "agent_timeout": lambda s: f"{_name(s.entity)} timed out waiting{_times(s)}",
    "retry": lambda s: f"{_name(s.entity)} retried{_times(s)}",
    "llm_rate_limited": _rate_limited,
    "llm_quota_exhausted": lambda s: f"the quota of {_name(s.entity)} ran out",
    "llm_error": lambda s: f"calls to {_name(s.entity)} failed{_times(s)}",
    "memory_pressure": lambda s: _memory(s, "ran short of memory"),
    "oom_killed": lambda s: _memory(s, "was OOM-killed"),
    "container_restarted": lambda s: _restarts(s, "restarted"),
    "crash_loop": lambda s: _restarts(s, "crash-looped"),
    "config_error": lambda s: _restarts(s, "failed on its configuration"),
    "image_pull_backoff": lambda s: f"{_name(s.entity)} could not pull its image",
    "failed_scheduling": lambda s: f"{_name(s.entity)} could not be scheduled",
    "pod_evicted": lambda s: f"{_name(s.entity)} was evicted",
    "pod_deleted": lambda s: f"{_name(s.entity)} was deleted",
    "pod_rescheduled": lambda s: f"{_name(s.entity)} took its place",
    "broker_unreachable": lambda s: f"the Kafka broker {s.entity.partition('/')[2]} was down",
    "node_not_ready": lambda s: f"{_name(s.entity)} went down (NotReady)",
    "node_unreachable": lambda s: f"{_name(s.entity)} became unreachable",
    "node_deleted": lambda s: f"{_name(s.entity)} was removed from the cluster",
    "task_failed": lambda s: f"{_name(s.entity)} failed",
    "task_orphaned": lambda s: f"{_name(s.entity)} was orphaned",
}


def phrase(step: Step) -> str:
    """What happened in ``step``, in a few plain words with its figures."""
    words = _PHRASES.get(step.kind)
    told = (
        words(step)
        if words is not None
        else f"{step.kind.replace('_', ' ')} on {_name(step.entity)}{_times(step)}"
    )
    if step.rule == "starved_consumer_group":
        return f"with no pod of the consumer group running, {told}"
    return told


def summary(steps: Sequence[Step]) -> str:
    """The chain in one or two sentences, root cause first."""
    root = next((step for step in steps if step.caused_by is None), None)
    if root is None:
        return "No problem found: the trace is healthy."
    rest = [phrase(step) for step in steps if step is not root]
    text = f"Root cause: {phrase(root)}, at {rfc3339(root.at_ns)[11:19]} UTC."
    if len(rest) == 1:
        text += f" Then {rest[0]}."
    elif rest:
        text += f" Then {'; '.join(rest[:-1])}; and {rest[-1]}."
    unexplained = sum(1 for step in steps if step.caused_by is None) - 1
    if unexplained > 0:
        text += f" {unexplained} more problem(s) unexplained."
    return text
