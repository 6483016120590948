"""docs/: the generated references match the code (run `make docs` after changing routes or
settings), and the configuration reference names every setting of every command."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from oracle_monitor import config
from oracle_monitor.agents.settings import AgentSettings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return _generator()


def test_generated_files_are_up_to_date(generator: ModuleType) -> None:
    for path, text in generator.outputs().items():
        assert path.read_text() == text, f"{path.name} is stale: run `make docs`"


def _settings_classes() -> list[type[BaseSettings]]:
    """Every class that reads the environment: the groups of `Settings` (its fields), the
    proxy's, the agents'."""
    groups = [field.annotation for field in config.Settings.model_fields.values()]
    classes = [kind for kind in groups if isinstance(kind, type) and issubclass(kind, BaseSettings)]
    assert len(classes) == len(groups) >= 10, groups
    defined = set()  # a group defined but not in `Settings` would be read by no command
    for module in pkgutil.iter_modules(config.__path__, f"{config.__name__}."):
        for value in vars(importlib.import_module(module.name)).values():
            if isinstance(value, type) and issubclass(value, BaseSettings):
                defined.add(value)
    assert defined - {BaseSettings, config.SettingsGroup} == {*classes, config.ProxySettings}
    return [*classes, config.ProxySettings, AgentSettings]


def _variables(kind: type[BaseSettings], name: str) -> list[str]:
    """The variables pydantic-settings reads for field ``name`` of ``kind``, in order."""
    alias = kind.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice).upper() for choice in alias.choices]
    if isinstance(alias, str):
        return [alias.upper()]
    return [f"{kind.model_config.get('env_prefix', '')}{name}".upper()]


def _undocumented_and_unknown(text: str) -> tuple[list[str], set[str]]:
    """The fields whose row (naming every variable of the field, in order) ``text`` lacks,
    and the variables ``text``'s table rows name that no field reads."""
    missing, known = [], set()
    for kind in _settings_classes():
        for name in kind.model_fields:
            variables = _variables(kind, name)
            if f"| `{'` or `'.join(variables)}` |" not in text:
                missing.append(f"{kind.__name__}.{name} ({' or '.join(variables)})")
            known.update(variables)
    rows = re.findall(r"^\| (`[^|]+`) \|", text, flags=re.MULTILINE)
    documented = {name.strip("`") for row in rows for name in row.split(" or ")}
    assert len(known) >= 90 and len(documented) >= 90
    return missing, documented - known


def test_every_setting_is_documented_and_every_documented_one_exists() -> None:
    text = (DOCS / "configuration.md").read_text()
    assert _undocumented_and_unknown(text) == ([], set())
    for token in ("ORACLE_API_TOKEN", "ORACLE_OTLP_TOKEN", "ORACLE_FORWARD_OTLP_ENDPOINTS",
                  "ORACLE_PIPELINE_SESSION_TIMEOUT_MS", "SUPABASE_SERVICE_ROLE_KEY",
                  "ORACLE_AGENT_KAFKA_BOOTSTRAP", "ORACLE_AGENT_LOG_LEVEL"):  # fmt: skip
        assert f"`{token}`" in text


def test_the_check_fails_for_a_missing_row_or_an_unknown_variable() -> None:
    text = (DOCS / "configuration.md").read_text()
    row = "| `ORACLE_PIPELINE_SESSION_TIMEOUT_MS` |"
    assert row in text
    missing, unknown = _undocumented_and_unknown(text.replace(row, "| `ORACLE_PIPELINE_SESSION` |"))
    assert missing == ["PipelineSettings.session_timeout_ms (ORACLE_PIPELINE_SESSION_TIMEOUT_MS)"]
    assert unknown == {"ORACLE_PIPELINE_SESSION"}


def test_every_route_is_in_the_api_reference(generator: ModuleType) -> None:
    text = (DOCS / "api.md").read_text()
    spec = generator.openapi_schema()
    for path, operations in spec["paths"].items():
        for method in operations:
            assert f"### `{method.upper()} {path}`" in text
    assert "/api/v1/traces/{trace_id}/causal-chain" in spec["paths"]


def test_hand_written_docs_exist() -> None:
    for name in ("architecture.md", "troubleshooting.md"):
        assert len((DOCS / name).read_text().split()) > 300, name
