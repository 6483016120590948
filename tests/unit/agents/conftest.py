"""Agents in process: in-memory span export, the fake LLM upstream, corpus tools."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from oracle_monitor.agents import AgentSettings, BaseAgent, Control, LocalToolClient
from oracle_monitor.agents.corpus import Corpus
from oracle_monitor.agents.tools import corpus_tools
from oracle_monitor.demo.llm_provider import LLMProvider, running_llm_provider
from oracle_monitor.instrumentation import configure, force_flush
from tests.otel_reset import reset_instrumentation

MakeAgent = Callable[..., BaseAgent]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    """A finished span's attributes as a plain dict."""
    return dict(span.attributes or {})


class Spans:
    """The spans finished so far (flushed on each read)."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def all(self) -> list[ReadableSpan]:
        assert force_flush()
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return sorted((s for s in self.all() if s.name == name), key=lambda s: s.start_time or 0)


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LLMProvider]:
    with running_llm_provider() as upstream:
        yield upstream


@pytest.fixture
def upstream(llm_server: LLMProvider) -> LLMProvider:
    llm_server.requests.clear()
    llm_server.fail_next(0)
    return llm_server


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spans]:
    """`configure` with an in-memory exporter, LLM HTTP instrumentation on."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "K8S_", "ORACLE_AGENT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-key")
    reset_instrumentation()
    exporter = InMemorySpanExporter()
    configure("unit-agents", span_exporter=exporter)
    yield Spans(exporter)
    reset_instrumentation()


@pytest.fixture
def make_agent(upstream: LLMProvider, spans: Spans, tmp_path: Path) -> Callable[..., BaseAgent]:
    """An agent of a class with corpus tools in process (``tools`` adds or replaces some)."""

    def make(
        cls: type[BaseAgent],
        control: dict[str, Any] | None = None,
        tools: dict[str, Callable[..., Any]] | None = None,
        **settings: Any,
    ) -> BaseAgent:
        path = tmp_path / "control.json"
        if control is not None:
            import json

            path.write_text(json.dumps(control))
        config = AgentSettings(
            openai_base_url=upstream.openai_base_url,
            backoff_seconds=0.01,
            **settings,
        )
        table = {**corpus_tools(Corpus.load()), **(tools or {})}
        return cls(
            config,
            agent_id="unit-0",
            tools=LocalToolClient(table),
            control=Control(path if control is not None else None, cls.kind),
        )

    return make
