"""Each agent's view over its spans of a sliding window, from the store's agent seconds (pure;
no I/O).

`AgentWindow.views` is `oracle_monitor.aggregator.agents.views_of_activity` of the agent spans
that started at or after `AgentWindow.start` (the window's length before now, rounded down to
a whole second), built from what stores keep per agent and second of start time
(`oracle_monitor.store.base.AgentSecond`, `oracle_monitor.store.agent_seconds`): a second's
spans enter and leave the window together. Its state follows agents and seconds, not spans.
Per agent:

* the agent seconds of the window, by (second, writer), and their sums;
* for each latest field (`oracle_monitor.store.agent_seconds.LATEST_FIELDS`), a `Latest`: the
  candidates of those seconds that may still be the latest one (by end time, then span id)
  as older seconds leave the window;
* the latest start (a failed task is the agent's status until a span starts after it ended).

`take` an agent second again whenever it changed (it replaces what was taken of it); `expire`
drops the seconds before the window. A cost total is a running sum of floats, so its last
digits may differ from adding the spans' costs in another order.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from oracle_monitor.aggregator.agents import ACTIVE_NS
from oracle_monitor.store.agent_seconds import (
    AGENT_ID,
    LAST,
    LATEST_FIELDS,
    OWN_POD,
    POD,
    REASONING,
    SECOND_NS,
    TASK,
    TASK_SPAN,
)
from oracle_monitor.store.base import AgentSecond

__all__ = ["AGENT_WINDOW_NS", "AgentWindow", "Latest"]

AGENT_WINDOW_NS: Final = 300_000_000_000  # the views cover their spans of the last 5 minutes
V = TypeVar("V")
Key = tuple[int, str]  # end time, span id


class Latest(Generic[V]):
    """The value given with the latest candidate (by key: end time, then span id) of those
    added at a start at or after the time last given to `expire`.

    Keeps only the candidates no other one dominates (started no earlier and has no smaller
    key): sorted by start, their keys decrease, so the first one left after `expire` is the
    latest. Adding one costs a binary search plus the candidates it dominates, each removed
    once.
    """

    __slots__ = ("_keys", "_starts", "_values")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._keys: list[Key] = []
        self._values: list[V] = []

    def add(self, start: int, key: Key, value: V) -> None:
        """Note a candidate at ``start`` with ``key`` and ``value``."""
        starts, keys = self._starts, self._keys
        if not starts or (start >= starts[-1] and key >= keys[0]):  # the usual: the newest
            self._starts, self._keys, self._values = [start], [key], [value]
            return
        at = bisect_left(starts, start)
        if at < len(starts) and keys[at] >= key:
            return  # dominated: one that started no earlier has no smaller key
        stop = at + 1 if at < len(starts) and starts[at] == start else at
        first = at
        while first > 0 and keys[first - 1] <= key:
            first -= 1
        starts[first:stop] = [start]
        keys[first:stop] = [key]
        self._values[first:stop] = [value]

    def expire(self, since: int) -> None:
        """Forget the candidates that started before ``since``."""
        gone = bisect_left(self._starts, since)
        if gone:
            del self._starts[:gone], self._keys[:gone], self._values[:gone]

    @property
    def value(self) -> V | None:
        """The latest candidate's value, ``None`` when none is left."""
        return self._values[0] if self._values else None

    @property
    def key(self) -> Key | None:
        """The latest candidate's key, ``None`` when none is left."""
        return self._keys[0] if self._keys else None

    def __len__(self) -> int:
        return len(self._starts)


@dataclass(slots=True)
class _Agent:
    """One agent's state (see the module docstring)."""

    latest: list[Latest[Any]] = field(default_factory=lambda: [Latest() for _ in LATEST_FIELDS])
    seconds: dict[tuple[int, int], AgentSecond] = field(default_factory=dict)
    heap: list[tuple[int, int]] = field(default_factory=list)
    latest_start: int = -(2**63)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    errors: int = 0

    def take(self, second: AgentSecond) -> None:
        key = (second.second, second.writer)
        old = self.seconds.get(key)
        if old is None:
            heapq.heappush(self.heap, key)
        else:
            self._count(old, -1)
        self.seconds[key] = second
        self._count(second, 1)
        self.latest_start = max(self.latest_start, second.latest_start)
        for latest, candidate in zip(self.latest, second.latest, strict=True):
            if candidate is not None:
                latest.add(second.second, (candidate[0], candidate[1]), candidate[2])

    def _count(self, second: AgentSecond, sign: int) -> None:
        self.input_tokens += sign * second.input_tokens
        self.output_tokens += sign * second.output_tokens
        self.cost_usd += sign * second.cost_usd
        self.errors += sign * second.errors

    def expire(self, since_second: int) -> bool:
        """Forget the seconds before ``since_second``; whether any is left."""
        for latest in self.latest:
            latest.expire(since_second)
        heap = self.heap
        while heap and heap[0][0] < since_second:
            self._count(self.seconds.pop(heapq.heappop(heap)), -1)
        if not heap:
            self.cost_usd = 0.0  # no rounding left behind
        return bool(heap)

    def view(self, name: str, now_ns: int, active_ns: int) -> dict[str, Any]:
        latest = self.latest
        last, task_span = latest[LAST].key, latest[TASK_SPAN].key
        assert last is not None
        end = last[0]
        if task_span is not None and latest[TASK_SPAN].value and self.latest_start <= task_span[0]:
            status = "error"
        elif end >= now_ns - active_ns:
            status = "running"
        else:
            status = "idle"
        reasoning, own_pod = latest[REASONING].value, latest[OWN_POD].value
        return {
            "name": name,
            "id": latest[AGENT_ID].value,
            "status": status,
            "current_task": latest[TASK].value,
            "current_trace": latest[LAST].value,
            "last_reasoning": reasoning[0] if reasoning else None,
            "tools_planned": list(reasoning[1] or ()) if reasoning else [],
            "tokens": {"input": self.input_tokens, "output": self.output_tokens},
            "cost_usd": self.cost_usd,
            "errors": self.errors,
            "pod": own_pod if own_pod is not None else latest[POD].value,
            "last_seen_ns": max(end, 0),
        }


class AgentWindow:
    """Every agent's state over the window (see the module docstring)."""

    def __init__(self, window_ns: int = AGENT_WINDOW_NS) -> None:
        self.window_ns = window_ns
        self._agents: dict[str, _Agent] = {}

    def start(self, now_ns: int) -> int:
        """The earliest start time the window covers at ``now_ns``: its length before,
        rounded down to a whole second."""
        return (now_ns - self.window_ns) // SECOND_NS * SECOND_NS

    def take(self, seconds: Iterable[AgentSecond]) -> None:
        """Take in agent seconds, each replacing what was taken of it before."""
        agents = self._agents
        for second in seconds:
            agent = agents.get(second.agent_name)
            if agent is None:
                agent = agents[second.agent_name] = _Agent()
            agent.take(second)

    def expire(self, since_ns: int) -> None:
        """Forget the seconds before ``since_ns`` (a whole second), and agents left without."""
        since_second = since_ns // SECOND_NS
        gone = [name for name, agent in self._agents.items() if not agent.expire(since_second)]
        for name in gone:
            del self._agents[name]

    def clear(self) -> None:
        """Forget everything."""
        self._agents.clear()

    def views(self, now_ns: int, active_ns: int = ACTIVE_NS) -> list[dict[str, Any]]:
        """One JSON-ready view per agent with a span in the window, sorted by agent name."""
        agents = self._agents
        return [agents[name].view(name, now_ns, active_ns) for name in sorted(agents)]

    def __len__(self) -> int:
        return len(self._agents)
