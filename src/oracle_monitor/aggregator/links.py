"""The links of a causal chain: what went wrong, found in spans and correlated events. Pure.

Each `Link` is one problem with the spans and events that show it. Spans and events that show
the same problem make one link: every ``429`` of one provider's model and its
``rate_limit_burst`` events are one ``llm_rate_limited``; repeated events of one kind on one
entity are one link at the first; a timed-out span whose ancestors time out with it is one
``agent_timeout``; the retries of one operation under one parent are one ``retry``.

Span links (time: when the problem showed — a span's end, a retry's start):

* ``agent_timeout`` — an ERROR span whose ``error.type``, status message or exception event
  says timeout (``timeout``, ``timed out``, ``deadline exceeded``), or a tool
  (``gen_ai.operation.name=execute_tool``) or CONSUMER span lasting ``timeout_ns`` or more.
* ``retry`` — ``retry.attempt``/``oracle.retry.attempt``/``oracle.llm.retry_attempt``/
  ``http.request.resend_count`` > 0, or a span with the same name and parent as an earlier
  ERROR sibling that ended before it started.
* ``llm_quota_exhausted`` / ``llm_rate_limited`` / ``llm_error`` — LLM spans (with a provider
  or model) that failed for want of quota (``insufficient_quota``…, even when sent as a 429),
  were rate limited, or failed otherwise (timeouts excepted: those are ``agent_timeout``; so
  are calls the LLM proxy recorded as ``error.type=client_disconnected``: the caller went
  away mid-response, killed or cancelled, which its own spans and events show, not the model).
* ``memory_pressure`` — a span reporting ``oracle.k8s.memory.utilization`` or
  ``k8s.container.memory.usage``/``k8s.container.memory.limit`` at ``memory_pressure_ratio``
  or more.
* ``task_failed`` — the task's root span has ERROR status.
* ``task_orphaned`` — the task's root span never arrived, the process it ran in died or its
  pod went away (``oom_killed``, ``container_restarted``, ``crash_loop``, ``pod_evicted``,
  ``pod_deleted``, ``pod_rescheduled`` of it), the task's
  agents did no more work after that (no span of theirs — one naming an agent of the task's
  earlier spans, or any span when none names an agent — started later: a tool worker's late
  answer or another listener skipping the task's message is no resumption), and
  ``orphan_timeout_ns`` has passed by ``now_ns``; its time is the last departure plus
  ``orphan_timeout_ns`` (when it became an orphan).

Event links (correlated events only): ``lag_spike`` → ``kafka_lag_spike``;
``broker_unreachable`` (the Kafka spans that ran during the outage);
``consumer_status_changed`` to STALL/STOP/ERR → ``consumer_stalled``; ``dlq_growth``;
``rate_limit_burst`` → ``llm_rate_limited``; ``quota_exhausted`` → ``llm_quota_exhausted``;
``memory_pressure``, ``oom_killed``, ``container_restarted``, ``crash_loop``,
``config_error``, ``image_pull_backoff``, ``failed_scheduling``, ``pod_evicted``,
``pod_deleted`` and ``pod_rescheduled`` under their own names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from oracle_monitor.aggregator.correlate import (
    ChainConfig,
    Correlation,
    attr,
    event_pods,
    span_pod,
    text,
)
from oracle_monitor.genai import CLIENT_DISCONNECTED
from oracle_monitor.model import AttributeValue, InfraEvent, Span, SpanKind

#: Error types that mean the account, not the request, is out of credit.
QUOTA_ERRORS = frozenset({"insufficient_quota", "billing_error", "quota_exceeded"})
TIMEOUT_WORDS = ("timeout", "timed out", "deadline exceeded", "deadlineexceeded")
RETRY_ATTRIBUTES = (
    "retry.attempt",
    "oracle.retry.attempt",
    "oracle.llm.retry_attempt",
    "http.request.resend_count",
)
STALLED = frozenset({"STALL", "STOP", "ERR"})
#: Infrastructure event kinds that are links, and the link kind they make.
EVENT_LINKS = {
    "lag_spike": "kafka_lag_spike",
    "dlq_growth": "dlq_growth",
    "rate_limit_burst": "llm_rate_limited",
    "quota_exhausted": "llm_quota_exhausted",
    "broker_unreachable": "broker_unreachable",
    **{
        kind: kind
        for kind in (
            "memory_pressure",
            "oom_killed",
            "container_restarted",
            "crash_loop",
            "config_error",
            "image_pull_backoff",
            "failed_scheduling",
            "pod_evicted",
            "pod_deleted",
            "pod_rescheduled",
            "node_not_ready",
            "node_unreachable",
            "node_deleted",
        )
    },
}
#: Event attributes copied into a link's metrics.
METRIC_PREFIXES = (
    "oracle.kafka.lag",
    "oracle.kafka.dlq",
    "k8s.container.restart",
    "k8s.pod.memory",
    "k8s.container.memory",
)
#: Pod events after which a task's pod is gone.
POD_GONE = frozenset(
    {"oom_killed", "pod_evicted", "pod_deleted", "pod_rescheduled", "container_restarted",
     "crash_loop", "node_not_ready", "node_unreachable", "node_deleted"}
)  # fmt: skip


@dataclass(slots=True)
class Link:
    """One problem, before the causal rules connect it."""

    kind: str
    at_ns: int
    entity: str
    summary: str
    span_ids: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    metrics: dict[str, AttributeValue] = field(default_factory=dict)


def _number(value: AttributeValue) -> float:
    if isinstance(value, bool) or value is None:
        return 0.0
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _is_timeout(span: Span) -> bool:
    if not span.is_error:
        return False
    words = [text(attr(span, "error.type")), span.status_message]
    for event in span.events:
        if event.name == "exception":
            words.append(text(event.attributes.get("exception.type")))
            words.append(text(event.attributes.get("exception.message")))
    joined = " ".join(words).lower()
    return any(word in joined for word in TIMEOUT_WORDS)


def _is_quota(span: Span) -> bool:
    error = text(attr(span, "error.type")).lower()
    return error in QUOTA_ERRORS or "insufficient_quota" in span.status_message.lower()


def _client_went_away(span: Span) -> bool:
    """The LLM proxy's span of a call whose caller left before the answer was sent."""
    return text(attr(span, "error.type")) == CLIENT_DISCONNECTED


def _is_wait(span: Span) -> bool:
    tool = text(attr(span, "gen_ai.operation.name")) == "execute_tool"
    return tool or span.kind == SpanKind.CONSUMER


def _agent_entity(span: Span) -> str:
    if span.agent_name:
        return f"agent/{span.agent_name}"
    return f"service/{span.service_name}"


def _model_entity(span: Span) -> str:
    return f"model/{span.provider or 'unknown'}/{span.model or 'unknown'}"


def _task_entity(spans: Iterable[Span]) -> str:
    """``task/<id>`` of the first span naming a task, else ``trace/<id>`` of the first span."""
    spans = list(spans)
    for span in spans:
        if span.task_id:
            return f"task/{span.task_id}"
    return f"trace/{spans[0].trace_id}" if spans else "task/unknown"


class _Grouper:
    """Collects spans and events into links keyed by (kind, entity, group)."""

    def __init__(self) -> None:
        self.links: dict[tuple[str, str, str], Link] = {}

    def add(
        self,
        kind: str,
        entity: str,
        at_ns: int,
        summary: str,
        key: str = "",
        metrics: dict[str, float] | None = None,
    ) -> Link:
        link = self.links.get((kind, entity, key))
        if link is None:
            link = self.links[(kind, entity, key)] = Link(kind, at_ns, entity, summary)
        elif at_ns < link.at_ns:
            link.at_ns, link.summary = at_ns, summary
        for name, value in (metrics or {}).items():
            link.metrics[name] = max(_number(link.metrics.get(name)), value)
        return link

    def span(self, kind: str, entity: str, span: Span, at_ns: int, summary: str) -> Link:
        link = self.add(kind, entity, at_ns, summary)
        if span.span_id not in link.span_ids:
            link.span_ids.append(span.span_id)
        return link


def detect_links(correlation: Correlation, *, now_ns: int, config: ChainConfig) -> list[Link]:
    """Every problem the spans and correlated events show, unconnected, in time order."""
    grouper = _Grouper()
    _span_links(grouper, correlation, config)
    _event_links(grouper, correlation)
    orphan = _orphan_link(correlation, now_ns, config)
    links = list(grouper.links.values()) + ([orphan] if orphan else [])
    for link in links:
        link.span_ids.sort(key=lambda s: (correlation.index.spans[s].start_time_ns, s))
        link.event_ids.sort(key=lambda e: (correlation.events[e].time_ns, e))
    return sorted(links, key=lambda link: (link.at_ns, link.kind, link.entity))


def _span_links(grouper: _Grouper, correlation: Correlation, config: ChainConfig) -> None:
    index = correlation.index
    root = index.root
    timeouts: dict[str, Span] = {}
    for span in index.spans.values():
        if root is not None and span is root:
            if span.is_error:
                summary = f"task failed: {span.name}: {span.status_message or 'error'}"
                grouper.span("task_failed", _task_entity([span]), span, span.end_time_ns, summary)
            continue
        llm = bool(span.provider or span.model)
        if llm and span.is_error and _is_quota(span):
            grouper.span(
                "llm_quota_exhausted", _model_entity(span), span, span.end_time_ns,
                f"{span.provider} quota exhausted for {span.model}",
            )  # fmt: skip
        elif llm and span.rate_limited:
            grouper.span(
                "llm_rate_limited", _model_entity(span), span, span.end_time_ns,
                f"{span.provider} {span.model} rate limited (429)",
            )  # fmt: skip
        elif _is_timeout(span) or (_is_wait(span) and span.duration_ns >= config.timeout_ns):
            timeouts[span.span_id] = span
        elif llm and span.is_error and not _client_went_away(span):
            grouper.span(
                "llm_error", _model_entity(span), span, span.end_time_ns,
                f"{span.provider} {span.model} failed: {span.status_message or 'error'}",
            )  # fmt: skip
        _memory_link(grouper, span, config)
    _timeout_links(grouper, correlation, timeouts)
    _retry_links(grouper, correlation)


def _timeout_links(grouper: _Grouper, correlation: Correlation, timeouts: dict[str, Span]) -> None:
    """One link per innermost timed-out span; timed-out ancestors join their descendant's."""
    index = correlation.index
    absorbed = {a for s in timeouts for a in index.ancestors(s) if a in timeouts}
    for span in sorted(timeouts.values(), key=lambda s: (s.end_time_ns, s.span_id)):
        if span.span_id in absorbed:
            continue
        seconds = span.duration_ns / 1e9
        link = grouper.add(
            "agent_timeout", _agent_entity(span), span.end_time_ns,
            f"{span.name} timed out after {seconds:.1f}s", key=span.span_id,
            metrics={"duration_s": seconds},
        )  # fmt: skip
        link.span_ids.append(span.span_id)
        link.span_ids += [a for a in index.ancestors(span.span_id) if a in timeouts]


def _retry_links(grouper: _Grouper, correlation: Correlation) -> None:
    index = correlation.index
    operations: dict[tuple[str, str], list[Span]] = defaultdict(list)
    for span in index.spans.values():
        if span.parent_span_id:
            operations[(span.parent_span_id, span.name)].append(span)
    for span in index.spans.values():
        attempt = max((_number(attr(span, key)) for key in RETRY_ATTRIBUTES), default=0.0)
        siblings = operations.get((span.parent_span_id, span.name), [])
        failed_before = any(
            other.is_error and other.end_time_ns <= span.start_time_ns and other is not span
            for other in siblings
        )
        if attempt <= 0 and not failed_before:
            continue
        link = grouper.add(
            "retry", _agent_entity(span), span.start_time_ns, f"{span.name} retried",
            key=f"{span.parent_span_id}/{span.name}", metrics={"attempt": max(attempt, 1.0)},
        )  # fmt: skip
        link.span_ids.append(span.span_id)
        link.metrics["retries"] = len(link.span_ids)


def _memory_link(grouper: _Grouper, span: Span, config: ChainConfig) -> None:
    ratio = _number(attr(span, "oracle.k8s.memory.utilization"))
    limit = _number(attr(span, "k8s.container.memory.limit"))
    if not ratio and limit:
        ratio = _number(attr(span, "k8s.container.memory.usage")) / limit
    if ratio < config.memory_pressure_ratio:
        return
    pod, _ = span_pod(span)
    entity = pod.entity or f"service/{span.service_name}"
    summary = f"memory at {ratio:.0%} of the limit on {entity}"
    link = grouper.span("memory_pressure", entity, span, span.end_time_ns, summary)
    link.metrics["memory_ratio"] = max(_number(link.metrics.get("memory_ratio")), ratio)


def _event_links(grouper: _Grouper, correlation: Correlation) -> None:
    for event in sorted(correlation.events.values(), key=lambda e: (e.time_ns, e.event_id)):
        kind = EVENT_LINKS.get(event.kind)
        status = text(event.attributes.get("oracle.kafka.status"))
        if event.kind == "consumer_status_changed" and status in STALLED:
            kind = "consumer_stalled"
        if kind is None:
            continue
        metrics = {
            key: _number(value)
            for key, value in event.attributes.items()
            if key.startswith(METRIC_PREFIXES) or key == "rate_limited_calls_per_minute"
        }
        summary = event.summary or f"{event.kind} on {event.entity}"
        link = grouper.add(kind, event.entity, event.time_ns, summary, metrics=metrics)
        link.event_ids.append(event.event_id)
        named = text(event.attributes.get("span_id"))
        known = named in correlation.index.spans
        if kind.startswith("llm_") and known and named not in link.span_ids:
            link.span_ids.append(named)


def _resumed(spans: dict[str, Span], since_ns: int) -> bool:
    """Whether the task's own agents did work after ``since_ns`` (see ``task_orphaned``).

    A span attributed to an agent from a span above it in another service (a tool worker
    answering the agent's request) is not the agent's own work."""

    def agent_of(span: Span) -> str | None:
        source = spans.get(span.agent_from) if span.agent_from else None
        if source is not None and source.service_name != span.service_name:
            return None
        return span.agent_name

    before = [s for s in spans.values() if s.start_time_ns <= since_ns]
    agents = {name for s in before if (name := agent_of(s))}
    return any(
        s.start_time_ns > since_ns and (not agents or agent_of(s) in agents) for s in spans.values()
    )


def _orphan_link(correlation: Correlation, now_ns: int, config: ChainConfig) -> Link | None:
    index = correlation.index
    if not index.is_open:
        return None
    gone: list[InfraEvent] = [
        e
        for e in correlation.events.values()
        if e.kind in POD_GONE
        and any(m.via == "pod" for m in correlation.by_event[e.event_id])
        and (e.kind != "pod_rescheduled" or len(event_pods(e)) > 1)
    ]
    if not gone:
        return None
    last_gone = max(e.time_ns for e in gone)
    first_gone = min(e.time_ns for e in gone)
    resumed = _resumed(index.spans, first_gone)
    deadline = last_gone + config.orphan_timeout_ns
    if resumed or deadline > now_ns:
        return None
    spans = sorted(index.spans.values(), key=lambda s: (s.start_time_ns, s.span_id))
    started = spans[0].start_time_ns
    link = Link(
        "task_orphaned",
        deadline,
        _task_entity(spans),
        f"task started and lost its pod ({', '.join(sorted({e.kind for e in gone}))}); "
        f"no end {config.orphan_timeout_ns / 1e9:.0f}s later",
        span_ids=[s.span_id for s in spans],
        event_ids=[e.event_id for e in gone],
        metrics={"started_ns": started, "open_s": (now_ns - started) / 1e9},
    )
    return link
