"""``GET /api/v1/health``: liveness plus the counters of the process that serves the API.

``oracle-monitor serve`` reports its receiver, snapshot and retention duties, live stream and
forwarding; ``oracle-monitor api`` (the read-only API of a scale-out) its role and live
stream poller. A key that a process does not have is absent.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from oracle_monitor.api.contract.base import Answer, omittable


class WriteLatency(Answer):
    """A latency histogram with Prometheus-style cumulative buckets."""

    count: int = Field(description="Observations.", examples=[1200])
    sum: float = Field(description="Their sum, seconds.", examples=[3.2])
    buckets: list[tuple[float | Literal["+Inf"], int]] = Field(
        description="[upper bound in seconds, observations at or below it]; the last bound "
        'is "+Inf".',
        examples=[[[0.005, 1100], [0.01, 1190], ["+Inf", 1200]]],
    )


class ReceiverStatus(Answer):
    """The OTLP receiver's counters since start-up and its queue."""

    accepted_spans: int = Field(description="Spans stored.")
    rejected_spans: int = Field(description="Spans refused one by one (bad ids, times).")
    refused_requests: int = Field(description="Requests refused for a full pipeline.")
    malformed_requests: int = Field(description="Requests that did not decode.")
    failed_requests: int = Field(description="Requests whose write failed.")
    worker_restarts: int = Field(description="Ingest worker processes restarted.")
    queued_bytes: int = Field(description="Bytes waiting for a worker.")
    queued_requests: int = Field(description="Requests waiting for a worker.")
    max_queued_bytes: int = Field(description="The queue's limit.")
    write_latency_seconds: WriteLatency = Field(
        description="From handing a request to a worker until its spans are durable."
    )


class SnapshotDutyStatus(Answer):
    """The snapshot loop's counters."""

    stored_snapshots: int = Field(description="Snapshots stored.")
    invalid_snapshots: int = Field(description="Snapshots that failed the schema.")
    failed_snapshots: int = Field(description="Snapshots that could not be taken or stored.")
    last_error: str = Field(description="The last problem ('' when none).")


class RetentionStatus(Answer):
    """The retention pass's counters."""

    passes: int = Field(description="Passes run.")
    deleted_snapshots: int = Field(description="Snapshots deleted for their age.")
    last_error: str = Field(description="The last problem ('' when none).")


class PublishedCounts(Answer):
    """What the poller handed to the live stream."""

    snapshots: int = Field(description="Snapshots.")
    alerts: int = Field(description="Alerts.")
    events: int = Field(description="Infrastructure events.")


class LivePollStatus(Answer):
    """The store poller that feeds the live stream of ``oracle-monitor api``."""

    interval_seconds: float = Field(description="Poll interval.", examples=[1.0])
    polls: int = Field(description="Polls made.")
    published: PublishedCounts = Field(description="Messages published.")
    last_error: str = Field(description="The last problem ('' when none).")


class LiveStatus(Answer):
    """The live stream (``WS /api/v1/live``)."""

    clients: int = Field(description="Connected clients.")
    poll: LivePollStatus | SkipJsonSchema[None] = omittable(
        "Its store poller (``oracle-monitor api`` only)."
    )


class ForwardEndpointStatus(Answer):
    """One OTLP forwarding target's counters."""

    endpoint: str = Field(description="The target.", examples=["http://collector:4318"])
    queued_spans: int = Field(description="Spans waiting to be sent.")
    forwarded_spans: int = Field(description="Spans sent.")
    dropped_spans: int = Field(description="Spans dropped for a full queue.")
    failed_spans: int = Field(description="Spans the target refused.")


class ForwardStatus(Answer):
    """OTLP forwarding."""

    endpoints: list[ForwardEndpointStatus] = Field(description="One per target.")


class HealthAnswer(Answer):
    """Liveness plus the serving process's counters."""

    status: Literal["ok"] = Field(description="Always ok when it answers.")
    version: str = Field(description="Oracle Monitor's version.", examples=["0.1.0"])
    role: Literal["api"] | SkipJsonSchema[None] = omittable("``api`` for ``oracle-monitor api``.")
    receiver: ReceiverStatus | SkipJsonSchema[None] = omittable("The OTLP receiver (serve).")
    snapshots: SnapshotDutyStatus | SkipJsonSchema[None] | None = omittable(
        "The snapshot loop (serve; null while it does not run)."
    )
    retention: RetentionStatus | SkipJsonSchema[None] | None = omittable(
        "Snapshot retention (serve; null while it does not run)."
    )
    live: LiveStatus = Field(description="The live stream.")
    forward: ForwardStatus | SkipJsonSchema[None] = omittable("OTLP forwarding (serve).")
