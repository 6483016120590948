"""`AgentTracker`: the agents' views for the snapshot loop, from the store's agent seconds.

Each call of `AgentTracker.views` reads the agent seconds the store changed since the last
call (`oracle_monitor.store.base.AgentSecondsFeed`: what it keeps per agent and second as it
stores spans and attributes them by hierarchy), takes them into an `AgentWindow`, drops the
seconds that left the window and returns the views: its cost follows the agents and the
seconds they had spans in since, not the spans. The first call (and any after the store could
no longer follow the cursor) reads the window's agent seconds once. A tracker belongs to one
reader at a time (the snapshot loop of the leader's term); a new one starts from the store.
"""

from __future__ import annotations

from typing import Any

from oracle_monitor.aggregator.agent_window import AGENT_WINDOW_NS, AgentWindow
from oracle_monitor.aggregator.agents import ACTIVE_NS
from oracle_monitor.store.base import AgentSecondsFeed, AgentSecondsRead, SecondsCursor

__all__ = ["AgentTracker"]


class AgentTracker:
    """The views of the agents with spans in the last ``window_ns`` (see the module docstring).

    ``last_read`` is how many agent seconds the last call read, ``full_reads`` how many calls
    read the whole window.
    """

    def __init__(
        self,
        store: AgentSecondsFeed,
        window_ns: int = AGENT_WINDOW_NS,
        active_ns: int = ACTIVE_NS,
    ) -> None:
        self._store = store
        self._window = AgentWindow(window_ns)
        self._active_ns = active_ns
        self._cursor: SecondsCursor | None = None
        self._since = -(2**63)
        self.last_read = 0
        self.full_reads = 0

    def views(self, now_ns: int) -> list[dict[str, Any]]:
        """Each agent's view at ``now_ns``, sorted by agent name, after reading the changes.

        The window never moves back: after the clock does, it stays where it was."""
        since = self._since = max(self._since, self._window.start(now_ns))
        self.apply(self._store.agent_seconds(since, self._cursor))
        self._window.expire(since)
        return self._window.views(now_ns, self._active_ns)

    def apply(self, read: AgentSecondsRead) -> None:
        """Take in one read of the feed (what `views` does after reading)."""
        if read.full:
            self._window.clear()
            self.full_reads += 1
        self._window.take(read.seconds)
        self._cursor = read.cursor
        self.last_read = len(read.seconds)
