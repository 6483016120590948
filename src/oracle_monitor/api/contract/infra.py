"""``GET /api/v1/infra``: each running collector's health and current state.

The parts a snapshot shares with a collector's state (pods, consumer groups, topics, usage
groups, health) are the snapshot schema's (`state`).
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from oracle_monitor.api.contract.base import Answer, omittable
from oracle_monitor.api.contract.state import (
    OracleStateConsumerGroup,
    OracleStateHealth,
    OracleStatePod,
    OracleStateTopic,
    OracleStateUsageGroup,
)


class KubernetesState(Answer):
    """The Kubernetes collector's pods."""

    health: OracleStateHealth = Field(description="Its health.")
    metrics_available: bool = Field(description="Whether metrics.k8s.io answered.")
    pods: list[OracleStatePod] = Field(description="Watched pods, by namespace and name.")


class KafkaState(Answer):
    """The Kafka collector's consumer groups and topics, from its last successful poll."""

    health: OracleStateHealth = Field(description="Its health.")
    broker: str = Field(description="Bootstrap servers.", examples=["127.0.0.1:9092"])
    polled_at_ns: int | SkipJsonSchema[None] = omittable(
        "Time of the poll (absent before the first)."
    )
    poll_duration_seconds: float | SkipJsonSchema[None] = omittable(
        "How long that poll took (absent before the first)."
    )
    groups: dict[str, OracleStateConsumerGroup] = Field(description="Consumer groups by name.")
    topics: dict[str, OracleStateTopic] = Field(description="Topics by name.")


class LlmUsageState(Answer):
    """The LLM usage collector's last poll of the stored LLM spans (every key is absent
    before the first)."""

    window_seconds: float | SkipJsonSchema[None] = omittable("The rolling window.")
    by_agent: list[OracleStateUsageGroup] | SkipJsonSchema[None] = omittable(
        "Usage per agent over the window."
    )
    by_model: list[OracleStateUsageGroup] | SkipJsonSchema[None] = omittable(
        "Usage per model over the window."
    )
    by_provider: list[OracleStateUsageGroup] | SkipJsonSchema[None] = omittable(
        "Usage per provider over the window."
    )
    cost_last_hour_usd: float | SkipJsonSchema[None] = omittable("Spending of the last hour.")
    to_date: list[OracleStateUsageGroup] | SkipJsonSchema[None] = omittable(
        "Every call up to polled_at_ns, per provider."
    )
    polled_at_ns: int | SkipJsonSchema[None] = omittable("Time of the poll.")
    budget_usd_per_hour: float | SkipJsonSchema[None] | None = omittable(
        "The configured hourly budget (null: none)."
    )
    rate_limit_bursts: list[str] | SkipJsonSchema[None] = omittable(
        "Models in a burst of 429s now (entities)."
    )


class CollectorJson(Answer):
    """A collector registered besides the built-in ones: its health and its own state."""

    health: OracleStateHealth = Field(description="Its health.")
    state: dict[str, Any] = Field(description="Its current state, as it reports it.")


class KubernetesCollector(Answer):
    """The ``k8s`` collector."""

    health: OracleStateHealth = Field(description="Its health.")
    state: KubernetesState = Field(description="Its current state.")


class KafkaCollector(Answer):
    """The ``kafka`` collector."""

    health: OracleStateHealth = Field(description="Its health.")
    state: KafkaState = Field(description="Its current state.")


class LlmCollector(Answer):
    """The ``llm`` usage collector."""

    health: OracleStateHealth = Field(description="Its health.")
    state: LlmUsageState = Field(description="Its current state.")


class InfraCollectors(Answer):
    """The running collectors by name (one that is not configured is absent)."""

    model_config = ConfigDict(extra="allow")

    k8s: KubernetesCollector | SkipJsonSchema[None] = omittable("Kubernetes pods and events.")
    kafka: KafkaCollector | SkipJsonSchema[None] = omittable("Kafka consumer lag.")
    llm: LlmCollector | SkipJsonSchema[None] = omittable("LLM usage, cost and rate limits.")
    __pydantic_extra__: dict[str, CollectorJson] = Field(init=False)


class InfraAnswer(Answer):
    """Each running collector's health and current state."""

    collectors: InfraCollectors = Field(description="By collector name.")
