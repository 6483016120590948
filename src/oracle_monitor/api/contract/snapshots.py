"""``GET /api/v1/snapshots…``, ``GET /api/v1/agents`` and ``GET /api/v1/alerts``: snapshots,
agents' views and alerts, each described by the snapshot schema (`state`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from oracle_monitor.api.contract.base import Answer
from oracle_monitor.api.contract.state import OracleState, OracleStateAgent, OracleStateAlert


class StoredSnapshot(Answer):
    """One stored system snapshot."""

    timestamp_unix_nano: int = Field(
        description="When it was taken, unix nanoseconds.", examples=[1795764000000000000]
    )
    snapshot: OracleState = Field(description="The snapshot (oracle_state.schema.json).")


class SnapshotSeries(Answer):
    """Snapshots in [start, end], oldest first: the last of each step."""

    step_seconds: float = Field(description="The step asked for.", examples=[60.0])
    snapshots: list[StoredSnapshot] = Field(description="Oldest first.")


class AgentsAnswer(Answer):
    """Each agent's latest view."""

    source: Literal["snapshot", "spans"] = Field(
        description="From the latest snapshot (at most a minute old), or computed from the "
        "stored spans of the last five minutes."
    )
    timestamp_unix_nano: int = Field(description="As of when, unix nanoseconds.")
    agents: list[OracleStateAgent] = Field(description="One view per agent.")


class AlertList(Answer):
    """Alerts overlapping [start, end], newest ``last_at`` first."""

    alerts: list[OracleStateAlert] = Field(description="At most ``limit``.")
