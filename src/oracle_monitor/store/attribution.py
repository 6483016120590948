"""Agent and task attribution by trace hierarchy, as every store applies it when writing.

A span's agent is its own (`oracle_monitor.processing.conventions.derive`: its attributes, else its
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

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import NamedTuple, TypeAlias

from oracle_monitor.model import Span

__all__ = [
    "Inherited",
    "Lookup",
    "Pending",
    "Settlement",
    "SpanKey",
    "arrivals",
    "attribute_batch",
    "attributed",
    "settle",
]

SpanKey: TypeAlias = tuple[str, str]  # (trace_id, span_id), lowercase hex


class Inherited(NamedTuple):
    """What a span passes down to spans below it that name no agent or task of their own.

    ``agent_from`` is the id of the span that names ``agent_name``. ``pending_on`` is the
    missing ancestor this span waits for, when its agent or task is still unknown because of
    it; ``None`` when nothing above can change it (the root was reached, or both are known).
    """

    agent_name: str | None
    agent_from: str | None
    task_id: str | None
    pending_on: str | None = None

    @classmethod
    def of_stored(cls, span_id: str, agent_name: str | None, agent_from: str | None,
                  task_id: str | None, pending_on: str | None) -> Inherited:  # fmt: skip
        """What a stored (or attributed) span passes down: its columns and its pending row."""
        source = (agent_from or span_id) if agent_name is not None else None
        waiting = None if agent_name is not None and task_id is not None else pending_on
        return cls(agent_name, source, task_id, waiting)

    @classmethod
    def of_span(cls, span: Span, pending_on: str | None = None) -> Inherited:
        """`of_stored` of an attributed span of a batch."""
        return cls.of_stored(span.span_id, span.agent_name, span.agent_from, span.task_id,
                             pending_on)  # fmt: skip


class Pending(NamedTuple):
    """A span whose agent or task waits for the missing span ``missing_span_id``."""

    trace_id: str
    missing_span_id: str
    span_id: str


#: Given the keys of stored spans a batch refers to, what each of those that is stored passes
#: down (keys not stored are left out).
Lookup: TypeAlias = Callable[[Collection[SpanKey]], dict[SpanKey, Inherited]]


def _final(span: Span) -> bool:
    """Whether nothing above the span can add to it: it knows both, or it is a root."""
    return (span.agent_name is not None and span.task_id is not None) or not span.parent_span_id


def attributed(spans: Iterable[Span]) -> bool:
    """Whether `attribute_batch` has nothing to give these spans (each knows its agent and
    task, or is a root): then what depends on their agents can be worked out before."""
    return all(map(_final, spans))


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


def attribute_batch(spans: Sequence[Span], lookup: Lookup) -> list[Pending]:
    """Give each span of the batch its agent and task by hierarchy (fills ``agent_name``,
    ``agent_from`` and ``task_id`` in place); returns the pending rows of the spans of the
    batch that wait for a missing ancestor.

    Ancestors are looked for in the batch first, then (one `lookup` call, only when a span
    lacks an agent or task and its chain leaves the batch) among the stored spans. A batch in
    which every span knows both, or is a root, costs one pass over it. Afterwards a span of
    the batch passes down `Inherited.of_span` (with its pending row's missing id, if any).
    """
    wanting = [s for s in spans if not _final(s)]
    if not wanting:
        return []
    by_key = {(s.trace_id, s.span_id): s for s in spans}
    passed: dict[SpanKey, Inherited] = {}
    pending: list[Pending] = []
    rest = []
    for span in wanting:  # the common case first: the parent is in the batch and final
        parent = by_key.get((span.trace_id, span.parent_span_id))
        if parent is not None and _final(parent):
            _take(span, _below(Inherited.of_span(parent), span), passed, pending)
        else:
            rest.append(span)
    if rest:
        outside = {top for s in rest if (top := _leaves_batch(s, by_key)) is not None}
        stored = lookup(outside) if outside else {}
        for span in rest:
            _take(span, _resolve(span, by_key, passed, stored), passed, pending)
    return pending


def _take(
    span: Span, got: Inherited, passed: dict[SpanKey, Inherited], pending: list[Pending]
) -> None:
    """Give ``span`` what it inherits (``got``) and note what it passes down."""
    passed[(span.trace_id, span.span_id)] = got
    if span.agent_name is None and got.agent_name is not None:
        span.agent_name, span.agent_from = got.agent_name, got.agent_from
    if span.task_id is None:
        span.task_id = got.task_id
    if got.pending_on is not None:
        pending.append(Pending(span.trace_id, got.pending_on, span.span_id))


def _leaves_batch(span: Span, by_key: dict[SpanKey, Span]) -> SpanKey | None:
    """The first ancestor of ``span`` outside the batch its attribution depends on, if any."""
    seen: set[str] = set()
    current = span
    while current.span_id not in seen:
        seen.add(current.span_id)
        parent_key = (current.trace_id, current.parent_span_id)
        parent = by_key.get(parent_key)
        if parent is None:
            return parent_key
        if _final(parent):
            return None
        current = parent
    return None


def _resolve(
    span: Span,
    by_key: dict[SpanKey, Span],
    passed: dict[SpanKey, Inherited],
    stored: dict[SpanKey, Inherited],
) -> Inherited:
    """What the batch span ``span`` (not final) passes down, walking up without recursion and
    remembering each span walked in ``passed``; a parent loop (malformed ids) ends the walk."""
    chain: list[Span] = []
    on_chain: set[str] = set()
    current = span
    while True:
        chain.append(current)
        on_chain.add(current.span_id)
        parent_key = (current.trace_id, current.parent_span_id)
        top = passed.get(parent_key)
        if top is not None:
            break
        parent = by_key.get(parent_key)
        if parent is None:  # outside the batch: stored, or missing
            top = stored.get(parent_key) or Inherited(None, None, None, parent_key[1])
            break
        if parent.span_id in on_chain:
            top = Inherited(None, None, None)
            break
        if _final(parent):
            top = Inherited.of_span(parent)
            break
        current = parent
    for walked in reversed(chain):
        top = _below(top, walked)
        passed[(walked.trace_id, walked.span_id)] = top
    return top


class Settlement(NamedTuple):
    """What a stored pending span gets when its missing ancestor arrives: fill its unknown
    agent (with ``agent_from``) and task, then wait for ``pending_on`` if that is set."""

    trace_id: str
    span_id: str
    agent_name: str | None
    agent_from: str | None
    task_id: str | None
    pending_on: str | None


def arrivals(
    spans: Iterable[Span], pending: Iterable[Pending], traces: Collection[str]
) -> dict[SpanKey, Inherited]:
    """What the attributed spans of a batch that belong to ``traces`` pass down, given the
    batch's pending rows (`settle`'s ``arrived``)."""
    waiting_on = {(p.trace_id, p.span_id): p.missing_span_id for p in pending}
    return {
        (s.trace_id, s.span_id): Inherited.of_span(s, waiting_on.get((s.trace_id, s.span_id)))
        for s in spans
        if s.trace_id in traces
    }


def settle(waiting: Iterable[Pending], arrived: Mapping[SpanKey, Inherited]) -> list[Settlement]:
    """The settlements of the stored spans ``waiting`` on spans that have just arrived
    (``arrived``: what each passes down, `Inherited.of_span`)."""
    settled = []
    for row in waiting:
        got = arrived.get((row.trace_id, row.missing_span_id))
        if got is not None:
            settled.append(Settlement(row.trace_id, row.span_id, *got))
    return settled
