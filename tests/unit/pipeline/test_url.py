"""kafka:// pipeline URLs: what parses, and what each bad one is told."""

from __future__ import annotations

import pytest

from oracle_monitor.pipeline.url import PipelineUrl, parse_pipeline_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("kafka://127.0.0.1:9092/oracle.spans", PipelineUrl("127.0.0.1:9092", "oracle.spans")),
        ("kafka://broker/oracle.spans", PipelineUrl("broker:9092", "oracle.spans")),
        ("kafka://a:9093,b,c:1/t_1-x", PipelineUrl("a:9093,b:9092,c:1", "t_1-x")),
        ("kafka://[::1]:19092/spans", PipelineUrl("[::1]:19092", "spans")),
        ("  kafka://k:1/s  ", PipelineUrl("k:1", "s")),
    ],
)
def test_valid_urls(url: str, expected: PipelineUrl) -> None:
    assert parse_pipeline_url(url) == expected


def test_dead_letter_topic_is_topic_dot_dlq() -> None:
    assert parse_pipeline_url("kafka://k:1/oracle.spans").dead_letter_topic == "oracle.spans.dlq"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://k:9092/spans", "must start with kafka://"),
        ("k:9092/spans", "must start with kafka://"),
        ("kafka://k:9092", "names no topic"),
        ("kafka://k:9092/", "names no topic"),
        ("kafka:///spans", "is not a broker"),
        ("kafka://a,,b/spans", "is not a broker"),
        ("kafka://k:0/spans", "is not 1-65535"),
        ("kafka://k:70000/spans", "is not 1-65535"),
        ("kafka://k:port/spans", "is not 1-65535"),
        ("kafka://k/two/levels", "is not a Kafka topic name"),
        ("kafka://k/sp%20ans", "is not a Kafka topic name"),
        ("kafka://k/" + "t" * 250, "is not a Kafka topic name"),
        ("kafka://k/..", "is not a Kafka topic name"),
        ("kafka://user:secret@k/spans", "credentials"),
        ("kafka://k/spans?acks=1", "no query"),
    ],
)
def test_invalid_urls_say_why(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_pipeline_url(url)


def test_settings_refuse_a_bad_pipeline_url() -> None:
    from pydantic import ValidationError

    from oracle_monitor.config import PipelineSettings, Settings

    with pytest.raises(ValidationError, match="names no topic"):
        Settings(pipeline=PipelineSettings(url="kafka://k:1"))
    assert Settings(pipeline=PipelineSettings(url="kafka://k:1/s")).pipeline.url == "kafka://k:1/s"


def test_kafka_options_parse_and_refuse_garbage() -> None:
    from oracle_monitor.pipeline.clients import parse_options

    assert parse_options("security.protocol=SASL_SSL, sasl.mechanism=PLAIN,") == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
    }
    with pytest.raises(ValueError, match="not key=value"):
        parse_options("security.protocol")
