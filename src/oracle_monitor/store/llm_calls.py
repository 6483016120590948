"""LLM calls added up per second, provider, model and agent: what `llm_costs` reads.

An *LLM call* (`is_llm_call`) is a span that names its provider and reports token counts, or
a rate limit or an error that no LLM proxy's span records instead (`CostGroup`). Reading the
cost of a window call by call grows with the calls in it (the LLM collector reads the last
five minutes and the last hour every few seconds, the Prometheus route every call ever). So
the writer keeps, in the transaction of each batch, one row of sums per second of start time,
provider, model and agent (`fold_calls`), and moves a call's sums to its agent's row when a
stored call is given its agent by hierarchy later (`moves`). A window then costs a read of its
rows plus, when it does not start and end on whole seconds, of the calls in the two seconds at
its ends (`whole_seconds`).

A *problem* (`is_problem`) is a call that was rate limited or failed with an ``error.type``;
those are few, and the writer notes them in a small index of their own.

This module is pure: the stores keep the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, TypeAlias

from oracle_monitor.model import Attributes, Span, StatusCode
from oracle_monitor.store.base import CostGroup

__all__ = [
    "FIELDS",
    "LLMKey",
    "Sums",
    "add_groups",
    "add_sums",
    "contribution",
    "fold_calls",
    "is_llm_call",
    "is_problem",
    "moves",
    "whole_seconds",
    "window_parts",
]

SECOND_NS: Final = 1_000_000_000
#: The sums kept per key, in `CostGroup`'s order (after its key).
FIELDS: Final = (
    "requests", "rate_limited", "errors", "input_tokens", "output_tokens",
    "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens", "cost_usd",
    "unpriced_requests",
)  # fmt: skip
#: (second of start time, provider, model, agent); ``""`` for a model or agent not known
#: (derived names are never empty).
LLMKey: TypeAlias = tuple[int, str, str, str]
Sums: TypeAlias = list[float]
_USAGE_BY: Final = "oracle.llm.usage_reported_by"
_ERROR: Final = StatusCode.ERROR


def _not_proxied(attributes: Attributes) -> bool:
    """Whether no LLM proxy's span records this client's attempt (its 429 or error)."""
    return attributes.get(_USAGE_BY) != "proxy"


def is_llm_call(span: Span) -> bool:
    """Whether ``span`` counts in `llm_costs` (see the module docstring)."""
    if span.provider is None:
        return False
    if span.input_tokens is not None or span.output_tokens is not None:
        return True
    return (span.rate_limited or span.status_code == _ERROR) and _not_proxied(span.attributes)


def is_problem(span: Span) -> bool:
    """Whether ``span`` is an LLM call that `llm_problems` lists: rate limited, or failed with
    an ``error.type``, and not recorded by a proxy's span instead."""
    return (
        span.provider is not None
        and (span.rate_limited or span.attributes.get("error.type") is not None)
        and _not_proxied(span.attributes)
    )


def contribution(span: Span) -> Sums:
    """What one LLM call adds to its key's sums."""
    cost = span.cost_usd
    unpriced = cost is None and (span.input_tokens is not None or span.output_tokens is not None)
    return [
        1, 1 if span.rate_limited else 0, 1 if span.status_code == _ERROR else 0,
        span.input_tokens or 0, span.output_tokens or 0, span.cache_read_tokens or 0,
        span.cache_creation_tokens or 0, span.reasoning_tokens or 0, cost or 0.0,
        1 if unpriced else 0,
    ]  # fmt: skip


def key_of(span: Span, agent: str | None) -> LLMKey:
    """The key of an LLM call (with ``agent`` as its agent)."""
    assert span.provider is not None
    return (span.start_time_ns // SECOND_NS, span.provider, span.model or "", agent or "")


def _add(into: dict[LLMKey, Sums], key: LLMKey, sums: Sums, sign: int = 1) -> None:
    found = into.get(key)
    if found is None:
        into[key] = [value * sign for value in sums]
    else:
        for index, value in enumerate(sums):
            found[index] += value * sign


def add_sums(into: dict[LLMKey, Sums], other: dict[LLMKey, Sums]) -> dict[LLMKey, Sums]:
    """Add the sums of ``other`` into ``into``; returns ``into``."""
    for key, sums in other.items():
        _add(into, key, sums)
    return into


def fold_calls(spans: Iterable[Span]) -> dict[LLMKey, Sums]:
    """The sums of the LLM calls among ``spans`` (stored once each), per key. (Runs for every
    batch the store writes: the calls are grouped first, then each group added up.)"""
    groups: dict[LLMKey, list[Span]] = {}
    for span in spans:
        provider = span.provider
        if provider is not None and (
            span.input_tokens is not None or span.output_tokens is not None or is_llm_call(span)
        ):
            key = (span.start_time_ns // SECOND_NS, provider, span.model or "",
                   span.agent_name or "")  # fmt: skip
            group = groups.get(key)
            if group is None:
                groups[key] = [span]
            else:
                group.append(span)
    return {key: _sums(calls) for key, calls in groups.items()}


def _sums(calls: list[Span]) -> Sums:
    """`contribution` of every call of ``calls``, added up."""
    return [
        len(calls),
        sum(1 for c in calls if c.rate_limited),
        sum(1 for c in calls if c.status_code == _ERROR),
        sum(c.input_tokens or 0 for c in calls),
        sum(c.output_tokens or 0 for c in calls),
        sum(c.cache_read_tokens or 0 for c in calls),
        sum(c.cache_creation_tokens or 0 for c in calls),
        sum(c.reasoning_tokens or 0 for c in calls),
        sum(c.cost_usd or 0.0 for c in calls),
        sum(
            1
            for c in calls
            if c.cost_usd is None and (c.input_tokens is not None or c.output_tokens is not None)
        ),
    ]


def moves(calls: Iterable[tuple[Span, str]]) -> dict[LLMKey, Sums]:
    """The changes of the sums when stored LLM calls without an agent get one: each
    ``(call, agent)`` leaves the key without agent for the key of ``agent``."""
    found: dict[LLMKey, Sums] = {}
    for call, agent in calls:
        sums = contribution(call)
        _add(found, key_of(call, None), sums, -1)
        _add(found, key_of(call, agent), sums)
    return found


def whole_seconds(start_ns: int, end_ns: int) -> tuple[int, int] | None:
    """The first and last second wholly inside [start_ns, end_ns], or ``None``: the rest of
    the window (at most a second at each end) is read call by call."""
    first = -(-start_ns // SECOND_NS)
    last = (end_ns + 1) // SECOND_NS - 1
    return (first, last) if first <= last else None


#: Time bounds of a window left open (all time).
MIN_NS: Final = -(2**63)
MAX_NS: Final = 2**63 - 1
#: An empty range of seconds or nanoseconds.
_NONE: Final = (1, 0)


def window_parts(
    start_ns: int | None, end_ns: int | None
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """How `llm_costs` reads the window [start_ns, end_ns] (``None`` or an end of 0: open):
    the first and last whole second, whose sums it adds, and the two nanosecond ranges at its
    ends, whose calls it reads one by one. An empty range is ``(1, 0)``."""
    start = MIN_NS if start_ns is None else start_ns
    end = end_ns or MAX_NS
    seconds = whole_seconds(start, end)
    if seconds is None:
        return _NONE, (start, end), _NONE
    first, last = seconds
    return seconds, (start, first * SECOND_NS - 1), (min((last + 1) * SECOND_NS, MAX_NS), end)


def add_groups(parts: Iterable[Iterable[CostGroup]]) -> list[CostGroup]:
    """`CostGroup`s of the same key added up, costliest first (then most requests)."""
    totals: dict[str | None, Sums] = {}
    for part in parts:
        for group in part:
            sums = [getattr(group, name) for name in FIELDS]
            if group.key in totals:
                totals[group.key] = [a + b for a, b in zip(totals[group.key], sums, strict=True)]
            else:
                totals[group.key] = sums
    groups = [_group(key, sums) for key, sums in totals.items() if sums[0] > 0]
    return sorted(groups, key=lambda g: (-g.cost_usd, -g.requests))


def _group(key: str | None, sums: Sums) -> CostGroup:
    counts = [int(value) for value in sums]
    return CostGroup(
        key, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6],
        counts[7], float(sums[8]), counts[9],
    )  # fmt: skip
