"""librdkafka settings of the pipeline's producers and consumers, and its topics.

Every client gets ``bootstrap.servers`` from the pipeline URL plus
``ORACLE_PIPELINE_KAFKA_OPTIONS`` (security and whatever else a cluster needs). Producers are
idempotent with ``acks=all``: a message acknowledged is on every in-sync replica, and a
producer's retries never duplicate or reorder it within its partition. Consumers never commit
on their own (``enable.auto.commit=false``): the aggregator commits after its store commit.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import KafkaException, NewTopic

from oracle_monitor.config import Settings
from oracle_monitor.pipeline.url import PipelineUrl, parse_pipeline_url

__all__ = [
    "consumer_config",
    "ensure_topics",
    "parse_options",
    "pipeline_url",
    "producer_config",
]

logger = logging.getLogger(__name__)


def pipeline_url(settings: Settings) -> PipelineUrl:
    """The parsed ``ORACLE_PIPELINE``; `ValueError` when unset or invalid."""
    if not settings.pipeline.url:
        raise ValueError("no pipeline: pass --pipeline kafka://host:port/topic (ORACLE_PIPELINE)")
    return parse_pipeline_url(settings.pipeline.url)


def parse_options(text: str) -> dict[str, str]:
    """``key=value,key=value`` librdkafka settings; `ValueError` names a bad entry."""
    options: dict[str, str] = {}
    for entry in text.split(","):
        if not entry.strip():
            continue
        key, sep, value = entry.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"pipeline Kafka option {entry.strip()!r} is not key=value")
        options[key.strip()] = value.strip()
    return options


def _base(settings: Settings) -> dict[str, Any]:
    url = pipeline_url(settings)
    options = settings.pipeline.kafka_options
    extra = parse_options(options.get_secret_value()) if options is not None else {}
    return {"bootstrap.servers": url.bootstrap_servers, **extra}


def producer_config(settings: Settings) -> dict[str, Any]:
    """An idempotent, ``acks=all`` producer that gives up on a message after the delivery
    timeout (so an exporter hears ``UNAVAILABLE`` and retries, instead of waiting)."""
    timeout_ms = round(settings.pipeline.delivery_timeout_seconds * 1000)
    return {
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": settings.pipeline.linger_ms,
        "message.timeout.ms": timeout_ms,
        "socket.timeout.ms": max(timeout_ms, 10),
        "message.max.bytes": settings.pipeline.max_message_bytes + 65536,
        "compression.type": settings.pipeline.compression,
        **_base(settings),
    }


def consumer_config(settings: Settings) -> dict[str, Any]:
    """A consumer of the aggregators' group that commits only when told to."""
    return {
        "group.id": settings.pipeline.group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": settings.pipeline.session_timeout_ms,
        "heartbeat.interval.ms": settings.pipeline.heartbeat_interval_ms,
        "max.poll.interval.ms": settings.pipeline.max_poll_interval_ms,
        **_base(settings),
    }


def ensure_topics(settings: Settings, timeout_s: float = 10.0) -> None:
    """Create the topic and its dead-letter topic when missing (``pipeline.topic_partitions``
    partitions, the broker's replication factor). A broker that cannot be reached is logged,
    not fatal: the clients keep trying, and receivers answer ``UNAVAILABLE`` meanwhile."""
    url = pipeline_url(settings)
    admin = AdminClient({**_base(settings), "socket.timeout.ms": round(timeout_s * 1000)})
    try:
        existing = admin.list_topics(timeout=timeout_s).topics
    except KafkaException as error:
        logger.warning("cannot reach the pipeline's brokers (%s); going on without", error)
        return
    missing = [t for t in (url.topic, url.dead_letter_topic) if t not in existing]
    if not missing:
        return
    partitions = settings.pipeline.topic_partitions
    futures = admin.create_topics([NewTopic(t, num_partitions=partitions) for t in missing])
    for topic, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            logger.info("created topic %s with %d partitions", topic, partitions)
        except KafkaException as error:
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                logger.warning("could not create topic %s: %s", topic, error)
