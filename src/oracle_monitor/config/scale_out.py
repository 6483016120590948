"""Scale-out: the Kafka topic between receivers and aggregators, and which aggregator leads."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from oracle_monitor.config.base import SettingsGroup

__all__ = ["LeaderSettings", "PipelineSettings"]


class PipelineSettings(SettingsGroup):
    """The scale-out pipeline: `oracle-monitor receiver` publishes to its topic,
    `oracle-monitor aggregator` consumes it."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_PIPELINE_")

    url: str = Field(
        default="",
        validation_alias="ORACLE_PIPELINE",
        description="Kafka topic of the scale-out pipeline: kafka://host:port[,host:port]/topic "
        "(receivers publish to it, aggregators consume it; dead letters go to TOPIC.dlq).",
    )
    group_id: str = Field(
        default="oracle-aggregators", min_length=1, description="Consumer group of the aggregators."
    )
    kafka_options: SecretStr | None = Field(
        default=None,
        description="Extra librdkafka settings for every pipeline client, key=value pairs "
        "comma-separated (e.g. security.protocol=SASL_SSL,sasl.mechanism=PLAIN,...).",
    )
    delivery_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long a receiver waits for the brokers to acknowledge a request's "
        "messages before answering UNAVAILABLE (the exporter retries).",
    )
    linger_ms: float = Field(
        default=5.0, ge=0, description="How long a receiver's producer waits to fill a batch."
    )
    compression: str = Field(
        default="none", description="Producer compression: none, gzip, snappy, lz4 or zstd."
    )
    max_message_bytes: int = Field(
        default=1_000_000,
        ge=4096,
        description="Largest message a receiver publishes; a larger trace becomes several.",
    )
    topic_partitions: int = Field(
        default=12,
        ge=1,
        description="Partitions of the topic (and its .dlq) when it has to be created.",
    )
    consume_batch_messages: int = Field(
        default=500,
        ge=1,
        description="Most messages an aggregator writes in one store transaction.",
    )
    session_timeout_ms: int = Field(
        default=45_000,
        ge=1,
        description="Consumer session timeout: an aggregator silent this long is "
        "presumed dead and its partitions go to the others.",
    )
    heartbeat_interval_ms: int = Field(
        default=3_000,
        ge=1,
        description="Consumer heartbeat interval (below a third of the session).",
    )
    max_poll_interval_ms: int = Field(
        default=300_000,
        ge=1,
        description="Longest a consumer may spend on one batch before it is "
        "taken out of the group.",
    )
    health_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of an aggregator's GET /health (unset: none).",
    )
    stats_interval_seconds: float = Field(
        default=30.0, gt=0, description="How often an aggregator logs its counters."
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if value:
            from oracle_monitor.pipeline.url import parse_pipeline_url

            parse_pipeline_url(value)  # a ValueError says what is wrong
        return value


class LeaderSettings(SettingsGroup):
    """Snapshot leadership among aggregators: one holds a PostgreSQL advisory lock and takes
    the snapshots, runs the collectors and raises the alerts."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_LEADER_")

    lock_name: str = Field(
        default="snapshots",
        min_length=1,
        description="Name of the snapshot leader's PostgreSQL advisory lock; the key also "
        "depends on the store's schema and tenant, so deployments sharing a database differ.",
    )
    retry_seconds: float | None = Field(
        default=None,
        gt=0,
        description="How often a follower tries to become leader; default: the snapshot "
        "interval, so a dead leader is replaced within one interval.",
    )
    check_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the leader checks it still holds its lock connection.",
    )
    keepalive_seconds: float = Field(
        default=5.0,
        gt=0,
        description="TCP keepalive idle time of the lock connection (both ends) and how long "
        "a check may take: a vanished peer is noticed after about twice this.",
    )
