"""docs/: the generated references match the code (run `make docs` after changing routes or
settings), and the configuration reference names every setting of every command."""

from __future__ import annotations

import importlib.util
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
    return [
        value
        for value in vars(config).values()
        if isinstance(value, type) and issubclass(value, BaseSettings) and value is not BaseSettings
    ] + [AgentSettings]


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    classes = _settings_classes()
    assert {kind.__name__ for kind in classes} >= {"Settings", "ProxySettings", "AgentSettings"}
    count = 0
    for kind in classes:
        prefix = str(kind.model_config.get("env_prefix", ""))
        for name, field in kind.model_fields.items():
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):  # the row names every variable, in order
                variable = "` or `".join(str(choice).upper() for choice in alias.choices)
            else:
                variable = alias if isinstance(alias, str) else f"{prefix}{name}".upper()
            assert f"| `{variable}` |" in text, f"{kind.__name__}.{name} ({variable})"
            count += 1
    assert count >= 40
    for token in ("ORACLE_API_TOKEN", "ORACLE_OTLP_TOKEN", "ORACLE_FORWARD_OTLP_ENDPOINTS",
                  "ORACLE_AGENT_KAFKA_BOOTSTRAP", "ORACLE_AGENT_LOG_LEVEL"):  # fmt: skip
        assert token in text


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
