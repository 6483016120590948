"""Settings of `oracle-monitor proxy`, the LLM proxy."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ProxySettings"]


class ProxySettings(BaseSettings):
    """Settings of `oracle-monitor proxy` (flag, else ``ORACLE_PROXY_<NAME>``, else default)."""

    model_config = SettingsConfigDict(
        env_prefix="ORACLE_PROXY_", extra="forbid", validate_by_name=True
    )

    host: str = Field(default="127.0.0.1", description="Address the proxy binds to.")
    port: int = Field(default=8787, ge=0, le=65535, description="Port the proxy listens on.")
    openai_upstream: str = Field(
        default="https://api.openai.com", description="OpenAI API base URL."
    )
    anthropic_upstream: str = Field(
        default="https://api.anthropic.com", description="Anthropic API base URL."
    )
    pricing_file: Path | None = Field(
        default=None,
        validation_alias="ORACLE_PRICING_FILE",
        description="A TOML price table that extends or overrides the shipped one.",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
