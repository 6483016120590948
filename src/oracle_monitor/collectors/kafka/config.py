"""The Kafka collector's settings, taken once from `Settings`."""

from __future__ import annotations

from dataclasses import dataclass, field

from oracle_monitor.config import Settings


@dataclass(frozen=True, slots=True)
class KafkaCollectorConfig:
    """What the Kafka collector needs: where the cluster is, how often to poll, the thresholds.

    ``client_config`` holds the librdkafka settings (bootstrap servers and security) shared by
    the collector's AdminClient and its lag-probe Consumer. ``request_timeout_seconds`` bounds
    every call, so a poll of a dead broker returns within a few seconds.
    """

    bootstrap: str
    client_config: dict[str, str] = field(default_factory=dict)
    poll_seconds: float = 5.0
    dlq_patterns: tuple[str, ...] = ("*.dlq", "*-dlq", "dlq.*", "*.DLT")
    lag_spike_seconds: float = 5.0
    window_polls: int = 10
    request_timeout_seconds: float = 3.0
    max_backoff_seconds: float = 30.0
    probe_budget_seconds: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaCollectorConfig:
        """The collector's config from the server settings (``kafka.bootstrap`` must be set)."""
        if not settings.kafka.bootstrap:
            raise ValueError("ORACLE_KAFKA_BOOTSTRAP is not set")
        return cls(
            bootstrap=settings.kafka.bootstrap,
            client_config=settings.kafka.client_config(),
            poll_seconds=settings.kafka.poll_seconds,
            dlq_patterns=settings.kafka.dlq_globs,
            lag_spike_seconds=settings.kafka.lag_spike_seconds,
            window_polls=settings.kafka.window_polls,
            probe_budget_seconds=min(2.0, max(0.2, settings.kafka.poll_seconds / 2)),
        )
