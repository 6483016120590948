"""The documented ``MyCustomAgent`` (docs/instrumentation.md) works as written."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import pytest

from oracle_monitor.agents import BaseAgent, Result, Task
from oracle_monitor.agents.__main__ import agent_class
from tests.unit.agents.conftest import MakeAgent, Spans

README = Path(__file__).parents[3] / "docs" / "instrumentation.md"


def readme_agent() -> type[BaseAgent]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    (source,) = [block for block in blocks if "class MyCustomAgent(BaseAgent)" in block]
    namespace: dict[str, Any] = {}
    exec(compile(source, "docs/instrumentation.md", "exec"), namespace)
    cls: type[BaseAgent] = namespace["MyCustomAgent"]
    return cls


def test_my_custom_agent_from_the_readme(make_agent: MakeAgent, spans: Spans) -> None:
    cls = readme_agent()
    assert cls.kind == "custom"
    agent = make_agent(cls)
    outcome = agent.handle(Task(task_id="t-c", kind="custom", input={"topic": "hydrogen"}))
    assert outcome.status == "completed" and isinstance(outcome.message, Result)
    output = outcome.message.output
    assert output["topic"] == "hydrogen"
    assert output["sources"] == ["hydrogen", "hydrogen"]
    assert output["summary"] == "Hello! How can I assist you today?"
    names = {s.name for s in spans.all()}
    assert {"invoke_agent custom", "execute_tool search"} <= names


def test_the_entry_point_finds_agents_by_kind_or_import_path() -> None:
    assert agent_class("research").kind == "research"
    assert agent_class("oracle_monitor.agents.writer:WriterAgent").kind == "writer"
    for bad in ("nonsense", "oracle_monitor.agents.corpus:Corpus"):
        with pytest.raises(ValueError, match=re.escape(bad)):
            agent_class(bad)


def test_a_bad_setting_stops_the_process_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from oracle_monitor.agents.__main__ import main

    monkeypatch.setenv("ORACLE_AGENT_PROVIDER", "opneai")
    assert main(["writer"]) == 2
    assert "provider" in capsys.readouterr().err
    monkeypatch.delenv("ORACLE_AGENT_PROVIDER")
    assert main(["no_such_module:Agent"]) == 2
    assert "No module named 'no_such_module'" in capsys.readouterr().err


def test_a_missing_api_key_stops_the_agent_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from oracle_monitor.agents.__main__ import main
    from tests.otel_reset import reset_instrumentation

    monkeypatch.setattr(signal, "signal", lambda *_: None)  # keep pytest's own handlers
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("ORACLE_AGENT_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # never reached
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    try:
        assert main(["research"]) == 2
        assert "OPENAI_API_KEY" in capsys.readouterr().err
        reset_instrumentation()  # main() shut tracing down on its way out
        monkeypatch.setenv("ORACLE_AGENT_PROVIDER", "anthropic")
        assert main(["writer"]) == 2
        assert "ANTHROPIC_API_KEY" in capsys.readouterr().err
    finally:
        reset_instrumentation()
