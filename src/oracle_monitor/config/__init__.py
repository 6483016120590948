"""Settings of Oracle Monitor's commands, in one documented place.

Every setting is read once at start-up from, in order of precedence: the command-line flag,
its environment variable, the default. `Settings` (of `serve`, `receiver`, `aggregator`, `api`
and `migrate`) is one group per component, each a `SettingsGroup` that reads its own
``ORACLE_*`` variables: ``settings.pipeline.session_timeout_ms`` is
``ORACLE_PIPELINE_SESSION_TIMEOUT_MS``, ``settings.store.url`` is ``ORACLE_STORE``.
`ProxySettings` are the LLM proxy's. Parts of the server receive these typed objects; nothing
deeper reads the environment.

In code, a group given to `Settings` sets the fields it was given, and the environment still
sets the others: ``Settings(pipeline=PipelineSettings(group_id="g"))``, or from a mapping,
``Settings.model_validate({"pipeline": {"group_id": "g"}})`` (the command line's way).
"""

from __future__ import annotations

from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from oracle_monitor.config.aggregator import AlertSettings, ChainSettings, SnapshotSettings
from oracle_monitor.config.base import SettingsGroup, variables
from oracle_monitor.config.collectors import K8sSettings, KafkaSettings, LlmSettings
from oracle_monitor.config.listeners import (
    ApiSettings,
    AuthSettings,
    ReceiverSettings,
    ServerSettings,
)
from oracle_monitor.config.proxy import ProxySettings
from oracle_monitor.config.scale_out import LeaderSettings, PipelineSettings
from oracle_monitor.config.span_path import ForwardSettings, IngestSettings
from oracle_monitor.config.store import StoreSettings, SupabaseSettings

__all__ = [
    "AlertSettings",
    "ApiSettings",
    "AuthSettings",
    "ChainSettings",
    "ForwardSettings",
    "IngestSettings",
    "K8sSettings",
    "KafkaSettings",
    "LeaderSettings",
    "LlmSettings",
    "PipelineSettings",
    "ProxySettings",
    "ReceiverSettings",
    "ServerSettings",
    "Settings",
    "SettingsGroup",
    "SnapshotSettings",
    "StoreSettings",
    "SupabaseSettings",
    "explain",
    "variables",
]


G = TypeVar("G", bound=SettingsGroup)


def _group(kind: type[G]) -> Any:
    """A field of `Settings` holding group ``kind``: read from the environment (then its
    defaults) when `Settings` is built without it."""
    return Field(default_factory=lambda: kind())


class Settings(BaseModel):
    """Where the server listens, what it accepts, where it stores, what it watches and how
    it aggregates: one group per component, in the order of the data path."""

    model_config = ConfigDict(extra="forbid")

    server: ServerSettings = _group(ServerSettings)
    receiver: ReceiverSettings = _group(ReceiverSettings)
    auth: AuthSettings = _group(AuthSettings)
    ingest: IngestSettings = _group(IngestSettings)
    store: StoreSettings = _group(StoreSettings)
    supabase: SupabaseSettings = _group(SupabaseSettings)
    forward: ForwardSettings = _group(ForwardSettings)
    pipeline: PipelineSettings = _group(PipelineSettings)
    k8s: K8sSettings = _group(K8sSettings)
    kafka: KafkaSettings = _group(KafkaSettings)
    llm: LlmSettings = _group(LlmSettings)
    snapshots: SnapshotSettings = _group(SnapshotSettings)
    alerts: AlertSettings = _group(AlertSettings)
    chains: ChainSettings = _group(ChainSettings)
    leader: LeaderSettings = _group(LeaderSettings)
    api: ApiSettings = _group(ApiSettings)

    @classmethod
    def groups(cls) -> dict[str, type[SettingsGroup]]:
        """Each group's attribute name and class, in order."""
        return {name: _group_class(field) for name, field in cls.model_fields.items()}

    @model_validator(mode="after")
    def _default_store(self) -> Settings:
        """Without a store URL: the Supabase project's, when one is set, else the embedded
        store in the data directory (the group is copied, not changed in place)."""
        if not self.store.url:
            sqlite = self.store.sqlite_url()
            url = self.supabase.store_url(sqlite) if self.supabase.url else sqlite
            self.store = self.store.model_copy(update={"url": url})
        return self


def _group_class(field: FieldInfo) -> type[SettingsGroup]:
    kind = field.annotation
    assert isinstance(kind, type) and issubclass(kind, SettingsGroup), kind
    return kind


_KINDS: list[type[BaseModel]] = [Settings, ProxySettings, *Settings.groups().values()]
_OWNERS = {kind.__name__: kind for kind in _KINDS}


def explain(error: ValidationError) -> str:
    """``error`` of `Settings`, a group or `ProxySettings` as one line per problem, each
    naming the environment variable it is about (and the value, unless it is a secret)."""
    lines = []
    for problem in error.errors():
        loc = [str(part) for part in problem["loc"]]
        owner, key = _OWNERS.get(error.title), loc[0] if loc else ""
        if owner is Settings and len(loc) > 1 and key in Settings.model_fields:
            owner, key = Settings.groups()[key], loc[1]
        field = _field(owner, key) if owner is not None else None
        if owner is None or field is None or not issubclass(owner, BaseSettings):
            lines.append(f"{'.'.join(loc)}: {problem['msg']}" if loc else problem["msg"])
            continue
        shown = problem["type"] != "value_error" and not _secret(owner.model_fields[field])
        value = f" (got {problem['input']!r})" if shown else ""
        lines.append(f"{' or '.join(variables(owner, field))}: {problem['msg']}{value}")
    return "\n".join(lines)


def _field(owner: type[BaseModel], key: str) -> str | None:
    """The field ``key`` names in an error of ``owner``: itself, or the field it is a
    variable of (a value read through an alias is reported under the alias)."""
    if key in owner.model_fields:
        return key
    if issubclass(owner, BaseSettings):
        for name, field in owner.model_fields.items():
            if field.validation_alias is not None and key.upper() in variables(owner, name):
                return name
    return None


def _secret(field: FieldInfo) -> bool:
    return field.repr is False or SecretStr in (field.annotation, *get_args(field.annotation))
