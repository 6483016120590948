"""Where the processes listen, what the OTLP receivers accept, and who may talk to them."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from oracle_monitor.config.base import MiB, SettingsGroup

__all__ = ["ApiSettings", "AuthSettings", "ReceiverSettings", "ServerSettings"]


class ServerSettings(SettingsGroup):
    """The process: the address its listeners bind to, its log level, how it shuts down."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_")

    host: str = Field(default="127.0.0.1", description="Address every listener binds to.")
    log_level: str = Field(default="INFO", description="Python logging level.")
    shutdown_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long shutdown waits for in-flight requests and writes."
    )


class ReceiverSettings(SettingsGroup):
    """The OTLP receivers (`serve`, `receiver`): their ports and the requests they accept."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_")

    otlp_grpc_port: int = Field(default=4317, ge=0, le=65535, description="OTLP/gRPC port.")
    otlp_http_port: int = Field(default=4318, ge=0, le=65535, description="OTLP/HTTP port.")
    max_request_bytes: int = Field(
        default=16 * MiB,
        ge=1024,
        description="Largest OTLP request accepted, measured after gunzip.",
    )
    max_attribute_value_length: int = Field(
        default=65536,
        ge=16,
        description="Longer string/bytes attribute values are cut, with a marker.",
    )


class AuthSettings(SettingsGroup):
    """Bearer tokens of the API and the OTLP receivers (unset: open)."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_")

    api_token: SecretStr | None = Field(
        default=None,
        description="When set, the API, Jaeger API, /metrics and WebSocket need this bearer "
        "token (/api/v1/health stays open for probes).",
    )
    otlp_token: SecretStr | None = Field(
        default=None, description="When set, both OTLP receivers need this bearer token."
    )
    auth_token: SecretStr | None = Field(
        default=None, description="Fallback for api_token and otlp_token when either is unset."
    )

    def api_bearer_token(self) -> str | None:
        """The token the API requires (``api_token``, else ``auth_token``), or ``None``."""
        token = self.api_token or self.auth_token
        return token.get_secret_value() if token else None

    def otlp_bearer_token(self) -> str | None:
        """The token the OTLP receivers require (``otlp_token``, else ``auth_token``)."""
        token = self.otlp_token or self.auth_token
        return token.get_secret_value() if token else None


class ApiSettings(SettingsGroup):
    """The REST, WebSocket, Jaeger and metrics API and the UI (`serve`, `api`)."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_API_")

    port: int = Field(default=8000, ge=0, le=65535, description="REST API and UI port.")
    live_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        validation_alias="ORACLE_LIVE_POLL_SECONDS",
        description="`oracle-monitor api`: how often the store is polled for new snapshots, "
        "alerts and events to send to live clients.",
    )
