"""The span path after the receivers: the ingest workers and their enrichment, and the
exporters that forward spans to other OTLP backends."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from oracle_monitor.config.base import MiB, SettingsGroup

__all__ = ["ForwardSettings", "IngestSettings"]


class IngestSettings(SettingsGroup):
    """The ingest workers: how many, how much may wait for them, how they write, the prices
    their enrichment uses."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_")

    workers: int = Field(
        default=0,
        ge=0,
        validation_alias="ORACLE_INGEST_WORKERS",
        description="Processes that decode and store spans; 0 means one per core.",
    )
    queue_max_bytes: int = Field(
        default=64 * MiB,
        ge=1,
        description="Request bytes waiting to be stored before receivers refuse with retry info.",
    )
    write_batch_max_spans: int = Field(
        default=5_000, ge=1, description="Most spans written in one store transaction."
    )
    retry_after_seconds: float = Field(
        default=1.0, gt=0, description="Delay a refused exporter is told to wait before retrying."
    )
    pricing_file: Path | None = Field(
        default=None, description="A TOML price table that extends or overrides the shipped one."
    )


class ForwardSettings(SettingsGroup):
    """OTLP forwarding: every accepted span is also exported to these backends."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_FORWARD_")

    otlp_endpoints: str = Field(
        default="",
        description="Comma-separated OTLP targets every stored span is forwarded to: "
        "grpc://host:4317, grpcs:// (TLS), http://host:4318[/v1/traces], https://.",
    )
    otlp_headers: SecretStr | None = Field(
        default=None,
        description="Headers sent to the forward targets, as OTEL_EXPORTER_OTLP_HEADERS: "
        "key=value pairs, comma-separated, values URL-encoded.",
    )
    queue_max_spans: int = Field(
        default=20_000,
        ge=1,
        description="Spans waiting per forward target (per worker) before drops.",
    )
    events: bool = Field(
        default=True, description="Add correlated infrastructure events to forwarded spans."
    )

    @field_validator("otlp_endpoints")
    @classmethod
    def _check_endpoints(cls, value: str) -> str:
        from oracle_monitor.exporters.otlp_forward.endpoints import parse_endpoints

        parse_endpoints(value)  # a ValueError names the bad entry
        return value
