"""Where spans, events, snapshots and alerts are stored: the store URL, the embedded store's
directory, and a Supabase project reached through its API."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from oracle_monitor.config.base import SettingsGroup

__all__ = ["StoreSettings", "SupabaseSettings"]


class StoreSettings(SettingsGroup):
    """The store. Without a URL it is the Supabase project (below) when one is set, else the
    embedded SQLite store in the data directory (`Settings` makes the URL)."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_STORE_")

    data_dir: Path = Field(
        default=Path("./oracle-data"),
        validation_alias="ORACLE_DATA_DIR",
        description="Directory of the embedded store.",
    )
    url: str = Field(
        default="",
        validation_alias="ORACLE_STORE",
        description="Store URL: sqlite:///<data-dir>/oracle.db (default) or postgresql://…",
        repr=False,  # it may hold a password or a Supabase key
    )
    migrate: bool = Field(
        default=True, description="Apply the PostgreSQL store's schema migrations at start-up."
    )

    def sqlite_url(self) -> str:
        """The URL of the embedded store in the data directory."""
        return f"sqlite:///{(self.data_dir / 'oracle.db').as_posix()}"


class SupabaseSettings(SettingsGroup):
    """A Supabase project as the store of events, snapshots and alerts (through its API)."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_SUPABASE_")

    url: str = Field(
        default="",
        validation_alias=AliasChoices("ORACLE_SUPABASE_URL", "SUPABASE_URL"),
        description="A Supabase project's API URL (https://<ref>.supabase.co). With a key and "
        "no store URL, events, snapshots and alerts go to the project through its API "
        "(PostgREST) and spans to <data-dir>/oracle.db; see docs/deployment.md, "
        '"PostgreSQL / Supabase".',
    )
    key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "ORACLE_SUPABASE_KEY", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_KEY"
        ),
        description="The project's service_role (secret) key, used with the project's URL "
        "(the first of these variables that is set); the anon key is refused.",
    )
    db_schema: str = Field(
        default="public",
        validation_alias="ORACLE_SUPABASE_SCHEMA",
        description="The schema of Oracle Monitor's tables in that project, one the Data API "
        "exposes (the migrations' tables go to public unless applied to another).",
    )

    def store_url(self, spans: str) -> str:
        """The project's ``supabase://`` store URL, spans in ``spans`` (a sqlite URL); raises
        ValueError without a key or for an API URL that is not http(s)."""
        if self.key is None or not self.key.get_secret_value():
            raise ValueError(
                "SUPABASE_URL is set without a key: set SUPABASE_SERVICE_ROLE_KEY (the "
                "project's service_role key), or ORACLE_STORE=postgresql://… instead"
            )
        from oracle_monitor.store.postgrest.url import supabase_store_url

        return supabase_store_url(self.url, self.key.get_secret_value(), spans, self.db_schema)
