"""The collectors beside the spans: Kubernetes, Kafka consumer lag, LLM usage."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from oracle_monitor.config.base import SettingsGroup

__all__ = ["K8sSettings", "KafkaSettings", "LlmSettings"]


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


class K8sSettings(SettingsGroup):
    """The Kubernetes collector: on with a kubeconfig, or in a pod (service account)."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_K8S_")

    kubeconfig: Path | None = Field(
        default=None,
        validation_alias="ORACLE_KUBECONFIG",
        description="Kubeconfig of the cluster to watch.",
    )
    kubernetes_service_host: str | None = Field(
        default=None,
        validation_alias="KUBERNETES_SERVICE_HOST",
        description="Set by Kubernetes in every pod: without a kubeconfig, the collector then "
        "watches the cluster with the pod's service account.",
    )
    namespaces: str = Field(default="", description="Comma-separated namespaces; empty: all.")
    metrics_poll_seconds: float = Field(
        default=15.0, gt=0, description="metrics.k8s.io poll period."
    )
    memory_pressure_ratio: float = Field(
        default=0.9, gt=0, le=1, description="Memory use of a pod's limit that is memory pressure."
    )
    memory_pressure_seconds: float = Field(
        default=30.0, ge=0, description="How long a pod stays that high before memory_pressure."
    )

    @property
    def watched_namespaces(self) -> tuple[str, ...]:
        """`namespaces` as a tuple (empty: every namespace the collector may list)."""
        return _split(self.namespaces)


class KafkaSettings(SettingsGroup):
    """The Kafka collector (consumer lag, dead letters): on with a bootstrap address."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_KAFKA_")

    bootstrap: str | None = Field(default=None, description="Kafka bootstrap servers host:port.")
    poll_seconds: float = Field(default=5.0, gt=0, description="How often lag is measured.")
    dlq_patterns: str = Field(
        default="*.dlq,*-dlq,dlq.*,*.DLT",
        description="Comma-separated globs of dead-letter topics.",
    )
    lag_spike_seconds: float = Field(
        default=5.0, gt=0, description="Lag in seconds above which a lag_spike event is emitted."
    )
    window_polls: int = Field(default=10, ge=2, description="Polls in the consumer-status window.")
    security_protocol: str | None = Field(default=None, description="librdkafka security.protocol.")
    sasl_mechanism: str | None = Field(default=None, description="librdkafka sasl.mechanism.")
    sasl_username: str | None = Field(default=None, description="librdkafka sasl.username.")
    sasl_password: SecretStr | None = Field(default=None, description="librdkafka sasl.password.")

    @property
    def dlq_globs(self) -> tuple[str, ...]:
        """`dlq_patterns` as a tuple of globs."""
        return _split(self.dlq_patterns)

    def client_config(self) -> dict[str, str]:
        """librdkafka settings for the collector's clients (bootstrap and security)."""
        config = {"bootstrap.servers": self.bootstrap or ""}
        for key, value in (
            ("security.protocol", self.security_protocol),
            ("sasl.mechanism", self.sasl_mechanism),
            ("sasl.username", self.sasl_username),
        ):
            if value:
                config[key] = value
        if self.sasl_password is not None:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        return config


class LlmSettings(SettingsGroup):
    """The LLM usage collector: always on (it reads stored spans)."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_LLM_")

    window_seconds: float = Field(default=300.0, gt=0, description="Rolling window of LLM usage.")
    poll_seconds: float = Field(default=5.0, gt=0, description="How often LLM usage is read.")
    rate_limit_burst: int = Field(
        default=5,
        ge=1,
        description="429s of one provider and model within a minute that make a burst.",
    )
    budget_usd_per_hour: float | None = Field(
        default=None, gt=0, description="Cost rate above which cost_over_budget is emitted."
    )
