"""The shared vocabulary of Oracle Monitor: spans as the rest of the system sees them.

Nothing here does I/O or imports another part of the project. A `Span` keeps everything OTLP
sent (ids as lowercase hex, times as unix nanoseconds, attributes with their OTLP types) plus
the *derived* fields the store, API and aggregator filter and add up on: service, agent,
provider, model, token counts, pod and namespace. `oracle_monitor.processing.conventions`
computes the derived fields from the attribute dialects agents and LLM libraries actually emit.

Attribute values keep their OTLP type: ``str``, ``bool``, ``int``, ``float``, ``bytes``,
``list`` (OTLP array) and ``dict`` (OTLP kvlist). ``None`` stands for an empty AnyValue.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import TypeAlias

AttributeValue: TypeAlias = (
    str | bool | int | float | bytes | list["AttributeValue"] | dict[str, "AttributeValue"] | None
)
Attributes: TypeAlias = dict[str, AttributeValue]


class SpanKind(IntEnum):
    """OTLP `Span.SpanKind` numbers."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode(IntEnum):
    """OTLP `Status.StatusCode` numbers."""

    UNSET = 0
    OK = 1
    ERROR = 2


@dataclass(slots=True)
class SpanEvent:
    """A timestamped annotation on a span (an exception, a retry, a log line)."""

    time_ns: int
    name: str
    attributes: Attributes = field(default_factory=dict)
    dropped_attributes_count: int = 0


@dataclass(slots=True)
class SpanLink:
    """A reference from a span to a span of another (or the same) trace."""

    trace_id: str
    span_id: str
    trace_state: str = ""
    attributes: Attributes = field(default_factory=dict)
    flags: int = 0
    dropped_attributes_count: int = 0


@dataclass(slots=True)
class Span:
    """One finished span, as received over OTLP and as stored.

    ``trace_id`` is 32 lowercase hex digits, ``span_id`` and ``parent_span_id`` 16
    (``parent_span_id`` is ``""`` for a root span). ``resource`` holds the resource
    attributes; ``scope_name``/``scope_version`` the instrumentation scope. The fields after
    ``flags`` are derived (see `oracle_monitor.processing.conventions.derive`) and are ``None``
    when the span does not say; ``cost_usd`` is the span's ``oracle.llm.cost_usd`` or, for an
    LLM call with token counts, what the pricing table makes of them at ingest. ``agent_name`` and
    ``task_id`` are the span's own or, once stored, inherited from the nearest span above it
    that has one (`oracle_monitor.store.attribution`); ``agent_from`` is then the id of the
    span that names the agent (``None`` when the span names it itself).
    """

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: SpanKind
    start_time_ns: int
    end_time_ns: int
    status_code: StatusCode = StatusCode.UNSET
    status_message: str = ""
    attributes: Attributes = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    links: list[SpanLink] = field(default_factory=list)
    resource: Attributes = field(default_factory=dict)
    scope_name: str = ""
    scope_version: str = ""
    trace_state: str = ""
    flags: int = 0
    dropped_attributes_count: int = 0
    dropped_events_count: int = 0
    dropped_links_count: int = 0
    # Derived fields.
    service_name: str = "unknown_service"
    agent_name: str | None = None
    provider: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    reasoning_tokens: int | None = None
    pod_name: str | None = None
    namespace: str | None = None
    task_id: str | None = None
    cost_usd: float | None = None
    rate_limited: bool = False
    # Attributed by hierarchy when stored (`oracle_monitor.store.attribution`).
    agent_from: str | None = None

    @property
    def duration_ns(self) -> int:
        """End minus start, in nanoseconds."""
        return self.end_time_ns - self.start_time_ns

    @property
    def is_error(self) -> bool:
        """Whether the span's status is ERROR."""
        return self.status_code == StatusCode.ERROR


class Severity(StrEnum):
    """How bad an infrastructure event is."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


@dataclass(slots=True)
class InfraEvent:
    """Something the infrastructure did, as a collector saw it.

    ``time_ns`` is when the source recorded it (Kubernetes' timestamp, the poll that saw a lag
    spike), as unix nanoseconds. ``source`` is the collector (``k8s``, ``kafka``, ``llm``),
    ``kind`` what happened (``oom_killed``, ``lag_spike``, …). ``entity`` names the thing it
    happened to, as ``<type>/<key>`` (``pod/agents/research-7d9f``,
    ``consumer_group/research-agents``, ``topic/tool-responses``, ``model/openai/gpt-4o``);
    ``attributes`` carry the entity's keys in OpenTelemetry names (``k8s.pod.name``,
    ``k8s.pod.uid``, ``k8s.namespace.name``, ``messaging.kafka.consumer.group``,
    ``messaging.destination.name``, ``messaging.destination.partition.id``,
    ``gen_ai.provider.name``, ``gen_ai.request.model``, ``gen_ai.agent.name``) and the
    event's figures. ``event_id`` is derived from source, kind, entity and time, so the same
    observation stored twice is one event.
    """

    time_ns: int
    source: str
    kind: str
    entity: str
    severity: Severity = Severity.INFO
    summary: str = ""
    attributes: Attributes = field(default_factory=dict)
    event_id: str = ""

    def __post_init__(self) -> None:
        if not self.event_id:
            key = f"{self.source}\x1f{self.kind}\x1f{self.entity}\x1f{self.time_ns}"
            self.event_id = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


@dataclass(slots=True)
class Alert:
    """A problem worth a person's attention, deduplicated: repeats of the same ``kind`` on the
    same ``entity`` within a window are one alert whose ``count`` and ``last_at_ns`` grow.

    ``alert_id`` is fixed when the alert opens (a hash of kind, entity and the first time), so
    it stays the same while the alert repeats. ``severity`` is ``critical``, ``warning`` or
    ``info``. ``trace_id`` / ``task_id`` name what to look at, when known.
    """

    alert_id: str
    kind: str
    severity: str
    first_at_ns: int
    last_at_ns: int
    entity: str
    summary: str
    count: int = 1
    trace_id: str | None = None
    task_id: str | None = None
