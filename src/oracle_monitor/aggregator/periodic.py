"""`PeriodicTask`: the start/shutdown lifecycle of a background round run every interval.

``await start()`` returns at once (the rounds run in an asyncio task); ``await shutdown()``
lets a round in progress finish, then stops; it is idempotent. Rounds start every
``interval_s`` seconds (a long round shortens the pause after it, never overlaps the next).
Subclasses implement ``_round``, which must not raise: a round's failure is theirs to count.
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class PeriodicTask:
    """Runs ``await self._round()`` at start-up and then every ``interval_s`` seconds."""

    def __init__(self, interval_s: float, name: str) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._interval_s = interval_s
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def _round(self) -> None:
        """One round; overridden."""
        raise NotImplementedError

    async def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            await self._round()
            pause = max(0.0, self._interval_s - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), pause)

    async def start(self) -> None:
        """Begin; returns at once."""
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def shutdown(self) -> None:
        """Stop; a round in progress is finished first. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            self._stop.set()
            await task
