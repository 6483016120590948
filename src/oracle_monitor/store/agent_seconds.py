"""Per agent and second of start time, what the agents' views need of their spans (pure).

A store keeps one `AgentSecond` per agent and second (per writer, where several write at once)
and updates it in the transaction that stores a span with its agent, or gives a stored span
its agent or task by hierarchy (`oracle_monitor.store.attribution`): `fold` turns those spans
(`AgentActivity` rows, `activity_of` of a span) into agent seconds, `merge` adds them to the
stored ones. The snapshot loop reads the agent seconds that changed since its last round
(`oracle_monitor.store.base.AgentSecondsFeed`), so its cost follows agents and seconds, not
spans (`oracle_monitor.aggregator.agent_window`).

One second is exact for the views because their window starts at a whole second: the spans of
one second enter and leave it together, so of them only sums, the latest start and, for each
of `LATEST_FIELDS`, the latest span having it (by end time, then span id) matter:

* ``last``: any span (value: its trace id);
* ``task_span``: a task span, ``gen_ai.operation.name=invoke_agent`` (value: whether it failed);
* ``task``: a span naming a task (value: the task id);
* ``reasoning``: a span with ``oracle.agent.reasoning`` (value: ``[reasoning, tools planned]``);
* ``agent_id``: a span with ``gen_ai.agent.id``;
* ``own_pod``: a span with a pod naming its agent itself (not inherited from above);
* ``pod``: a span with a pod.

Tokens and costs count as the views count them (a negative or missing value as 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any, Final

import orjson

from oracle_monitor.model import Attributes, Span, StatusCode
from oracle_monitor.store.attribution import Settlement
from oracle_monitor.store.base import AgentActivity, AgentSecond, Candidate
from oracle_monitor.store.codec import decode_attributes

__all__ = [
    "AGENT_ID",
    "ATTRIBUTE_MARKS",
    "LAST",
    "LATEST_FIELDS",
    "OWN_POD",
    "POD",
    "REASONING",
    "SECOND_NS",
    "STORED_COLUMNS",
    "TASK",
    "TASK_OPERATION",
    "TASK_SPAN",
    "Key",
    "activity_of",
    "activity_of_stored",
    "decode_latest",
    "encode_latest",
    "fold",
    "fold_settled",
    "fold_spans",
    "merge",
    "merge_seconds",
]

SECOND_NS: Final = 1_000_000_000
TASK_OPERATION: Final = "invoke_agent"
LATEST_FIELDS: Final = ("last", "task_span", "task", "reasoning", "agent_id", "own_pod", "pod")
LAST, TASK_SPAN, TASK, REASONING, AGENT_ID, OWN_POD, POD = range(7)
Key = tuple[str, int, int]  # agent, second, writer
_BY_END: Final = attrgetter("end_time_ns", "span_id")
_ERROR: Final = StatusCode.ERROR
_OPERATION, _AGENT_ID = "gen_ai.operation.name", "gen_ai.agent.id"
_REASONING, _PLANNED = "oracle.agent.reasoning", "oracle.agent.tools_planned"


def _from_attributes(attrs: Attributes) -> tuple[str | None, ...]:
    """Operation, agent id, reasoning (as text) of attributes, ``None`` for each missing."""
    operation, agent_id, reasoning = (
        attrs.get(_OPERATION),
        attrs.get(_AGENT_ID),
        attrs.get(_REASONING),
    )
    return (
        str(operation) if operation is not None else None,
        str(agent_id) if agent_id is not None else None,
        str(reasoning) if reasoning is not None else None,
    )


def _planned(attrs: Attributes) -> tuple[str, ...] | None:
    planned = attrs.get(_PLANNED)
    return tuple(str(t) for t in planned) if isinstance(planned, list) else None


def activity_of(span: Span) -> AgentActivity:
    """The `AgentActivity` row of a span (its agent name as it has it, "" for none)."""
    operation, agent_id, reasoning = _from_attributes(span.attributes)
    return AgentActivity(
        agent_name=span.agent_name or "", span_id=span.span_id,
        start_time_ns=span.start_time_ns, end_time_ns=span.end_time_ns, is_error=span.is_error,
        task_id=span.task_id, pod_name=span.pod_name, input_tokens=span.input_tokens,
        output_tokens=span.output_tokens, cost_usd=span.cost_usd, operation=operation,
        agent_id=agent_id, reasoning=reasoning, tools_planned=_planned(span.attributes),
        agent_inherited=span.agent_from is not None, trace_id=span.trace_id,
    )  # fmt: skip


#: What `activity_of_stored` reads of a stored span, in this order (the attributes may be
#: left out, as NULL, when they hold none of `ATTRIBUTE_MARKS`).
STORED_COLUMNS: Final = (
    "agent_name", "start_time_ns", "end_time_ns", "status_code", "task_id", "pod_name",
    "input_tokens", "output_tokens", "cost_usd", "agent_from", "attributes",
)  # fmt: skip
#: Texts without which attributes (as JSON) hold nothing a fold reads (the operation only
#: matters when it is a task's).
ATTRIBUTE_MARKS: Final = (f'"{TASK_OPERATION}"', f'"{_AGENT_ID}"', f'"{_REASONING}"')
_MARKS: Final = ATTRIBUTE_MARKS


def activity_of_stored(
    trace_id: str,
    span_id: str,
    row: Sequence[Any],
    attributed: tuple[str | None, str | None, str | None] | None = None,
) -> AgentActivity:
    """What `fold` needs of a stored span, from its `STORED_COLUMNS`: `activity_of` but that
    the attributes (JSON text) are decoded only when they may hold a task operation, an
    agent id or reasoning, and ``operation`` is left out otherwise. ``attributed``: the
    agent name, its source and the task to take instead of the row's."""
    agent, task, source = attributed or (row[0], row[4], row[9])
    text: str | None = row[10]
    operation = agent_id = reasoning = None
    planned = None
    if text and (_MARKS[0] in text or _MARKS[1] in text or _MARKS[2] in text):
        attrs = decode_attributes(text)
        operation, agent_id, reasoning = _from_attributes(attrs)
        planned = _planned(attrs)
    return AgentActivity(
        agent or "", span_id, row[1], row[2], row[3] == _ERROR, task, row[5], row[6], row[7],
        row[8], operation, agent_id, reasoning, planned, source is not None, trace_id,
    )  # fmt: skip


def fold_settled(
    before: Mapping[tuple[str, str], Sequence[Any]],
    settlements: Iterable[Settlement],
    writer: int = 0,
) -> dict[Key, AgentSecond]:
    """The agent seconds of stored spans that ``settlements`` attribute: ``before`` holds
    their `STORED_COLUMNS` as they were, by (trace id, span id); each settlement fills the
    agent (with its source) and the task a span lacks, in order, as the stores' update does.
    A span that gets its agent now is counted; one that had it only updates its latest
    fields; one still without an agent is left out. (`fold` of `activity_of_stored` rows,
    without making them: a batch may attribute thousands of spans.)"""
    after: dict[tuple[str, str], tuple[str | None, str | None, str | None]] = {}
    for done in settlements:
        key = (done.trace_id, done.span_id)
        state = after.get(key)
        if state is None:
            row = before.get(key)
            if row is None:
                continue
            state = (row[0], row[4], row[9])
        agent, task, source = state
        if agent is None:
            agent, source = done.agent_name, done.agent_from
        after[key] = (agent, task if task is not None else done.task_id, source)
    seconds: dict[Key, AgentSecond] = {}
    for (trace_id, span_id), (agent, task, source) in after.items():
        if not agent:
            continue
        row = before[(trace_id, span_id)]
        start, end = row[1], row[2]
        at = (agent, start // SECOND_NS, writer)
        second = seconds.get(at)
        if second is None:
            second = seconds[at] = AgentSecond(agent, at[1], writer)
        latest = second.latest
        if start > second.latest_start:
            second.latest_start = start
        if _later(latest[LAST], end, span_id):
            latest[LAST] = (end, span_id, trace_id)
        if task and _later(latest[TASK], end, span_id):
            latest[TASK] = (end, span_id, task)
        if pod := row[5]:
            if _later(latest[POD], end, span_id):
                latest[POD] = (end, span_id, pod)
            if source is None and _later(latest[OWN_POD], end, span_id):
                latest[OWN_POD] = (end, span_id, pod)
        text = row[10]
        if text and (_MARKS[0] in text or _MARKS[1] in text or _MARKS[2] in text):
            _add(second, activity_of_stored(trace_id, span_id, row, (agent, task, source)), False)
        if row[0] is None:  # it got its agent now: count it
            second.spans += 1
            second.input_tokens += max(row[6] or 0, 0)
            second.output_tokens += max(row[7] or 0, 0)
            second.cost_usd += max(row[8] or 0.0, 0.0)
            second.errors += row[3] == _ERROR
    return seconds


def _later(old: Candidate | None, end: int, span_id: str) -> bool:
    return old is None or end > old[0] or (end == old[0] and span_id > old[1])


def _add(second: AgentSecond, row: AgentActivity, count: bool) -> None:
    """Take one span into its agent second; ``count``: into its sums too."""
    end, span_id, latest = row.end_time_ns, row.span_id, second.latest
    if row.start_time_ns > second.latest_start:
        second.latest_start = row.start_time_ns
    if _later(latest[LAST], end, span_id):
        latest[LAST] = (end, span_id, row.trace_id)
    if row.operation == TASK_OPERATION and _later(latest[TASK_SPAN], end, span_id):
        latest[TASK_SPAN] = (end, span_id, row.is_error)
    if row.task_id and _later(latest[TASK], end, span_id):
        latest[TASK] = (end, span_id, row.task_id)
    if row.reasoning is not None and _later(latest[REASONING], end, span_id):
        planned = list(row.tools_planned) if row.tools_planned is not None else None
        latest[REASONING] = (end, span_id, [row.reasoning, planned])
    if row.agent_id is not None and _later(latest[AGENT_ID], end, span_id):
        latest[AGENT_ID] = (end, span_id, row.agent_id)
    if row.pod_name:
        if _later(latest[POD], end, span_id):
            latest[POD] = (end, span_id, row.pod_name)
        if not row.agent_inherited and _later(latest[OWN_POD], end, span_id):
            latest[OWN_POD] = (end, span_id, row.pod_name)
    if count:
        second.spans += 1
        second.input_tokens += max(row.input_tokens or 0, 0)
        second.output_tokens += max(row.output_tokens or 0, 0)
        second.cost_usd += max(row.cost_usd or 0.0, 0.0)
        second.errors += row.is_error


def fold(rows: Iterable[tuple[AgentActivity, bool]], writer: int = 0) -> dict[Key, AgentSecond]:
    """The agent seconds of ``rows`` (span, whether to count it: false for a span counted
    before whose task was given since); rows without an agent name are left out."""
    seconds: dict[Key, AgentSecond] = {}
    for row, count in rows:
        if row.agent_name:
            key = (row.agent_name, row.start_time_ns // SECOND_NS, writer)
            second = seconds.get(key)
            if second is None:
                second = seconds[key] = AgentSecond(key[0], key[1], writer)
            _add(second, row, count)
    return seconds


def _first(ordered: list[Span], attribute: str) -> Span | None:
    """The first of ``ordered`` (latest first) with ``attribute`` among its attributes."""
    for span in ordered:
        if span.attributes.get(attribute) is not None:
            return span
    return None


def fold_spans(spans: Iterable[Span], writer: int = 0) -> dict[Key, AgentSecond]:
    """`fold` of stored spans with their agent, all counted, straight from the spans (what a
    store does with each batch). Each second's spans are sorted latest first, so each latest
    field is usually found at the first span or soon after."""
    groups: dict[Key, list[Span]] = {}
    for span in spans:
        if span.agent_name:
            key = (span.agent_name, span.start_time_ns // SECOND_NS, writer)
            group = groups.get(key)
            if group is None:
                groups[key] = [span]
            else:
                group.append(span)
    seconds: dict[Key, AgentSecond] = {}
    for key, group in groups.items():
        second = seconds[key] = AgentSecond(key[0], key[1], writer, spans=len(group))
        second.latest_start = max(s.start_time_ns for s in group)
        second.input_tokens = sum(t for s in group if (t := s.input_tokens) and t > 0)
        second.output_tokens = sum(t for s in group if (t := s.output_tokens) and t > 0)
        second.cost_usd = sum(c for s in group if (c := s.cost_usd) and c > 0.0) + 0.0
        second.errors = sum(1 for s in group if s.status_code == _ERROR)
        ordered = sorted(group, key=_BY_END, reverse=True)
        latest = second.latest
        last = ordered[0]
        latest[LAST] = (last.end_time_ns, last.span_id, last.trace_id)
        found: Span | None
        for found in ordered:
            if found.attributes.get(_OPERATION) == TASK_OPERATION:
                latest[TASK_SPAN] = (found.end_time_ns, found.span_id, found.is_error)
                break
        for found in ordered:
            if found.task_id:
                latest[TASK] = (found.end_time_ns, found.span_id, found.task_id)
                break
        if found := _first(ordered, _REASONING):
            planned = found.attributes.get(_PLANNED)
            tools = [str(t) for t in planned] if isinstance(planned, list) else None
            reasoning = str(found.attributes[_REASONING])
            latest[REASONING] = (found.end_time_ns, found.span_id, [reasoning, tools])
        if found := _first(ordered, _AGENT_ID):
            latest[AGENT_ID] = (found.end_time_ns, found.span_id, str(found.attributes[_AGENT_ID]))
        for found in ordered:
            if found.pod_name:
                latest[POD] = (found.end_time_ns, found.span_id, found.pod_name)
                break
        for found in ordered:
            if found.pod_name and found.agent_from is None:
                latest[OWN_POD] = (found.end_time_ns, found.span_id, found.pod_name)
                break
    return seconds


def merge_seconds(
    into: dict[Key, AgentSecond], other: dict[Key, AgentSecond]
) -> dict[Key, AgentSecond]:
    """Add the agent seconds of ``other`` into ``into`` (merged, or added); returns ``into``."""
    for key, second in other.items():
        if key in into:
            merge(into[key], second)
        else:
            into[key] = second
    return into


def merge(into: AgentSecond, other: AgentSecond) -> None:
    """Add ``other`` (the same agent and second) into ``into``."""
    into.spans += other.spans
    into.latest_start = max(into.latest_start, other.latest_start)
    into.input_tokens += other.input_tokens
    into.output_tokens += other.output_tokens
    into.cost_usd += other.cost_usd
    into.errors += other.errors
    for index, candidate in enumerate(other.latest):
        if candidate is not None and _later(into.latest[index], candidate[0], candidate[1]):
            into.latest[index] = candidate


def encode_latest(second: AgentSecond) -> str:
    """``latest`` as stored: a JSON array of `LATEST_FIELDS`' candidates (null for none)."""
    return orjson.dumps(second.latest).decode()


def decode_latest(text: str) -> list[Candidate | None]:
    """``latest`` from its stored JSON (candidates come back as tuples)."""
    items: list[Any] = orjson.loads(text)
    return [tuple(item) if item is not None else None for item in items]
