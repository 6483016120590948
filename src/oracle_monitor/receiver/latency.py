"""A small fixed-bucket latency histogram (Prometheus-style cumulative buckets).

The ingest pool records how long each request took from being handed to a worker until its
spans were durable; ``/metrics`` exports it as ``oracle_receiver_write_duration_seconds`` and
``/api/v1/health`` shows it as JSON.
"""

from __future__ import annotations

import bisect
import threading
from typing import Any, Final

#: Upper bounds in seconds (``+Inf`` is implied).
BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LatencyHistogram:
    """Counts of observations per bucket, their sum and count; safe across threads."""

    def __init__(self, buckets: tuple[float, ...] = BUCKETS) -> None:
        self.buckets = buckets
        self._counts = [0] * (len(buckets) + 1)  # the last one: above every bound
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        """Record one duration."""
        with self._lock:
            self._counts[bisect.bisect_left(self.buckets, seconds)] += 1
            self._sum += seconds

    def as_json(self) -> dict[str, Any]:
        """``{"count", "sum", "buckets": [[upper bound, cumulative count], ...]}``; the last
        bound is ``"+Inf"``."""
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative, running = [], 0
        for bound, count in zip([*self.buckets, "+Inf"], counts, strict=True):
            running += count
            cumulative.append([bound, running])
        return {"count": running, "sum": total, "buckets": cumulative}
