"""Pure lag arithmetic: offsets and timestamps in, lag, throughput and DLQ depth out.

Nothing here does I/O. Offsets are Kafka offsets (the *log end offset* is the offset the next
produced message will get); times are seconds since the epoch as floats.

Tansu reports the high watermark as the last batch's base offset + 1, so with multi-record
batches the end offset reads low and ``end - committed`` can be negative: such lag is clamped
to 0 and flagged (`PartitionLag.clamped`), never reported as negative.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """One consumer group's position on one partition."""

    committed: int
    end_offset: int
    lag: int
    clamped: bool
    lag_seconds: float | None = None
    #: ``message`` (the next unconsumed message's timestamp) or ``history`` (interpolated).
    lag_seconds_from: str | None = None


def lag_messages(committed: int, end_offset: int) -> tuple[int, bool]:
    """Messages between the committed offset and the log end: ``(lag, clamped)``.

    A negative difference (a broker that under-reports its end offset) gives ``(0, True)``.
    """
    lag = end_offset - committed
    if lag < 0:
        return 0, True
    return lag, False


def lag_seconds_from_timestamp(now: float, next_message_time: float) -> float:
    """Age of the next unconsumed message (0 when its timestamp is in the future)."""
    return max(0.0, now - next_message_time)


def passed_time(history: Sequence[tuple[float, int]], offset: int) -> float | None:
    """When the log end offset first went beyond ``offset``, from ``(time, end_offset)`` polls.

    That is when the message at ``offset`` was appended. Between the last poll at or below the
    offset and the first poll above it the time is interpolated linearly; when the history
    starts above the offset, its first time is returned (an upper bound). ``None`` when the
    end offset never passed the offset.
    """
    previous: tuple[float, int] | None = None
    for time, end in history:
        if end > offset:
            if previous is None:
                return time
            t0, e0 = previous
            fraction = (offset + 1 - e0) / (end - e0)
            return t0 + min(1.0, max(0.0, fraction)) * (time - t0)
        previous = (time, end)
    return None


def lag_seconds_interpolated(
    now: float, history: Sequence[tuple[float, int]], committed: int
) -> float | None:
    """Lag in seconds estimated from the end-offset history, when no timestamp can be read.

    ``None`` when it cannot be told: fewer than two observations, or the offset not yet passed.
    """
    if len(history) < 2:
        return None
    appended = passed_time(history, committed)
    return None if appended is None else max(0.0, now - appended)


def throughput(history: Sequence[tuple[float, int]]) -> float:
    """Messages per second from the first to the last ``(time, total_end_offset)`` sample."""
    if len(history) < 2:
        return 0.0
    (t0, e0), (t1, e1) = history[0], history[-1]
    if t1 <= t0:
        return 0.0
    return max(0, e1 - e0) / (t1 - t0)


def dlq_depth(end_offsets: Mapping[int, int], earliest_offsets: Mapping[int, int]) -> int:
    """Messages held by a dead-letter topic: the sum over partitions of end minus earliest."""
    return sum(max(0, end - earliest_offsets.get(p, 0)) for p, end in end_offsets.items())


def is_dlq(topic: str, patterns: Iterable[str]) -> bool:
    """Whether a topic name matches one of the dead-letter globs (case-sensitive)."""
    return any(fnmatchcase(topic, pattern) for pattern in patterns)


class EndOffsetHistory:
    """Recent ``(time, end_offset)`` observations of one partition, compacted.

    Runs of equal end offsets keep only their first and last time, so the history grows with
    the number of changes, not polls, and holds at most ``limit`` entries.
    """

    def __init__(self, limit: int = 512) -> None:
        self.limit = limit
        self.samples: list[tuple[float, int]] = []

    def add(self, time: float, end_offset: int) -> None:
        """Record one poll's end offset."""
        s = self.samples
        if len(s) >= 2 and s[-1][1] == end_offset and s[-2][1] == end_offset:
            s[-1] = (time, end_offset)
        else:
            s.append((time, end_offset))
        if len(s) > self.limit:
            del s[: len(s) - self.limit]
