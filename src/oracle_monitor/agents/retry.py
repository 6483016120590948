"""Retry policy of tool calls: backoff delays and the context that grows with each retry."""

from __future__ import annotations

import os
import random

__all__ = ["RetryContext", "backoff_delay", "rss_bytes"]

MiB = 1 << 20
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def backoff_delay(
    retry: int,
    base_s: float,
    cap_s: float,
    *,
    retry_after_s: float | None = None,
    jitter: float = 0.2,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first retry).

    Exponential (``base_s * 2**(retry - 1)``, at most ``cap_s``), at least the provider's
    ``retry-after`` when it sent one (also capped), plus up to ``jitter`` of itself at random
    so that replicas retrying together spread out.
    """
    delay = min(cap_s, base_s * 2 ** max(0, retry - 1))
    if retry_after_s is not None:
        delay = max(delay, min(cap_s, retry_after_s))
    return float(delay * (1 + jitter * (rng or random).random()))


class RetryContext:
    """What an agent re-sends on each retry of a call: the earlier attempts, accumulating.

    `grow` adds a note (what failed) and ``megabytes`` of real, touched memory standing for
    the context carried along (documents, earlier answers); it is held until the call ends,
    so a long retry loop weighs on the process the way it does in real agents.
    """

    def __init__(self, seed: str) -> None:
        self.notes: list[str] = [seed]
        self.retries = 0
        self._blocks: list[bytearray] = []

    def grow(self, note: str, megabytes: float) -> None:
        """Record ``note`` and hold ``megabytes`` more of context."""
        self.notes.append(note)
        self.retries += 1
        size = int(megabytes * MiB)
        if size <= 0:
            return
        pattern = "\n".join(self.notes).encode() or b"."
        block = bytearray(pattern) * (size // len(pattern) + 1)  # written: resident, not lazy
        del block[size:]
        self._blocks.append(block)

    def note(self, text: str) -> None:
        """Record what happened (an attempt's failure) without holding more context."""
        self.notes.append(text)

    @property
    def held_bytes(self) -> int:
        """Bytes of context held beyond the notes."""
        return sum(len(block) for block in self._blocks)

    def prompt(self, limit: int = 2000, context_chars: int = 0) -> str:
        """What is re-sent: ``context_chars`` of carried context, then the notes (most recent
        last) cut to their last ``limit`` characters."""
        notes = "\n".join(self.notes)
        carried = (notes * (context_chars // max(1, len(notes)) + 1))[:context_chars]
        return (carried + "\n" if carried else "") + notes[-limit:]


def rss_bytes() -> int:
    """This process's resident set size now (Linux ``/proc``; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0
