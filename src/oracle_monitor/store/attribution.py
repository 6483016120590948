"""Agent and task attribution by trace hierarchy, as every store applies it when writing.

A span's agent is its own (`oracle_monitor.conventions.derive`: its attributes, else its
resource), else that of the nearest span above it in its trace that has one; the same for its
task (``oracle.task.id``). So an LLM call is counted under the agent whose span it runs in,
even when only that agent's span names it (the OpenAI Agents SDK, LangGraph, hand-written
``invoke_agent`` spans). `Span.agent_from` keeps the id of the ancestor the name came from
(``None`` when the span names its agent itself).

Spans of one trace arrive in any order and in separate batches (a parent ends, and is
exported, after its children), and a parent may never arrive. A span whose agent or task is
still unknown because an ancestor is missing is *pending* on that missing ancestor (a row
``(trace_id, missing span id, span id)`` the store keeps). When the missing span arrives, its
pending spans take what it has (`settle`); if it is itself incomplete and pending further up,
they become pending on its missing ancestor. Stored spans are never attributed twice: a name,
once given, is the nearest one (every span between is stored and names none), so a later
arrival only fills what is still unknown.

This module is pure: the store supplies what it has stored (`Lookup`) and writes the results.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

from oracle_monitor.model import Span

__all__ = [
    "Inherited",
    "Lookup",
    "Pending",
    "Settlement",
    "SpanKey",
    "attribute_batch",
    "settle",
]

SpanKey: TypeAlias = tuple[str, str]  # (trace_id, span_id), lowercase hex


@dataclass(frozen=True, slots=True)
class Inherited:
    """What a span passes down to spans below it that name no agent or task of their own.

    ``agent_from`` is the id of the span that names ``agent_name``. ``pending_on`` is the
    missing ancestor this span waits for, when its agent or task is still unknown because of
    it; ``None`` when nothing above can change it (the root was reached, or both are known).
    """

    agent_name: str | None
    agent_from: str | None
    task_id: str | None
    pending_on: str | None = None

    @property
    def complete(self) -> bool:
        """Whether both agent and task are known."""
        return self.agent_name is not None and self.task_id is not None

    @classmethod
    def of_stored(cls, span_id: str, agent_name: str | None, agent_from: str | None,
                  task_id: str | None, pending_on: str | None) -> Inherited:  # fmt: skip
        """What a stored span (its columns and its pending row, if any) passes down."""
        source = (agent_from or span_id) if agent_name is not None else None
        waiting = None if agent_name is not None and task_id is not None else pending_on
        return cls(agent_name, source, task_id, waiting)


class Pending(NamedTuple):
    """A span whose agent or task waits for the missing span ``missing_span_id``."""

    trace_id: str
    missing_span_id: str
    span_id: str


#: Given the keys of stored spans a batch refers to, what each of those that is stored passes
#: down (keys not stored are left out).
Lookup: TypeAlias = Callable[[Collection[SpanKey]], dict[SpanKey, Inherited]]


def _own(span: Span) -> Inherited:
    # ``agent_from`` is set when the span was attributed already (a batch written again).
    agent_from = None if span.agent_name is None else span.agent_from or span.span_id
    return Inherited(span.agent_name, agent_from, span.task_id)


def _below(parent: Inherited, span: Span) -> Inherited:
    """What ``span`` has and passes down, given what its parent passes down."""
    agent, task = span.agent_name, span.task_id
    agent_from: str | None = span.agent_from or span.span_id
    if agent is None:
        agent, agent_from = parent.agent_name, parent.agent_from
    if task is None:
        task = parent.task_id
    waiting = parent.pending_on if agent is None or task is None else None
    return Inherited(agent, agent_from if agent is not None else None, task, waiting)


def attribute_batch(spans: Sequence[Span], lookup: Lookup) -> tuple[dict[SpanKey, Inherited],
                                                                    list[Pending]]:  # fmt: skip
    """Give each span of the batch its agent and task by hierarchy (fills ``agent_name``,
    ``agent_from`` and ``task_id`` in place).

    Ancestors are looked for in the batch first, then (one `lookup` call, only when a span
    lacks an agent or task and its chain leaves the batch) among the stored spans. Returns
    what each span of the batch passes down, and the pending rows for the spans of the batch
    that wait for a missing ancestor.
    """
    by_key = {(s.trace_id, s.span_id): s for s in spans}
    passed: dict[SpanKey, Inherited] = {}
    wanting = [s for s in spans if s.agent_name is None or s.task_id is None]
    for span in spans:
        if (span.agent_name is not None and span.task_id is not None) or not span.parent_span_id:
            passed[(span.trace_id, span.span_id)] = _own(span)
    if len(passed) == len(by_key):
        return passed, []
    outside = {
        top
        for span in wanting
        if (top := _leaves_batch(span, by_key, passed)) is not None and top not in by_key
    }
    stored = lookup(outside) if outside else {}
    pending: list[Pending] = []
    for span in wanting:
        key = (span.trace_id, span.span_id)
        got = _resolve(key, by_key, passed, stored)
        if span.agent_name is None and got.agent_name is not None:
            span.agent_name, span.agent_from = got.agent_name, got.agent_from
        if span.task_id is None:
            span.task_id = got.task_id
        if got.pending_on is not None:
            pending.append(Pending(span.trace_id, got.pending_on, span.span_id))
    return passed, pending


def _leaves_batch(
    span: Span, by_key: dict[SpanKey, Span], passed: dict[SpanKey, Inherited]
) -> SpanKey | None:
    """The first ancestor of ``span`` outside the batch its attribution depends on, if any."""
    seen: set[str] = set()
    current = span
    while current.parent_span_id and current.span_id not in seen:
        seen.add(current.span_id)
        parent_key = (current.trace_id, current.parent_span_id)
        parent = by_key.get(parent_key)
        if parent is None:
            return parent_key
        if parent_key in passed:
            return None
        current = parent
    return None


def _resolve(
    key: SpanKey,
    by_key: dict[SpanKey, Span],
    passed: dict[SpanKey, Inherited],
    stored: dict[SpanKey, Inherited],
) -> Inherited:
    """What the batch span ``key`` passes down (memoised in ``passed``), walking up without
    recursion; a parent loop (malformed ids) is treated as a root."""
    chain: list[Span] = []
    on_chain: set[SpanKey] = set()
    top: Inherited | None = None
    current: SpanKey | None = key
    while current is not None:
        if current in passed:
            top = passed[current]
            break
        span = by_key.get(current)
        if span is None:  # outside the batch: stored, or missing
            top = stored.get(current) or Inherited(None, None, None, pending_on=current[1])
            break
        if current in on_chain:
            top = Inherited(None, None, None)
            break
        chain.append(span)
        on_chain.add(current)
        current = (span.trace_id, span.parent_span_id) if span.parent_span_id else None
    # Roots and complete spans are in ``passed`` from the start, so the walk ends at one of
    # them, outside the batch, or at a loop: ``top`` is set.
    result = top if top is not None else Inherited(None, None, None)
    for span in reversed(chain):
        result = _below(result, span)
        passed[(span.trace_id, span.span_id)] = result
    return result


class Settlement(NamedTuple):
    """What a stored pending span gets when its missing ancestor arrives: fill its unknown
    agent (with ``agent_from``) and task, then wait for ``pending_on`` if that is set."""

    trace_id: str
    span_id: str
    agent_name: str | None
    agent_from: str | None
    task_id: str | None
    pending_on: str | None


def settle(waiting: Iterable[Pending], passed: dict[SpanKey, Inherited]) -> list[Settlement]:
    """The settlements of the stored spans ``waiting`` on spans that the batch (what its spans
    pass down: ``passed``) has just brought."""
    settled = []
    for row in waiting:
        arrived = passed.get((row.trace_id, row.missing_span_id))
        if arrived is None:
            continue
        settled.append(
            Settlement(
                row.trace_id,
                row.span_id,
                arrived.agent_name,
                arrived.agent_from,
                arrived.task_id,
                arrived.pending_on,
            )
        )
    return settled
