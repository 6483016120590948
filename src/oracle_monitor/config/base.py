"""What every group of settings shares, and the environment variables that set a field."""

from __future__ import annotations

from pydantic import AliasChoices
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MiB", "SettingsGroup", "variables"]

MiB = 1024 * 1024


class SettingsGroup(BaseSettings):
    """One component's settings, read from its ``env_prefix`` variables when constructed.

    A field is set by ``<env_prefix><NAME>``, or by the variable(s) of its ``validation_alias``;
    keyword arguments (by field name or variable) win over the environment, which wins over
    the default. Unknown keywords are refused, so a misspelt one cannot be silently ignored.
    """

    model_config = SettingsConfigDict(extra="forbid", validate_by_name=True)


def variables(kind: type[BaseSettings], name: str) -> tuple[str, ...]:
    """The environment variables that set field ``name`` of ``kind``, the first winning."""
    alias = kind.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(choice).upper() for choice in alias.choices)
    if isinstance(alias, str):
        return (alias.upper(),)
    return (f"{kind.model_config.get('env_prefix', '')}{name}".upper(),)
