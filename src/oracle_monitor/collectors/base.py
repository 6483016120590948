"""The one shape of every collector: a config, a watcher with one lifecycle, a registry.

A collector watches one layer (Kubernetes, Kafka, LLM usage) without touching it, keeps its
current state, and hands what happens to an `EventSink` as `InfraEvent`s. Its conversion from
native objects to events is a pure module of its own, tested on recorded objects.

Lifecycle: ``await start()`` returns quickly (the watching runs in background tasks or
threads); ``await shutdown()`` stops it, is idempotent, and flushes events not yet handed on.
A collector never dies of its source going away: it reports that in `state` (``health``) and
keeps retrying with backoff.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from oracle_monitor.model import InfraEvent

#: Receives the events a collector produces (the server stores them). Called from the
#: collector's own task or thread; must not block for long.
EventSink = Callable[[Sequence[InfraEvent]], None]

Health = Literal["starting", "ok", "degraded", "unreachable", "stopped"]


@dataclass(frozen=True, slots=True)
class CollectorHealth:
    """How a collector's source is doing, for ``GET /api/v1/infra``."""

    status: Health
    detail: str = ""
    since_ns: int = 0

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"status": self.status, "detail": self.detail, "since_ns": self.since_ns}


class Collector(Protocol):
    """A running collector."""

    name: str

    async def start(self) -> None:
        """Begin watching; return quickly."""
        ...

    async def shutdown(self) -> None:
        """Stop watching and flush; idempotent."""
        ...

    def health(self) -> CollectorHealth:
        """Whether the source is reachable and watched."""
        ...

    def state(self) -> dict[str, Any]:
        """The current state of what it watches, JSON-ready (pods, groups, usage windows)."""
        ...
