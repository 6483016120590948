"""Memory pressure: a pod whose memory use stays near its limit. Pure: no I/O, no clock.

`MemoryPressure.observe` takes each metrics poll (the pods and their memory use, from
``metrics.k8s.io``) and reports a ``memory_pressure`` event once a pod has used at least
``ratio`` of its memory limit (the sum of its containers' limits) for ``seconds``, without
falling below it in between. The event's time is when the pressure began; it carries the use,
the limit and their ratio (``k8s.pod.memory.usage``, ``.limit``, ``.utilization``). A pod that
falls below the ratio may be reported again; a pod without a memory limit never is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from oracle_monitor.collectors.k8s.convert import PodState, event
from oracle_monitor.model import AttributeValue, InfraEvent

__all__ = ["MemoryPressure"]

_MIB = 1024 * 1024


@dataclass
class MemoryPressure:
    """Tracks pods over ``ratio`` of their memory limit; reports those there ``seconds``."""

    ratio: float = 0.9
    seconds: float = 30.0
    _since: dict[str, int] = field(default_factory=dict)  # pod uid -> when it went over
    _reported: set[str] = field(default_factory=set)

    def observe(self, pods: Iterable[tuple[PodState, float]], now_ns: int) -> list[InfraEvent]:
        """Each pod with its memory use (bytes) at ``now_ns``; the events of this poll."""
        found: list[InfraEvent] = []
        seen: set[str] = set()
        for pod, used in pods:
            limit = pod.limits[1]
            key = pod.uid or pod.entity
            seen.add(key)
            if limit <= 0 or used < self.ratio * limit:
                self._since.pop(key, None)
                self._reported.discard(key)
                continue
            since = self._since.setdefault(key, now_ns)
            held_s = (now_ns - since) / 1e9
            if held_s < self.seconds or key in self._reported:
                continue
            self._reported.add(key)
            share = used / limit
            words = (f"memory at {share:.0%} of its limit ({used / _MIB:.0f} of "
                     f"{limit / _MIB:.0f} MiB) for {held_s:.0f} s")  # fmt: skip
            figures: dict[str, AttributeValue] = {
                "k8s.pod.memory.usage": used,
                "k8s.pod.memory.limit": limit,
                "k8s.pod.memory.utilization": round(share, 4),
            }
            found.append(event(pod, "memory_pressure", since, words, figures))
        for gone in set(self._since) - seen:
            self._since.pop(gone, None)
            self._reported.discard(gone)
        return found
