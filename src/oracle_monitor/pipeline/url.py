"""``kafka://host:port[,host:port…]/topic``: where the pipeline's messages go."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["DEFAULT_PORT", "PipelineUrl", "parse_pipeline_url"]

DEFAULT_PORT = 9092
# Kafka's own rule for topic names (kafka.common.internals.Topic): at most 249 of these.
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_HOST = re.compile(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]")


@dataclass(frozen=True, slots=True)
class PipelineUrl:
    """A parsed pipeline URL."""

    #: librdkafka ``bootstrap.servers``: ``host:port`` entries, comma-separated.
    bootstrap_servers: str
    topic: str

    @property
    def dead_letter_topic(self) -> str:
        """Where messages that do not decode go: ``<topic>.dlq``."""
        return f"{self.topic}.dlq"


def parse_pipeline_url(url: str) -> PipelineUrl:
    """Parse ``kafka://host[:port][,host[:port]…]/topic`` (port 9092 when left out).

    Raises `ValueError` saying what is wrong: another scheme, no broker, a bad port, a
    missing or invalid topic name, or a query, fragment or credentials (which belong in
    ``ORACLE_PIPELINE_KAFKA_OPTIONS``).
    """
    parts = urlsplit(url.strip())
    if parts.scheme != "kafka":
        raise ValueError(f"pipeline URL {url!r} must start with kafka:// (kafka://host:port/topic)")
    if parts.query or parts.fragment:
        raise ValueError(f"pipeline URL {url!r} takes no query or fragment")
    if "@" in parts.netloc:
        raise ValueError(
            f"pipeline URL {url!r}: put credentials in ORACLE_PIPELINE_KAFKA_OPTIONS, not the URL"
        )
    servers = [_server(entry, url) for entry in parts.netloc.split(",")]
    topic = parts.path.removeprefix("/")
    if not topic:
        raise ValueError(f"pipeline URL {url!r} names no topic (kafka://host:port/oracle.spans)")
    if not _TOPIC.fullmatch(topic) or topic in (".", ".."):
        raise ValueError(
            f"pipeline URL {url!r}: {topic!r} is not a Kafka topic name "
            "(letters, digits, '.', '_', '-'; at most 249)"
        )
    return PipelineUrl(",".join(servers), topic)


def _server(entry: str, url: str) -> str:
    host, _, port = entry.rpartition(":") if not entry.endswith("]") else (entry, "", "")
    if not host:  # no colon: the entry is just a host
        host, port = entry, ""
    if not host or not _HOST.fullmatch(host):
        raise ValueError(f"pipeline URL {url!r}: {entry!r} is not a broker host[:port]")
    if port == "":
        return f"{host}:{DEFAULT_PORT}"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"pipeline URL {url!r}: port {port!r} of {entry!r} is not 1-65535")
    return f"{host}:{int(port)}"
