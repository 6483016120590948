"""The pipeline commands refuse to start without a pipeline, or with a bad one."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from oracle_monitor.cli import main


@pytest.mark.parametrize("command", ["receiver", "aggregator"])
def test_pipeline_is_required(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORACLE_PIPELINE", raising=False)
    result = CliRunner().invoke(main, [command])
    assert result.exit_code == 2
    assert "--pipeline kafka://host:port/topic" in result.output


@pytest.mark.parametrize("command", ["receiver", "aggregator"])
def test_bad_pipeline_url_is_a_usage_error(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--pipeline", "kafka://broker:9092"])
    assert result.exit_code == 2
    assert "names no topic" in result.output
