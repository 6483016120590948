"""A clean environment and an in-memory exporter behind `configure` for each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from oracle_monitor.instrumentation.setup import configure, force_flush
from tests.otel_reset import reset_instrumentation

_ENV_PREFIXES = ("OTEL_", "K8S_")
_ENV_NAMES = ("KUBERNETES_SERVICE_HOST", "HOSTNAME")


class Recorder:
    """The spans the configured provider has finished, flushed on each read."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def finished(self) -> list[ReadableSpan]:
        assert force_flush()
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> ReadableSpan:
        matches = [span for span in self.finished() if span.name == name]
        assert len(matches) == 1, [span.name for span in self.finished()]
        return matches[0]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OTEL_*, K8S_*, KUBERNETES_SERVICE_HOST or HOSTNAME; tracing unconfigured before/after."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES:
            monkeypatch.delenv(name)
    reset_instrumentation()
    yield
    reset_instrumentation()


@pytest.fixture
def recorder(clean_env: None) -> Recorder:
    """`configure` done with an in-memory exporter (no LLM instrumentation)."""
    exporter = InMemorySpanExporter()
    configure("unit-agent", span_exporter=exporter, instrument_llm=False)
    return Recorder(exporter)
