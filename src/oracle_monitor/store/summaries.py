"""Trace summaries, computed and merged the same way by every backend.

A backend turns the spans of a batch into one `TraceAggregate` per trace with
`aggregate_spans`, reads the stored aggregates of those traces, and combines both with
`merge_aggregates`; then it writes the results back. Recomputing a trace from its stored spans
(after a batch that contained duplicates) uses `TraceAggregate.add` on each span.

The root span is chosen so that the result does not depend on arrival order: a parentless
span beats any other, then the earlier start, then the smaller name and service. Until the
root has arrived (``root_seen`` is false) the root fields therefore describe the earliest span.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from oracle_monitor.model import Span, StatusCode
from oracle_monitor.store.base import TraceSummary

__all__ = ["TraceAggregate", "aggregate_spans", "merge_aggregates"]

_ERROR = StatusCode.ERROR


@dataclass(slots=True)
class TraceAggregate:
    """The mutable running summary of one trace; `to_summary` freezes it.

    ``root_start_ns`` is the start time of the span the root fields were taken from, needed to
    compare it with candidates arriving later.
    """

    trace_id: str
    start_time_ns: int
    end_time_ns: int
    root_name: str
    root_service: str
    root_seen: bool
    root_start_ns: int
    span_count: int = 0
    error_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    services: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)

    @classmethod
    def empty(cls, trace_id: str) -> TraceAggregate:
        """An aggregate of no spans, ready for `add`."""
        return cls(trace_id, 2**63 - 1, -(2**63), "", "", False, 2**63 - 1)

    def add(
        self,
        *,
        is_root: bool,
        name: str,
        service: str,
        agent: str | None,
        start_time_ns: int,
        end_time_ns: int,
        is_error: bool,
        input_tokens: int | None,
        output_tokens: int | None,
    ) -> None:
        """Count one span, given by the fields a summary depends on."""
        self.span_count += 1
        self.start_time_ns = min(self.start_time_ns, start_time_ns)
        self.end_time_ns = max(self.end_time_ns, end_time_ns)
        if is_error:
            self.error_count += 1
        if input_tokens:
            self.input_tokens += input_tokens
        if output_tokens:
            self.output_tokens += output_tokens
        self.services.add(service)
        if agent:
            self.agents.add(agent)
        self._offer_root(is_root, start_time_ns, name, service)

    def merge(self, other: TraceAggregate) -> None:
        """Add the spans counted in ``other`` (a disjoint set of spans of the same trace)."""
        self.span_count += other.span_count
        self.error_count += other.error_count
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.start_time_ns = min(self.start_time_ns, other.start_time_ns)
        self.end_time_ns = max(self.end_time_ns, other.end_time_ns)
        self.services |= other.services
        self.agents |= other.agents
        if other.span_count:
            self._offer_root(
                other.root_seen, other.root_start_ns, other.root_name, other.root_service
            )

    def _offer_root(self, is_root: bool, start_ns: int, name: str, service: str) -> None:
        mine = (not self.root_seen, self.root_start_ns, self.root_name, self.root_service)
        if (not is_root, start_ns, name, service) < mine:
            self.root_seen = is_root
            self.root_start_ns = start_ns
            self.root_name = name
            self.root_service = service

    def to_summary(self) -> TraceSummary:
        """The immutable `TraceSummary` (services and agents sorted)."""
        return TraceSummary(
            trace_id=self.trace_id,
            root_name=self.root_name,
            root_service=self.root_service,
            services=tuple(sorted(self.services)),
            agents=tuple(sorted(self.agents)),
            start_time_ns=self.start_time_ns,
            end_time_ns=self.end_time_ns,
            span_count=self.span_count,
            error_count=self.error_count,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
        )


def aggregate_spans(spans: Iterable[Span]) -> dict[str, TraceAggregate]:
    """One aggregate per trace id of ``spans``, in order of first appearance.

    Every span is counted: drop duplicates first if the batch may contain any. (This is
    `TraceAggregate.add` inlined: it runs for every span the server receives.)
    """
    result: dict[str, TraceAggregate] = {}
    get = result.get
    for span in spans:
        trace_id = span.trace_id
        start, end, is_root = span.start_time_ns, span.end_time_ns, not span.parent_span_id
        agg = get(trace_id)
        if agg is None:
            agg = result[trace_id] = TraceAggregate(
                trace_id, start, end, span.name, span.service_name, is_root, start
            )
        else:
            if start < agg.start_time_ns:
                agg.start_time_ns = start
            if end > agg.end_time_ns:
                agg.end_time_ns = end
            if is_root or (not agg.root_seen and start <= agg.root_start_ns):
                agg._offer_root(is_root, start, span.name, span.service_name)
        agg.span_count += 1
        if span.status_code == _ERROR:
            agg.error_count += 1
        if span.input_tokens:
            agg.input_tokens += span.input_tokens
        if span.output_tokens:
            agg.output_tokens += span.output_tokens
        agg.services.add(span.service_name)
        if span.agent_name:
            agg.agents.add(span.agent_name)
    return result


def merge_aggregates(
    existing: Mapping[str, TraceAggregate], batch: Mapping[str, TraceAggregate]
) -> list[TraceAggregate]:
    """The new aggregate of every trace in ``batch``: its stored aggregate plus the batch's.

    ``existing`` holds the stored aggregates of (some of) those traces; it is not modified,
    the batch aggregates are merged into.
    """
    merged: list[TraceAggregate] = []
    for trace_id, fresh in batch.items():
        stored = existing.get(trace_id)
        if stored is not None:
            fresh.merge(stored)
        merged.append(fresh)
    return merged
