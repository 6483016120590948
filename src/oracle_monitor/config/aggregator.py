"""What the aggregation makes of spans and events: snapshots, alerts and causal chains."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from oracle_monitor.config.base import SettingsGroup

__all__ = ["AlertSettings", "ChainSettings", "SnapshotSettings"]


class SnapshotSettings(SettingsGroup):
    """System snapshots (time travel): how often they are taken and how long they are kept."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_SNAPSHOT_")

    interval_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often a system snapshot is taken and stored (time travel).",
    )
    full_resolution_hours: float = Field(
        default=24.0, ge=0, description="Snapshots younger than this are all kept."
    )
    thinned_step_seconds: float = Field(
        default=60.0, gt=0, description="Older snapshots are thinned to one per this many seconds."
    )
    retention_days: float = Field(
        default=30.0, gt=0, description="Snapshots and alerts older than this are deleted."
    )


class AlertSettings(SettingsGroup):
    """Alerts: when a repeat is the same alert, and how long one stays active."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_ALERT_")

    dedupe_seconds: float = Field(
        default=600.0,
        gt=0,
        description="Repeats of an alert (kind and entity) this close are one alert.",
    )
    active_seconds: float = Field(
        default=300.0,
        gt=0,
        description="An alert is active (in snapshots) this long after it last fired.",
    )


class ChainSettings(SettingsGroup):
    """Causal chains: how long a wait is a timeout, how long a silent task is orphaned."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_CHAIN_")

    timeout_seconds: float = Field(
        default=30.0, gt=0, description="A tool or consumer wait this long is an agent_timeout."
    )
    orphan_timeout_seconds: float = Field(
        default=300.0, gt=0, description="A task silent this long after its pod went is orphaned."
    )
