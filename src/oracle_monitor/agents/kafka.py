"""confluent-kafka clients of an agent process: configs, topic creation, traced wrappers."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from oracle_monitor.agents.messages import (
    DLQ_TOPIC,
    RESULTS_TOPIC,
    TOOL_REQUESTS_TOPIC,
    TOOL_RESPONSES_TOPIC,
    task_topic,
)
from oracle_monitor.agents.settings import AgentSettings
from oracle_monitor.instrumentation import TracedConsumer, TracedProducer

__all__ = ["all_topics", "consumer", "ensure_topics", "plain_consumer", "producer"]

log = logging.getLogger(__name__)
AGENT_KINDS = ("research", "writer", "analysis")


def all_topics() -> list[str]:
    """Every topic the agents and the tool worker use."""
    tasks = [task_topic(kind) for kind in AGENT_KINDS]
    return [*tasks, TOOL_REQUESTS_TOPIC, TOOL_RESPONSES_TOPIC, RESULTS_TOPIC, DLQ_TOPIC]


def producer(settings: AgentSettings, client_id: str) -> TracedProducer:
    """A producer whose messages carry the current trace context."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "client.id": client_id,
        "linger.ms": 0 if settings.producer_batch_messages == 1 else 5,
        "batch.num.messages": settings.producer_batch_messages,
        "acks": "all",
    }
    return TracedProducer(Producer(config))


def consumer(
    settings: AgentSettings, group_id: str, client_id: str, *, auto_commit: bool = True
) -> TracedConsumer:
    """A consumer of ``group_id`` that continues the producers' traces."""
    return TracedConsumer(
        plain_consumer(settings, group_id, client_id, auto_commit=auto_commit), group_id
    )


def plain_consumer(
    settings: AgentSettings, group_id: str, client_id: str, *, auto_commit: bool = True
) -> Consumer:
    """A consumer of ``group_id`` (its caller decides which messages continue a trace)."""
    session = settings.session_timeout_ms
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "group.id": group_id,
        "client.id": client_id,
        "group.protocol": "classic",  # KIP-848 groups do not work on every broker (tansu)
        "session.timeout.ms": session,
        "heartbeat.interval.ms": max(100, session // 5),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": auto_commit,
        "auto.commit.interval.ms": 1000,
    }
    return Consumer(config)


def ensure_topics(settings: AgentSettings, topics: list[str], timeout_s: float = 10.0) -> None:
    """Create the topics that are missing (ones that exist are left as they are)."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as error:
        log.warning("cannot list topics on %s: %s", settings.kafka_bootstrap, error)
        return
    missing = [t for t in topics if t not in existing]
    if not missing:
        return
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=settings.topic_partitions) for t in missing]
    )
    for topic, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            log.info("created topic %s", topic)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                log.warning("cannot create topic %s: %s", topic, error)
