"""Waiting on a condition instead of sleeping a fixed time: one helper for every test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

__all__ = ["wait_for", "wait_for_async"]


def _failure(what: str, timeout_s: float, last: object) -> AssertionError:
    return AssertionError(f"timed out after {timeout_s} s waiting for {what} (last: {last!r})")


def wait_for(
    check: Callable[[], T], timeout_s: float = 15.0, what: str = "the condition",
    every_s: float = 0.05,
) -> T:  # fmt: skip
    """``check()``'s first truthy answer, asked every ``every_s`` seconds; an
    `AssertionError` naming ``what`` after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise _failure(what, timeout_s, last)
        time.sleep(every_s)


async def wait_for_async(
    check: Callable[[], T], timeout_s: float = 15.0, what: str = "the condition",
    every_s: float = 0.05,
) -> T:  # fmt: skip
    """`wait_for` in a coroutine: the event loop runs while it waits."""
    deadline = time.monotonic() + timeout_s
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise _failure(what, timeout_s, last)
        await asyncio.sleep(every_s)
