"""The storage contract: a writer and a reader of spans, and what each call guarantees.

Every backend (SQLite embedded, PostgreSQL) implements `Store` and passes the one conformance
suite in ``tests/integration/test_store_conformance.py``. Calls are blocking: the receiver's
batching writer calls `write_spans` from its own thread, and the API calls the readers from a
thread pool, so readers must be safe to call from several threads at once while a write runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

from oracle_monitor.model import Alert, InfraEvent, Span, SpanKind

TraceStatus = Literal["ok", "error"]
CostGrouping = Literal["agent", "model", "provider"]


@dataclass(frozen=True, slots=True)
class TraceQuery:
    """Filters for `SpanReader.find_traces`; ``None`` means "any".

    A trace matches ``service``/``agent`` when at least one of its spans has that service or
    agent name; ``status="error"`` when at least one span has ERROR status, ``"ok"`` when none
    has; ``start_ns``/``end_ns`` bound the trace's start time (inclusive).

    The *span conditions* — ``operation``, ``tags``, ``min_duration_ns``, ``max_duration_ns``
    — must all hold on one and the same span, which must also have ``service`` when that is
    given (Jaeger's search semantics). ``operation`` is the span's name. Each ``(key, value)``
    of ``tags`` matches a span attribute or resource attribute ``key`` whose value, written as
    text, equals ``value``: strings as they are, booleans ``true``/``false``, numbers in
    decimal (``500``, ``0.25``). Three keys also match what Jaeger derives from OTLP: ``error``
    (``true`` for ERROR status, ``false`` otherwise), ``span.kind`` (``internal``, ``server``,
    ``client``, ``producer``, ``consumer``) and ``otel.status_code`` (``OK``, ``ERROR``,
    ``UNSET``). Durations are end minus start, inclusive bounds.
    """

    service: str | None = None
    agent: str | None = None
    status: TraceStatus | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    limit: int = 20
    operation: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None

    @property
    def has_span_conditions(self) -> bool:
        """Whether a single span must match (operation, tags or a duration bound)."""
        return bool(
            self.operation is not None
            or self.tags
            or self.min_duration_ns is not None
            or self.max_duration_ns is not None
        )


@dataclass(frozen=True, slots=True)
class Operation:
    """A span name a service uses, with the span kind it was used with."""

    name: str
    kind: SpanKind


@dataclass(frozen=True, slots=True)
class ServiceDependency:
    """``call_count`` spans of service ``child`` whose parent span is of service ``parent``."""

    parent: str
    child: str
    call_count: int


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One line of a trace list.

    ``root_name``/``root_service`` come from the span without a parent, or, until that span
    has arrived, from the earliest span seen. ``services`` and ``agents`` are sorted.
    """

    trace_id: str
    root_name: str
    root_service: str
    services: tuple[str, ...]
    agents: tuple[str, ...]
    start_time_ns: int
    end_time_ns: int
    span_count: int
    error_count: int
    input_tokens: int
    output_tokens: int

    @property
    def duration_ns(self) -> int:
        """Earliest start to latest end, in nanoseconds."""
        return self.end_time_ns - self.start_time_ns

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens of all spans."""
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class CostGroup:
    """What the LLM calls of one agent, model or provider used and cost.

    An LLM call is a span that names its provider and reports token counts, a rate limit or an
    error (ERROR status; ``errors`` counts those).
    ``cost_usd`` adds up the priced calls; ``unpriced_requests`` counts the calls with tokens
    whose model the pricing table does not know. ``key`` is ``None`` for calls without that
    attribute (e.g. no agent name).
    """

    key: str | None
    requests: int
    rate_limited: int
    errors: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    reasoning_tokens: int
    cost_usd: float
    unpriced_requests: int


@dataclass(frozen=True, slots=True)
class LLMProblem:
    """An LLM call that was rate limited or failed, as `SpanReader.llm_problems` finds it."""

    time_ns: int
    trace_id: str
    span_id: str
    provider: str
    model: str | None
    agent: str | None
    rate_limited: bool
    error_type: str | None


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters for `EventReader.find_events`; ``None`` means "any".

    ``entity`` matches exactly, or as a prefix when it ends in ``*`` (``pod/agents/*``);
    ``start_ns``/``end_ns`` bound the event's time (inclusive).
    """

    source: str | None = None
    kind: str | None = None
    entity: str | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    limit: int = 100


class StoreOpenError(RuntimeError):
    """A store could not be opened (unreachable, a refused key, a schema that is behind);
    the message says why and what to do, so the command prints it without a traceback."""


class SpanWriter(Protocol):
    """Writes spans durably."""

    def write_spans(self, spans: Sequence[Span]) -> None:
        """Store ``spans`` in one transaction.

        When it returns, every span is durable (it survives the process being killed) and
        readable. Idempotent on ``(trace_id, span_id)``: writing a span again, in the same
        batch or a later one, changes nothing and is not counted twice in trace summaries.
        Raises on failure, in which case none of the batch may be assumed stored.
        """
        ...


class SpanReader(Protocol):
    """Reads spans back."""

    def get_trace(self, trace_id: str) -> list[Span]:
        """All spans of the trace (lowercase hex id), ordered by start time, then span id.

        Returns an empty list when the trace is unknown.
        """
        ...

    def get_task(self, task_id: str) -> list[Span]:
        """All spans of every trace in which a span carries ``oracle.task.id == task_id``
        (a retried task may start a new trace), ordered by start time, then span id.

        Returns an empty list when no span names the task.
        """
        ...

    def find_traces(self, query: TraceQuery) -> list[TraceSummary]:
        """Summaries of the traces matching ``query``, newest start first, at most ``limit``.

        Returns an empty list when nothing matches.
        """
        ...

    def count_spans(self) -> int:
        """How many spans are stored."""
        ...

    def services(self) -> list[str]:
        """The service names of every stored span, sorted; [] when there are none."""
        ...

    def operations(self, service: str, kind: SpanKind | None = None) -> list[Operation]:
        """The distinct (span name, kind) pairs of ``service``'s spans (only ``kind``'s when
        given), sorted by name then kind; [] for an unknown service."""
        ...

    def service_dependencies(self, start_ns: int, end_ns: int) -> list[ServiceDependency]:
        """Calls between services in the traces that start in [start, end]: for each pair of
        different services, how many spans of ``child`` have a parent span (in the same trace)
        of ``parent``. Sorted by parent, then child; [] when there are none."""
        ...

    def llm_costs(
        self, group_by: CostGrouping, start_ns: int | None = None, end_ns: int | None = None
    ) -> list[CostGroup]:
        """LLM usage and cost per group, of calls starting in [start, end]; costliest first.

        Returns an empty list when there were no LLM calls.
        """
        ...

    def llm_problems(self, start_ns: int, end_ns: int) -> list[LLMProblem]:
        """LLM calls starting in [start, end] that were rate limited or have an ``error.type``,
        oldest first; [] when there were none."""
        ...


class EventWriter(Protocol):
    """Writes infrastructure events durably."""

    def write_events(self, events: Sequence[InfraEvent]) -> None:
        """Store ``events`` in one transaction; idempotent on ``event_id``."""
        ...


class EventReader(Protocol):
    """Reads infrastructure events back."""

    def find_events(self, query: EventQuery) -> list[InfraEvent]:
        """Events matching ``query``, newest first, at most ``limit``; [] when none match."""
        ...


class AgentActivity(NamedTuple):
    """What an agent's view needs of one of its spans (`AgentActivityReader`): its times,
    status, task, pod, tokens and cost, and four attributes (``gen_ai.operation.name``,
    ``gen_ai.agent.id``, ``oracle.agent.reasoning`` as text, ``oracle.agent.tools_planned``
    when it is an array), each ``None`` when the span does not have it, and whether its agent
    is inherited from a span above it (``Span.agent_from``), and its trace. A named tuple: the
    snapshot loop makes thousands every 2 s."""

    agent_name: str
    span_id: str
    start_time_ns: int
    end_time_ns: int
    is_error: bool
    task_id: str | None = None
    pod_name: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    operation: str | None = None
    agent_id: str | None = None
    reasoning: str | None = None
    tools_planned: tuple[str, ...] | None = None
    agent_inherited: bool = False
    trace_id: str | None = None


class AgentActivityReader(Protocol):
    """Reads agents' recent spans, lean, for the snapshot loop (every 2 s)."""

    def recent_agent_activity(self, since_ns: int, limit: int = 10000) -> list[AgentActivity]:
        """`recent_agent_spans` as `AgentActivity` rows: the same spans in the same order
        (newest start first, then span id descending), without decoding whole spans."""
        ...


#: One of `AgentSecond.latest`: the latest span having a field, as (end time, span id, value).
Candidate = tuple[int, str, Any]


@dataclass(slots=True)
class AgentSecond:
    """What the agents' views need of one agent's spans that started in one second, as a store
    keeps it (`AgentSecondsFeed`; `oracle_monitor.store.agent_seconds` computes and merges it).

    ``writer`` tells apart the shares of writers that write at once (0 where one writes at a
    time); ``spans`` counts them; ``latest_start`` is the latest start; tokens, cost and errors
    are sums as the views count them; ``latest`` holds, for each of
    `oracle_monitor.store.agent_seconds.LATEST_FIELDS`, the latest span (by end time, then span
    id) having that field, as (end time, span id, value), or ``None``.
    """

    agent_name: str
    second: int
    writer: int = 0
    spans: int = 0
    latest_start: int = -(2**63)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    errors: int = 0
    latest: list[Candidate | None] = field(default_factory=lambda: [None] * 7)


@dataclass(frozen=True, slots=True)
class SecondsCursor:
    """How far a reader of `AgentSecondsFeed` has got: made by the store, handed back to it
    unchanged (``store`` names the kind of store, ``position`` where its changes were)."""

    store: str
    position: int


@dataclass(frozen=True, slots=True)
class AgentSecondsRead:
    """One read of `AgentSecondsFeed`: agent seconds as they are now, the next cursor, and
    whether ``seconds`` is every agent second of the window (the reader starts over)."""

    seconds: list[AgentSecond]
    cursor: SecondsCursor
    full: bool


class AgentSecondsFeed(Protocol):
    """Per agent and second, what the agents' views need of their spans (`AgentSecond`), kept
    by the store as it writes and attributes spans: the snapshot loop reads what changed since
    its last read, whose size follows agents and seconds, not spans."""

    def agent_seconds(self, since_ns: int, cursor: SecondsCursor | None = None) -> AgentSecondsRead:
        """The agent seconds from ``since_ns`` on (a whole second) that changed after
        ``cursor``, each as it is now, with the cursor of the next read.

        Without a cursor, or with one the store cannot follow, ``full`` is true and every agent
        second of the window is returned. An agent second counts every span stored with its
        agent, or given it later by hierarchy (`oracle_monitor.store.attribution`), once; a
        span given its task later updates its second. A reader replaces what it had of an
        (agent, second, writer) with what is returned: one may come back unchanged.
        """
        ...


class AgentSpanReader(Protocol):
    """Reads the recent spans of agents, for the per-agent view of a snapshot."""

    def recent_agent_spans(self, since_ns: int, limit: int = 10000) -> list[Span]:
        """Spans with an agent name that started at or after ``since_ns``, newest start first
        (then span id, descending), at most ``limit``; [] when there are none."""
        ...


class SnapshotWriter(Protocol):
    """Writes system snapshots (JSON-ready dicts, see ``oracle_state.schema.json``)."""

    def write_snapshot(self, timestamp_ns: int, snapshot: dict[str, Any]) -> None:
        """Store ``snapshot`` as the system at ``timestamp_ns``, durably, in one transaction.

        Idempotent on ``timestamp_ns``: a second snapshot at the same time changes nothing
        (the first one stays).
        """
        ...


class SnapshotReader(Protocol):
    """Reads system snapshots back, each as ``(timestamp_ns, snapshot)``."""

    def latest_snapshot(self) -> tuple[int, dict[str, Any]] | None:
        """The newest snapshot, or ``None`` when none is stored."""
        ...

    def snapshot_at(self, timestamp_ns: int) -> tuple[int, dict[str, Any]] | None:
        """The last snapshot taken at or before ``timestamp_ns``; ``None`` when there is none."""
        ...

    def snapshot_series(
        self, start_ns: int, end_ns: int, step_ns: int
    ) -> list[tuple[int, dict[str, Any]]]:
        """Snapshots in [start, end], oldest first, downsampled: of each ``step_ns``-long
        bucket, only the last. Buckets are aligned on the unix epoch (``timestamp_ns //
        step_ns``), so a sliding range keeps the same points. ``step_ns`` must be positive."""
        ...

    def snapshot_series_text(
        self, start_ns: int, end_ns: int, step_ns: int
    ) -> list[tuple[int, str]]:
        """`snapshot_series` with each snapshot as its JSON text, not decoded (the API
        passes it on as it is)."""
        ...


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """Filters for `AlertReader.find_alerts`; ``None`` means "any".

    An alert matches [``start_ns``, ``end_ns``] when it overlaps it (last happened at or
    after ``start_ns`` and opened at or before ``end_ns``); ``severities`` lists those wanted.
    """

    start_ns: int | None = None
    end_ns: int | None = None
    severities: tuple[str, ...] | None = None
    limit: int = 100


class AlertWriter(Protocol):
    """Writes alerts durably."""

    def write_alerts(self, alerts: Sequence[Alert]) -> None:
        """Store ``alerts`` in one transaction, by ``alert_id``: a stored alert is updated
        (widest times, highest count, worse severity, latest summary)."""
        ...


class AlertReader(Protocol):
    """Reads alerts back."""

    def find_alerts(self, query: AlertQuery) -> list[Alert]:
        """Alerts matching ``query``, newest ``last_at`` first, at most ``limit``; [] if none."""
        ...


class Retention(Protocol):
    """Deletes what is too old to keep."""

    def thin_snapshots(self, start_ns: int, end_ns: int, step_ns: int) -> int:
        """Of the snapshots in [start, end), keep only the last of each ``step_ns`` bucket
        (aligned on the unix epoch); returns how many were deleted."""
        ...

    def delete_snapshots_before(self, timestamp_ns: int) -> int:
        """Delete the snapshots taken before ``timestamp_ns``; returns how many."""
        ...

    def delete_alerts_before(self, timestamp_ns: int) -> int:
        """Delete the alerts that last happened before ``timestamp_ns``; returns how many."""
        ...


class Store(
    SpanWriter,
    SpanReader,
    EventWriter,
    EventReader,
    AgentSpanReader,
    AgentActivityReader,
    AgentSecondsFeed,
    SnapshotWriter,
    SnapshotReader,
    AlertWriter,
    AlertReader,
    Retention,
    Protocol,
):
    """A span store: writer, reader and a lifecycle."""

    def close(self) -> None:
        """Release connections; idempotent. Writes that returned are already durable."""
        ...
