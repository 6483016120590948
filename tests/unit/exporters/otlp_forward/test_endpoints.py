"""ORACLE_FORWARD_OTLP_ENDPOINTS: which protocol, where, and clear errors for bad entries."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from oracle_monitor.config import Settings
from oracle_monitor.exporters.otlp_forward import ForwardConfig, ForwardEndpoint, parse_endpoints


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        (" , ", ()),
        ("grpc://jaeger:4317", (ForwardEndpoint("grpc", "jaeger:4317", False),)),
        ("grpcs://tempo.example:443", (ForwardEndpoint("grpc", "tempo.example:443", True),)),
        ("grpc://[::1]:4317", (ForwardEndpoint("grpc", "[::1]:4317", False),)),
        ("http://c:4318", (ForwardEndpoint("http", "http://c:4318/v1/traces", False),)),
        ("https://c:443/otlp/v1/traces",
         (ForwardEndpoint("http", "https://c:443/otlp/v1/traces", True),)),
        (
            "grpc://a:4317, http://b:4318/",
            (
                ForwardEndpoint("grpc", "a:4317", False),
                ForwardEndpoint("http", "http://b:4318/v1/traces", False),
            ),
        ),
    ],
)  # fmt: skip
def test_parse(text: str, expected: tuple[ForwardEndpoint, ...]) -> None:
    assert parse_endpoints(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("jaeger:4317", "use grpc://"),
        ("ftp://a:21", "use grpc://"),
        ("grpc://a", "needs a host and a port"),
        ("http://:4318", "needs a host and a port"),
        ("grpc://a:4317/v1/traces", "has no path"),
    ],
)
def test_bad_entries_are_named(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as caught:
        parse_endpoints(text)
    assert text in str(caught.value)


def test_settings_fail_fast_and_build_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    no_flags: dict[str, Any] = {}
    monkeypatch.setenv("ORACLE_FORWARD_OTLP_ENDPOINTS", "tcp://x:1")
    with pytest.raises(ValidationError, match="otlp_endpoints"):
        Settings(**no_flags)
    monkeypatch.setenv("ORACLE_FORWARD_OTLP_ENDPOINTS", "grpc://x:4317")
    monkeypatch.setenv("ORACLE_FORWARD_OTLP_HEADERS", "authorization=Bearer%20s3cret,x-tenant=a")
    monkeypatch.setenv("ORACLE_FORWARD_QUEUE_MAX_SPANS", "77")
    config = ForwardConfig.from_settings(Settings(**no_flags))
    assert config is not None
    assert config.endpoints == (ForwardEndpoint("grpc", "x:4317", False),)
    assert config.headers == {"authorization": "Bearer s3cret", "x-tenant": "a"}
    assert config.queue_max_spans == 77
    assert config.endpoints[0].label == "grpc://x:4317"
    monkeypatch.delenv("ORACLE_FORWARD_OTLP_ENDPOINTS")
    assert ForwardConfig.from_settings(Settings(**no_flags)) is None
