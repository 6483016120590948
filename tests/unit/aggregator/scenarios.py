"""Realistic traces and infrastructure events of multi-agent tasks, at exact times.

Each ``*_scenario()`` returns a `Scenario`: the spans of one task as the store would hand
them over (derived fields computed by `oracle_monitor.processing.conventions.derive`, a span
that never ended simply absent), the infrastructure events a caller would find around them
(including unrelated ones the engine must leave out), the time of the question, and the
expected chain as ``(kind, entity, caused_by, rule)``. Times are seconds after ``T0``
(2026-11-27 07:20 UTC).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from oracle_monitor.model import (
    Attributes,
    InfraEvent,
    Severity,
    Span,
    SpanEvent,
    SpanKind,
    StatusCode,
)
from oracle_monitor.processing.conventions import derive

T0 = 1_795_764_000 * 1_000_000_000  # 2026-11-27T07:20:00Z
NAMESPACE = "agents"
Expected = tuple[str, str, int | None, str | None]


def at(seconds: float) -> int:
    """``T0`` plus ``seconds``, in unix nanoseconds (exact to the nanosecond)."""
    return T0 + round(seconds * 1_000_000_000)


@dataclass(frozen=True)
class Pod:
    """A pod an agent runs in."""

    name: str
    uid: str
    node: str = "node-a"
    namespace: str = NAMESPACE

    @property
    def entity(self) -> str:
        """``pod/<namespace>/<name>``."""
        return f"pod/{self.namespace}/{self.name}"

    def resource(self, service: str) -> Attributes:
        """The resource attributes `oracle_monitor.instrumentation.configure` would set."""
        return {
            "service.name": service,
            "k8s.pod.name": self.name,
            "k8s.pod.uid": self.uid,
            "k8s.namespace.name": self.namespace,
            "k8s.node.name": self.node,
            "host.name": self.name,
        }

    def event(
        self, kind: str, seconds: float, summary: str = "", **extra: str | int | float
    ) -> InfraEvent:
        """A Kubernetes collector event about this pod."""
        attributes: Attributes = {
            "k8s.pod.name": self.name,
            "k8s.pod.uid": self.uid,
            "k8s.namespace.name": self.namespace,
            "k8s.node.name": self.node,
            **extra,
        }
        severity = Severity.ERROR if kind in ("oom_killed", "crash_loop") else Severity.WARNING
        return InfraEvent(
            at(seconds), "k8s", kind, self.entity, severity, summary or f"{self.name} {kind}",
            attributes,
        )  # fmt: skip


@dataclass
class TraceBuilder:
    """Builds the spans of one agent task: ``span()`` returns the span and keeps it."""

    trace_id: str
    task_id: str
    agent: str
    pod: Pod
    spans: list[Span] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self) -> str:
        """A fresh span id (16 hex digits)."""
        return f"{int(self.trace_id[:8], 16) + next(self._ids):016x}"

    def span(
        self,
        name: str,
        start: float,
        end: float,
        *,
        parent: str | Span = "",
        kind: SpanKind = SpanKind.INTERNAL,
        error: str = "",
        error_type: str = "",
        pod: Pod | None = None,
        keep: bool = True,
        messaging: dict[str, str] | None = None,
        **attributes: str | int | float | bool,
    ) -> Span:
        """A span of the task (``keep=False``: built but never exported, like a killed one).

        Keyword attributes spell dots as ``__`` (``gen_ai__request__model``); ``messaging``
        adds `consumer_attrs`.
        """
        pod = pod or self.pod
        attrs: Attributes = {"gen_ai.agent.name": self.agent, "oracle.task.id": self.task_id}
        given = {**attributes, **(messaging or {})}
        attrs.update({key.replace("__", "."): value for key, value in given.items()})
        events: list[SpanEvent] = []
        if error_type:
            attrs["error.type"] = error_type
            events.append(
                SpanEvent(
                    at(end), "exception",
                    {"exception.type": error_type, "exception.message": error},
                )
            )  # fmt: skip
        resource = pod.resource(f"{self.agent}-agent")
        span = Span(
            trace_id=self.trace_id,
            span_id=self.new_id(),
            parent_span_id=parent.span_id if isinstance(parent, Span) else parent,
            name=name,
            kind=kind,
            start_time_ns=at(start),
            end_time_ns=at(end),
            status_code=StatusCode.ERROR if error or error_type else StatusCode.UNSET,
            status_message=error,
            attributes=attrs,
            events=events,
            resource=resource,
            scope_name="oracle_monitor.instrumentation",
            **derive(attrs, resource),
        )
        if keep:
            self.spans.append(span)
        return span

    def chat(
        self, model: str, start: float, end: float, parent: str | Span, provider: str = "openai"
    ) -> Span:
        """A successful LLM chat call."""
        return self.span(
            f"chat {model}", start, end, parent=parent, kind=SpanKind.CLIENT,
            gen_ai__operation__name="chat", gen_ai__provider__name=provider,
            gen_ai__request__model=model, gen_ai__usage__input_tokens=1200,
            gen_ai__usage__output_tokens=300,
        )  # fmt: skip


@dataclass
class Scenario:
    """Spans, candidate events, the time of the question and the expected chain."""

    spans: list[Span]
    events: list[InfraEvent]
    now_ns: int
    expected: list[Expected]
    #: Event ids that must not be evidence of any link.
    unrelated: list[str] = field(default_factory=list)
    #: CONSUMER spans of other traces (which pods run which consumer group).
    consumers: list[Span] = field(default_factory=list)


def consumer_attrs(topic: str, partition: int, group: str = "") -> dict[str, str]:
    """Messaging attributes of a Kafka span (as `TracedConsumer` sets them)."""
    found = {
        "messaging__system": "kafka",
        "messaging__destination__name": topic,
        "messaging__destination__partition__id": str(partition),
    }
    if group:
        found["messaging__kafka__consumer__group"] = group
        found["messaging__consumer__group__name"] = group
    return found


def lag_spike(seconds: float, topic: str, partition: int, group: str, lag: int) -> InfraEvent:
    """The Kafka collector's ``lag_spike`` for one partition of a group."""
    return InfraEvent(
        at(seconds), "kafka", "lag_spike", f"partition/{topic}/{partition}", Severity.WARNING,
        f"{group} lags {lag} messages on {topic}[{partition}]",
        {
            "messaging.system": "kafka", "messaging.kafka.consumer.group": group,
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(partition),
            "oracle.kafka.lag": lag, "oracle.kafka.lag_seconds": 42.5,
            "oracle.kafka.lag_spike_seconds": 30.0,
        },
    )  # fmt: skip


def llm_event(
    kind: str, seconds: float, provider: str, model: str, agent: str, span_id: str = ""
) -> InfraEvent:
    """The LLM usage collector's ``rate_limit_burst`` or ``quota_exhausted``."""
    attributes: Attributes = {
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.agent.name": agent,
        "span_id": span_id,
    }
    if kind == "rate_limit_burst":
        attributes["rate_limited_calls_per_minute"] = 6
    return InfraEvent(
        at(seconds), "llm", kind, f"model/{provider}/{model}", Severity.WARNING,
        f"{kind} {provider} {model}", attributes,
    )  # fmt: skip


RESEARCH = Pod("research-agent-7d9f8-abcde", "6a1f4c2e-0b7d-4c1e-9a55-3f2d8e7b1c01")
RESEARCH_NEW = Pod("research-agent-7d9f8-fghij", "0c3b9d71-5e2a-4f6b-8d10-7a9e4b2c6d02", "node-b")
RESEARCH_OTHER = Pod("research-agent-7d9f8-zzzzz", "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c03")


def seed_scenario() -> Scenario:
    """Lag on tool-responses → tool wait times out → retry → 429 → OOM → reschedule → orphan."""
    b = TraceBuilder("4bf92f3577b34da6a3ce929d0e0e4736", "task-42", "research", RESEARCH)
    root = b.span("invoke_agent research", 0.0, 0.0, keep=False)  # killed: never exported
    b.chat("gpt-4o", 1.0, 2.5, root)
    a1 = b.span(
        "execute_tool web_research", 3.0, 34.0, parent=root, error="no tool response in 30s",
        error_type="TimeoutError", gen_ai__operation__name="execute_tool",
        gen_ai__tool__name="web_research",
    )  # fmt: skip
    b.span("send tool-requests", 3.1, 3.2, parent=a1, kind=SpanKind.PRODUCER,
           messaging=consumer_attrs("tool-requests", 0))  # fmt: skip
    c1 = b.span(
        "receive tool-responses", 3.3, 33.9, parent=a1, kind=SpanKind.CONSUMER,
        error="poll timed out", error_type="TimeoutError",
        messaging=consumer_attrs("tool-responses", 3, "research-agents"),
    )  # fmt: skip
    a2 = b.span(
        "execute_tool web_research", 35.0, 52.0, parent=root, error="summariser rate limited",
        error_type="RateLimitError", gen_ai__operation__name="execute_tool",
        gen_ai__tool__name="web_research", retry__attempt=1,
    )  # fmt: skip
    b.span("send tool-requests", 35.1, 35.2, parent=a2, kind=SpanKind.PRODUCER,
           messaging=consumer_attrs("tool-requests", 0))  # fmt: skip
    b.span("receive tool-responses", 35.3, 44.0, parent=a2, kind=SpanKind.CONSUMER,
           messaging=consumer_attrs("tool-responses", 3, "research-agents"))  # fmt: skip
    l1 = b.span(
        "chat gpt-4o", 44.5, 45.1, parent=a2, kind=SpanKind.CLIENT, error="Rate limit reached",
        error_type="RateLimitError", gen_ai__operation__name="chat",
        gen_ai__provider__name="openai", gen_ai__request__model="gpt-4o",
        http__response__status_code=429, oracle__llm__rate_limited=True,
        oracle__llm__retry_after_s=20.0,
    )  # fmt: skip
    b.chat("gpt-4o", 60.0, 70.5, root)
    lag = lag_spike(20.0, "tool-responses", 3, "research-agents", 1840)
    burst = llm_event("rate_limit_burst", 45.3, "openai", "gpt-4o", "research", l1.span_id)
    oom = RESEARCH.event("oom_killed", 71.0, "agent OOMKilled", k8s__container__name="agent")
    deleted = RESEARCH.event("pod_deleted", 73.0)
    moved = RESEARCH_NEW.event(
        "pod_rescheduled", 74.0, f"{RESEARCH_NEW.name} replaces {RESEARCH.name}",
        **{"oracle.k8s.replaced_pod.name": RESEARCH.name,
           "oracle.k8s.replaced_pod.uid": RESEARCH.uid},
    )  # fmt: skip
    unrelated = [
        RESEARCH_OTHER.event("oom_killed", 71.5),  # another pod
        lag_spike(20.0, "tool-responses", 4, "research-agents", 900),  # another partition
        lag_spike(21.0, "tool-responses", 3, "billing-agents", 500),  # another group
        llm_event("rate_limit_burst", 45.0, "anthropic", "claude-sonnet-4-5", "research"),
        RESEARCH.event("oom_killed", -7200.0),  # our pod, hours before
        RESEARCH_NEW.event("pod_ready", 80.0),  # not a problem
    ]
    events = [lag, burst, oom, deleted, moved, *unrelated]
    expected: list[Expected] = [
        ("kafka_lag_spike", "partition/tool-responses/3", None, None),
        ("agent_timeout", "agent/research", 0, "kafka_entity_of_span"),
        ("retry", "agent/research", 1, "retry_after_error"),
        ("llm_rate_limited", "model/openai/gpt-4o", 2, "child_of"),
        ("oom_killed", RESEARCH.entity, 3, "span_on_pod"),
        ("pod_rescheduled", RESEARCH_NEW.entity, 4, "replaced_pod"),
        ("task_orphaned", "task/task-42", 5, "pod_of_span"),
    ]
    del c1
    return Scenario(b.spans, events, at(1200.0), expected, [e.event_id for e in unrelated[:5]])


PLANNER = Pod("planner-agent-5c6d7-qwert", "1b2c3d4e-5f60-4718-9a0b-c1d2e3f40a04")


def quota_scenario() -> Scenario:
    """The planner's first LLM call finds the OpenAI account out of credit; the task fails."""
    b = TraceBuilder("7a1e8c2b9d3f4e5a6b7c8d9e0f1a2b3c", "task-43", "planner", PLANNER)
    root = b.span("invoke_agent planner", 0.0, 5.0, error="LLM quota exhausted",
                  error_type="InsufficientQuotaError")  # fmt: skip
    call = b.span(
        "chat gpt-4.1", 1.0, 1.4, parent=root, kind=SpanKind.CLIENT,
        error="You exceeded your current quota", error_type="insufficient_quota",
        gen_ai__operation__name="chat", gen_ai__provider__name="openai",
        gen_ai__request__model="gpt-4.1", http__response__status_code=429,
    )  # fmt: skip
    quota = llm_event("quota_exhausted", 1.4, "openai", "gpt-4.1", "planner", call.span_id)
    unrelated = [
        llm_event("quota_exhausted", 2.0, "openai", "gpt-4.1-mini", "planner"),  # another model
        llm_event("rate_limit_burst", 1.2, "openai", "gpt-4.1", "billing"),  # another agent
        llm_event("quota_exhausted", 900.0, "openai", "gpt-4.1", "planner"),  # long after
    ]
    expected: list[Expected] = [
        ("llm_quota_exhausted", "model/openai/gpt-4.1", None, None),
        ("task_failed", "task/task-43", 0, "error_propagated"),
    ]
    return Scenario(
        b.spans, [quota, *unrelated], at(1000.0), expected, [e.event_id for e in unrelated]
    )


ORCHESTRATOR = Pod("orchestrator-6f7a8-asdfg", "2c3d4e5f-6071-4829-ab1c-d2e3f4051b05")
SUMMARIZER = Pod("summarizer-agent-8b9c0-zxcvb", "3d4e5f60-7182-4930-bc2d-e3f405162c06")


def crash_loop_scenario() -> Scenario:
    """A bad ConfigMap: the summariser fails its task and then cannot start again."""
    b = TraceBuilder("8b2f9d3c0e4a5f6b7c8d9e0f1a2b3c4d", "task-44", "orchestrator", ORCHESTRATOR)
    root = b.span("invoke_agent orchestrator", 0.0, 90.0, error="summarizer never answered",
                  error_type="NoReplyError")  # fmt: skip
    sent = b.span("send summarize-requests", 0.5, 0.6, parent=root, kind=SpanKind.PRODUCER,
                  messaging=consumer_attrs("summarize-requests", 2))  # fmt: skip
    b.span(
        "process summarize-requests", 1.0, 1.3, parent=sent, kind=SpanKind.CONSUMER,
        pod=SUMMARIZER, error="missing key SUMMARIZER_MODEL", error_type="ConfigError",
        messaging=consumer_attrs("summarize-requests", 2, "summarizers"),
    )  # fmt: skip
    bad = "CreateContainerConfigError"
    config = SUMMARIZER.event("config_error", 2.0, f"agent: {bad}", reason=bad)
    loop = SUMMARIZER.event("crash_loop", 12.0, "agent: back-off", reason="CrashLoopBackOff")
    unrelated = [
        PLANNER.event("crash_loop", 10.0),  # another pod
        ORCHESTRATOR.event("pod_ready", -30.0),  # not a problem
    ]
    expected: list[Expected] = [
        ("config_error", SUMMARIZER.entity, None, None),
        ("crash_loop", SUMMARIZER.entity, 0, "same_entity"),
        ("task_failed", "task/task-44", 1, "pod_of_span"),
    ]
    return Scenario(
        b.spans, [config, loop, *unrelated], at(600.0), expected, [unrelated[0].event_id]
    )


INTAKE = Pod("intake-agent-1a2b3-poiuy", "4e5f6071-8293-4a41-8d3e-f40516273d07")
WORKER = Pod("research-worker-2b3c4-lkjhg", "5f607182-93a4-4b52-9e4f-051627384e08")


def dlq_scenario() -> Scenario:
    """A poison task message stalls the worker group, lands in the DLQ; the task fails."""
    b = TraceBuilder("9c3a0e4d1f5b6a7c8d9e0f1a2b3c4d5e", "task-45", "intake", INTAKE)
    root = b.span("invoke_agent intake", 0.0, 200.0, error="task rejected by worker",
                  error_type="TaskRejected")  # fmt: skip
    sent = b.span("send tasks", 0.2, 0.3, parent=root, kind=SpanKind.PRODUCER,
                  messaging=consumer_attrs("tasks", 1))  # fmt: skip
    consumed = b.span(
        "process tasks", 1.0, 2.0, parent=sent, kind=SpanKind.CONSUMER, pod=WORKER,
        error="malformed payload", error_type="ValueError",
        messaging=consumer_attrs("tasks", 1, "research-workers"),
    )  # fmt: skip
    b.span("send tasks.dlq", 60.0, 60.1, parent=consumed, kind=SpanKind.PRODUCER, pod=WORKER,
           messaging=consumer_attrs("tasks.dlq", 0))  # fmt: skip
    stalled = InfraEvent(
        at(40.0), "kafka", "consumer_status_changed", "consumer_group/research-workers",
        Severity.ERROR, "Consumer group research-workers: OK -> STALL",
        {"messaging.kafka.consumer.group": "research-workers", "oracle.kafka.status": "STALL",
         "oracle.kafka.previous_status": "OK", "oracle.kafka.lag": 37},
    )  # fmt: skip
    dlq = InfraEvent(
        at(65.0), "kafka", "dlq_growth", "topic/tasks.dlq", Severity.WARNING,
        "tasks.dlq grew by 1", {"messaging.destination.name": "tasks.dlq",
                                "oracle.kafka.dlq_depth": 4, "oracle.kafka.dlq_growth": 1},
    )  # fmt: skip
    unrelated = [
        InfraEvent(at(40.0), "kafka", "consumer_status_changed", "consumer_group/billing",
                   Severity.ERROR, "billing STALL", {"oracle.kafka.status": "STALL"}),
        InfraEvent(at(41.0), "kafka", "consumer_status_changed",
                   "consumer_group/research-workers", Severity.WARNING, "STALL -> WARN",
                   {"oracle.kafka.status": "WARN"}),  # an improvement, not a problem
        InfraEvent(at(65.0), "kafka", "dlq_growth", "topic/payments.dlq", Severity.WARNING,
                   "payments.dlq grew", {"oracle.kafka.dlq_growth": 3}),
    ]  # fmt: skip
    expected: list[Expected] = [
        ("consumer_stalled", "consumer_group/research-workers", None, None),
        ("dlq_growth", "topic/tasks.dlq", 0, "shared_span"),
        ("task_failed", "task/task-45", 1, "kafka_entity_of_span"),
    ]
    return Scenario(
        b.spans, [stalled, dlq, *unrelated], at(600.0), expected,
        [unrelated[0].event_id, unrelated[2].event_id],
    )  # fmt: skip


SUMMARIZER_NEW = Pod("summarizer-agent-8b9c0-mnbvc", "6071829a-a4b5-4c63-8f50-162738495f09")


def eviction_scenario() -> Scenario:
    """The node runs short of memory; the summariser is evicted mid-task and never finishes."""
    b = TraceBuilder("ad4b1f5e2a6c7b8d9e0f1a2b3c4d5e6f", "task-46", "summarizer", SUMMARIZER)
    root = b.span("invoke_agent summarizer", 0.0, 0.0, keep=False)
    b.chat("claude-sonnet-4-5", 1.0, 8.0, root, provider="anthropic")
    b.span("execute_tool load_documents", 9.0, 20.0, parent=root,
           gen_ai__operation__name="execute_tool", gen_ai__tool__name="load_documents")  # fmt: skip
    b.chat("claude-sonnet-4-5", 21.0, 40.0, root, provider="anthropic")
    pressure = SUMMARIZER.event(
        "memory_pressure", 30.0, "memory at 96% of limit",
        **{"k8s.pod.memory.usage": 2_061_584_302, "k8s.pod.memory.limit": 2_147_483_648},
    )  # fmt: skip
    evicted = SUMMARIZER.event("pod_evicted", 45.0, "evicted: node low on memory",
                               reason="Evicted")  # fmt: skip
    moved = SUMMARIZER_NEW.event(
        "pod_rescheduled", 47.0, f"{SUMMARIZER_NEW.name} replaces {SUMMARIZER.name}",
        **{"oracle.k8s.replaced_pod.name": SUMMARIZER.name,
           "oracle.k8s.replaced_pod.uid": SUMMARIZER.uid},
    )  # fmt: skip
    unrelated = [PLANNER.event("pod_evicted", 45.0), SUMMARIZER_NEW.event("pod_ready", 60.0)]
    expected: list[Expected] = [
        ("memory_pressure", SUMMARIZER.entity, None, None),
        ("pod_evicted", SUMMARIZER.entity, 0, "same_entity"),
        ("pod_rescheduled", SUMMARIZER_NEW.entity, 1, "replaced_pod"),
        ("task_orphaned", "task/task-46", 2, "pod_of_span"),
    ]
    return Scenario(
        b.spans, [pressure, evicted, moved, *unrelated], at(900.0), expected,
        [unrelated[0].event_id],
    )  # fmt: skip


def slow_tool_scenario() -> Scenario:
    """A web search that takes 45 s with nothing wrong underneath: the tool is the cause."""
    b = TraceBuilder("be5c2a6f3b7d8c9e0f1a2b3c4d5e6f70", "task-47", "research", RESEARCH)
    root = b.span("invoke_agent research", 0.0, 50.0, error="tool web_search timed out",
                  error_type="ToolTimeout")  # fmt: skip
    b.chat("gpt-4o", 0.5, 2.0, root)
    b.span("execute_tool web_search", 2.5, 47.5, parent=root, error="web_search timed out",
           error_type="ToolTimeout", gen_ai__operation__name="execute_tool",
           gen_ai__tool__name="web_search")  # fmt: skip
    unrelated = [
        RESEARCH_OTHER.event("oom_killed", 20.0),  # another pod
        lag_spike(20.0, "tool-responses", 3, "research-agents", 1500),  # no messaging span
        llm_event("rate_limit_burst", 1.0, "openai", "gpt-4o", "billing"),  # another agent
        RESEARCH.event("container_restarted", -3600.0),  # our pod, an hour before
    ]
    expected: list[Expected] = [
        ("agent_timeout", "agent/research", None, None),
        ("task_failed", "task/task-47", 0, "error_propagated"),
    ]
    return Scenario(b.spans, unrelated, at(300.0), expected, [e.event_id for e in unrelated])


def healthy_scenario() -> Scenario:
    """A task that went well, next to other pods' and partitions' trouble: no chain."""
    b = TraceBuilder("cf6d3b7a4c8e9d0f1a2b3c4d5e6f7081", "task-48", "research", RESEARCH)
    root = b.span("invoke_agent research", 0.0, 10.0)
    b.chat("gpt-4o", 0.5, 2.0, root)
    tool = b.span(
        "execute_tool web_search",
        2.5,
        5.5,
        parent=root,
        gen_ai__operation__name="execute_tool",
        gen_ai__tool__name="web_search",
    )
    b.span("receive tool-responses", 2.7, 5.4, parent=tool, kind=SpanKind.CONSUMER,
           messaging=consumer_attrs("tool-responses", 3, "research-agents"))  # fmt: skip
    b.chat("gpt-4o", 6.0, 9.5, root)
    events = [
        RESEARCH.event("pod_ready", -60.0),
        RESEARCH_OTHER.event("oom_killed", 5.0),
        lag_spike(4.0, "tool-responses", 7, "research-agents", 800),
        llm_event("rate_limit_burst", 3.0, "openai", "gpt-4o-mini", "research"),
    ]
    return Scenario(b.spans, events, at(60.0), [], [e.event_id for e in events])


WRITER_OLD = Pod("writer-7d9f8c6b5-x2x4q", "70819a2b-b5c6-4d74-9061-2738495a6f10")
WRITER_NEW = Pod("writer-6c4b7f9d8-qq7zt", "8192a3bc-c6d7-4e85-a172-38495a6b7021", "node-b")
WRITER_API = Pod("writer-api-5b6c7d8e9-ppppp", "92a3b4cd-d7e8-4f96-b283-495a6b7c8132")
BILLING = Pod("billing-6f7a8b9c0-kkkkk", "a3b4c5de-e8f9-4a07-8394-5a6b7c8d9243")


def rollout_pod_event(pod: Pod, kind: str, seconds: float, deployment: str) -> InfraEvent:
    """A pod of a Deployment's new ReplicaSet that cannot run, as the collector reports it."""
    replica_set = pod.name.rsplit("-", 1)[0]
    return pod.event(
        kind, seconds, f"{pod.name}: {kind}",
        **{"k8s.owner.kind": "ReplicaSet", "k8s.owner.name": replica_set,
           "k8s.replicaset.name": replica_set, "k8s.deployment.name": deployment},
    )  # fmt: skip


def rollout_scenario(failure: str = "image_pull_backoff", members: bool = False) -> Scenario:
    """The writer Deployment's new revision cannot run (its image cannot be pulled, or it
    crash-loops) and its old pod is gone: nothing consumes ``drafts``, the lag grows and the
    research task waiting for its draft times out. Which pods run the ``writers`` group is
    known from the members the broker last reported (``members``) or else from a CONSUMER
    span of the group in an earlier trace."""
    b = TraceBuilder("d07e4c8b5d9fa0e1f2a3b4c5d6e7f809", "task-50", "research", RESEARCH)
    root = b.span("invoke_agent research", 0.0, 50.0, error="no draft from the writer",
                  error_type="NoReplyError")  # fmt: skip
    tool = b.span("execute_tool write_draft", 1.0, 46.0, parent=root, error="timed out",
                  error_type="TimeoutError", gen_ai__operation__name="execute_tool",
                  gen_ai__tool__name="write_draft")  # fmt: skip
    b.span("send drafts", 1.1, 1.2, parent=tool, kind=SpanKind.PRODUCER,
           messaging=consumer_attrs("drafts", 0))  # fmt: skip
    b.span("receive drafts-replies", 1.3, 45.9, parent=tool, kind=SpanKind.CONSUMER,
           messaging=consumer_attrs("drafts-replies", 0, "research-agents"))  # fmt: skip
    earlier = TraceBuilder("e18f5d9c6eaf0b1c2d3e4f5a6b7c8d90", "task-49", "writer", WRITER_OLD)
    old_work = earlier.span(
        "process drafts", -300.0, -299.0, kind=SpanKind.CONSUMER,
        messaging=consumer_attrs("drafts", 0, "writers"),
    )  # fmt: skip
    consumers = [old_work]
    spike = lag_spike(40.0, "drafts", 0, "writers", 57)
    if members:
        spike.attributes["oracle.kafka.consumer.members"] = [WRITER_OLD.name]
        consumers = []
    cannot_run = rollout_pod_event(WRITER_NEW, failure, -20.0, "writer")
    unrelated = [
        WRITER_OLD.event("pod_deleted", -25.0),  # the rollout's old pod: never the task's
        rollout_pod_event(BILLING, failure, -10.0, "billing"),  # another Deployment
        rollout_pod_event(WRITER_API, "crash_loop", -5.0, "writer-api"),  # a similar name
        rollout_pod_event(WRITER_NEW, "image_pull_backoff", 45.0, "writer"),  # after the lag
        lag_spike(40.0, "drafts", 3, "writers", 9),  # a partition the task did not send to
    ]
    expected: list[Expected] = [
        (failure, WRITER_NEW.entity, None, None),
        ("kafka_lag_spike", "partition/drafts/0", 0, "starved_consumer_group"),
        ("agent_timeout", "agent/research", 1, "kafka_entity_of_span"),
        ("task_failed", "task/task-50", 2, "error_propagated"),
    ]
    if failure == "image_pull_backoff":
        unrelated.pop(3)  # the same kind on the same pod would fold into the first
    return Scenario(
        b.spans, [cannot_run, spike, *unrelated], at(600.0), expected,
        [e.event_id for e in unrelated], consumers,
    )  # fmt: skip


def rollout_crash_loop_scenario() -> Scenario:
    """`rollout_scenario` with a crash-looping revision, the runners known from members."""
    return rollout_scenario("crash_loop", members=True)


ALL = {
    "seed": seed_scenario,
    "quota": quota_scenario,
    "crash_loop": crash_loop_scenario,
    "dlq": dlq_scenario,
    "eviction": eviction_scenario,
    "slow_tool": slow_tool_scenario,
    "healthy": healthy_scenario,
    "rollout_image_pull": rollout_scenario,
    "rollout_crash_loop_members": rollout_crash_loop_scenario,
}
