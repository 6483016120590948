"""Settings: one group per component, each read from its own ``ORACLE_*`` variables; a flag
wins over the variable, which wins over the default; a bad value is reported by its variable."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource

from oracle_monitor import cli
from oracle_monitor.config import (
    AuthSettings,
    PipelineSettings,
    ProxySettings,
    Settings,
    StoreSettings,
    SupabaseSettings,
    explain,
    variables,
)

READERS: list[type[BaseSettings]] = [*Settings.groups().values(), ProxySettings]


@pytest.fixture(autouse=True)
def no_settings_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for kind in READERS:
        for name in kind.model_fields:
            for variable in variables(kind, name):
                monkeypatch.delenv(variable, raising=False)


@pytest.mark.parametrize(
    ("kind", "name", "variable"),
    [
        (kind, name, variable)
        for kind in READERS
        for name in kind.model_fields
        for variable in variables(kind, name)
    ],
)
def test_each_variable_is_read_into_its_field(
    monkeypatch: pytest.MonkeyPatch, kind: type[BaseSettings], name: str, variable: str
) -> None:
    monkeypatch.setenv(variable, "from-the-environment")
    found = EnvSettingsSource(kind)()
    assert list(found.values()) == ["from-the-environment"]
    (key,) = found
    assert key in (name, variables(kind, name)[0])


def test_the_groups_follow_the_data_path() -> None:
    assert list(Settings.groups()) == [
        "server", "receiver", "auth", "ingest", "store", "supabase", "forward", "pipeline",
        "k8s", "kafka", "llm", "snapshots", "alerts", "chains", "leader", "api",
    ]  # fmt: skip
    assert sum(len(group.model_fields) for group in Settings.groups().values()) == 72
    for group in Settings.groups().values():
        assert group.__doc__ and group.model_config["extra"] == "forbid"


def test_given_beats_environment_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORACLE_PIPELINE_GROUP_ID", "env-group")
    monkeypatch.setenv("ORACLE_PIPELINE_SESSION_TIMEOUT_MS", "1000")
    settings = Settings(pipeline=PipelineSettings(group_id="given-group"))
    assert settings.pipeline.group_id == "given-group"  # given
    assert settings.pipeline.session_timeout_ms == 1000  # the environment
    assert settings.pipeline.heartbeat_interval_ms == 3000  # the default
    assert Settings().pipeline.group_id == "env-group"
    mapped = Settings.model_validate({"pipeline": {"health_port": 9001}})
    assert (mapped.pipeline.health_port, mapped.pipeline.group_id) == (9001, "env-group")


def test_misspelt_names_are_refused() -> None:
    with pytest.raises(ValidationError, match="group_idd"):
        PipelineSettings(group_idd="g")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="pipline"):
        Settings.model_validate({"pipline": {}})
    with pytest.raises(ValidationError, match="pipeline_group_id"):
        Settings.model_validate({"pipeline_group_id": "g"})  # the names before the groups


def test_the_default_store_is_made_from_the_data_dir_of_another_group(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ORACLE_DATA_DIR", str(tmp_path / "env"))
    assert Settings().store.url == f"sqlite:///{(tmp_path / 'env' / 'oracle.db').as_posix()}"
    given = StoreSettings(data_dir=tmp_path)
    assert Settings(store=given).store.url == f"sqlite:///{(tmp_path / 'oracle.db').as_posix()}"
    assert given.url == ""  # the group given is not changed
    monkeypatch.setenv("SUPABASE_URL", "https://abc.supabase.co")
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "sb_secret_abc")
    assert Settings(store=given).store.url.startswith("supabase://")
    monkeypatch.setenv("ORACLE_STORE", "postgresql://db/x")
    assert Settings().store.url == "postgresql://db/x"


def test_secrets_stay_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORACLE_AUTH_TOKEN", "tok-both")
    monkeypatch.setenv("ORACLE_KAFKA_SASL_PASSWORD", "pw-kafka")
    monkeypatch.setenv("ORACLE_STORE", "postgresql://u:pw-db@db/x")
    settings = Settings()
    assert settings.auth.api_bearer_token() == settings.auth.otlp_bearer_token() == "tok-both"
    assert settings.kafka.client_config()["sasl.password"] == "pw-kafka"
    for secret in ("tok-both", "pw-kafka", "pw-db"):
        assert secret not in repr(settings)


def test_a_bad_value_is_reported_by_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORACLE_PIPELINE_HEALTH_PORT", "-1")
    with pytest.raises(ValidationError) as from_environment:
        Settings()
    assert explain(from_environment.value) == (
        "ORACLE_PIPELINE_HEALTH_PORT: Input should be greater than or equal to 0 (got '-1')"
    )
    monkeypatch.delenv("ORACLE_PIPELINE_HEALTH_PORT")
    with pytest.raises(ValidationError) as given:
        Settings.model_validate({"auth": {"api_token": 4}, "pipeline": {"url": "kafka://k:1"}})
    token, url = explain(given.value).splitlines()
    assert token == "ORACLE_API_TOKEN: Input should be a valid string"  # not the value
    assert url.startswith("ORACLE_PIPELINE: Value error, pipeline URL 'kafka://k:1' names no")
    with pytest.raises(ValidationError) as aliased:  # reported under the alias given
        SupabaseSettings.model_validate({"SUPABASE_SERVICE_ROLE_KEY": 5})
    assert explain(aliased.value) == (
        "ORACLE_SUPABASE_KEY or SUPABASE_SERVICE_ROLE_KEY or SUPABASE_KEY: "
        "Input should be a valid string"
    )
    with pytest.raises(ValidationError) as unknown:
        AuthSettings.model_validate({"ORACLE_OTLP_TOKEN": "t"})  # a variable, not a name
    assert explain(unknown.value) == "ORACLE_OTLP_TOKEN: Extra inputs are not permitted"


def test_the_command_line_names_the_variable() -> None:
    result = CliRunner().invoke(
        cli.main, ["aggregator", "--pipeline", "kafka://k:1/t", "--health-port", "70000"]
    )
    assert result.exit_code == 2
    assert "ORACLE_PIPELINE_HEALTH_PORT: Input should be less than or equal to 65535" in (
        result.output
    )


# Every flag of every command that takes settings, with a value, and a different value of its
# variable in the environment: the flag must win.
FLAGS: dict[str, list[tuple[str, str | None, str]]] = {
    "serve": [
        ("--data-dir", "flag-data", "env-data"),
        ("--host", "0.0.0.0", "10.0.0.1"),
        ("--otlp-grpc-port", "14317", "24317"),
        ("--otlp-http-port", "14318", "24318"),
        ("--api-port", "18000", "28000"),
        ("--store", "sqlite:///flag.db", "sqlite:///env.db"),
        ("--no-migrate", None, "true"),
        ("--kubeconfig", "KUBECONFIG", "env-kubeconfig"),
        ("--k8s-namespaces", "a,b", "c"),
        ("--kafka-bootstrap", "flag:9092", "env:9092"),
    ],
    "receiver": [
        ("--pipeline", "kafka://flag:9092/t", "kafka://env:9092/t"),
        ("--host", "0.0.0.0", "10.0.0.1"),
        ("--otlp-grpc-port", "14317", "24317"),
        ("--otlp-http-port", "14318", "24318"),
    ],
    "aggregator": [
        ("--pipeline", "kafka://flag:9092/t", "kafka://env:9092/t"),
        ("--store", "postgresql://flag/x", "postgresql://env/x"),
        ("--group-id", "flag-group", "env-group"),
        ("--migrate", None, "false"),
        ("--health-port", "8001", "9001"),
    ],
    "migrate": [
        ("--data-dir", "flag-data", "env-data"),
        ("--store", "sqlite:///flag.db", "sqlite:///env.db"),
    ],
    "api": [
        ("--host", "0.0.0.0", "10.0.0.1"),
        ("--api-port", "18000", "28000"),
        ("--store", "postgresql://flag/x", "postgresql://env/x"),
        ("--no-migrate", None, "true"),
    ],
    "proxy": [
        ("--host", "0.0.0.0", "10.0.0.1"),
        ("--port", "18787", "28787"),
        ("--openai-upstream", "http://flag-openai", "http://env-openai"),
        ("--anthropic-upstream", "http://flag-anthropic", "http://env-anthropic"),
    ],
}


def _setting(kind: type[BaseModel], parameter: str) -> tuple[type[BaseSettings], str]:
    """The settings class and field a flag's parameter (``GROUP__FIELD`` or ``FIELD``) sets."""
    group, _, field = parameter.rpartition("__")
    owner = Settings.groups()[group] if group else kind
    assert issubclass(owner, BaseSettings) and field in owner.model_fields, parameter
    return owner, field


@pytest.mark.parametrize("command", list(FLAGS))
def test_every_flag_sets_its_setting_over_the_environment(
    command: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kind: type[BaseModel] = ProxySettings if command == "proxy" else Settings
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("{}")
    runner = cli.main.commands[command]
    options = {
        opt: param
        for param in runner.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
    }
    argv: list[str] = []
    for flag, value, from_environment in FLAGS[command]:
        option = options[flag]
        assert option.name is not None and option.help is not None
        owner, field = _setting(kind, option.name)
        (documented,) = re.findall(r"^\[([A-Z0-9_]+)\]", option.help)
        assert documented in variables(owner, field), flag  # the help names its variable
        monkeypatch.setenv(documented, from_environment)
        argv += [flag] if value is None else [flag, value.replace("KUBECONFIG", str(kubeconfig))]
    assert {options[flag].name for flag, _, _ in FLAGS[command]} == {
        option.name for option in options.values() if option.name != "help"
    }  # every flag is tried

    context = runner.make_context(command, argv)
    settings: Any = cli._settings(kind, **context.params)
    for parameter, value in context.params.items():
        assert value is not None, parameter
        _, field = _setting(kind, parameter)
        group = parameter.rpartition("__")[0]
        assert getattr(getattr(settings, group) if group else settings, field) == value, parameter


def test_without_flags_the_environment_wins_over_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORACLE_PIPELINE_GROUP_ID", "env-group")
    context = cli.main.commands["aggregator"].make_context("aggregator", [])
    settings = cli._settings(Settings, **context.params)
    assert settings.pipeline.group_id == "env-group"
    assert settings.pipeline.health_port is None  # the default
    assert settings.store.migrate is True
