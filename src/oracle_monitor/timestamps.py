"""Time as the API speaks it: RFC 3339 in UTC with nanoseconds."""

from __future__ import annotations

import time


def rfc3339(unix_ns: int) -> str:
    """``2026-11-27T07:26:55.123456789Z``: UTC, nanosecond precision."""
    seconds, nanos = divmod(unix_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"
