"""`configure`: exporter by protocol, endpoints, resource from the environment, once only."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from oracle_monitor.instrumentation import setup
from oracle_monitor.instrumentation.setup import (
    ConfigurationError,
    build_resource,
    configure,
    otlp_span_exporter,
    shutdown,
)

pytestmark = pytest.mark.usefixtures("clean_env")


def configured_exporter() -> SpanExporter:
    assert setup._state is not None
    return setup._state.exporter


def endpoint_of(exporter: SpanExporter) -> Any:
    return exporter._endpoint  # type: ignore[attr-defined]


def test_default_protocol_is_http_protobuf_to_localhost() -> None:
    configure(instrument_llm=False)
    exporter = configured_exporter()
    assert isinstance(exporter, HttpSpanExporter)
    assert endpoint_of(exporter) == "http://localhost:4318/v1/traces"


def test_grpc_protocol_and_endpoint_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:14317")
    configure(instrument_llm=False)
    exporter = configured_exporter()
    assert isinstance(exporter, GrpcSpanExporter)
    assert endpoint_of(exporter) == "collector:14317"


def test_traces_protocol_beats_general_and_argument_beats_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", " GRPC ")
    assert isinstance(otlp_span_exporter(), GrpcSpanExporter)
    assert isinstance(otlp_span_exporter(protocol="http/protobuf"), HttpSpanExporter)


def test_http_endpoint_gets_signal_path_unless_traces_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://oracle:4318/")
    assert endpoint_of(otlp_span_exporter()) == "http://oracle:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://oracle:9999/custom")
    assert endpoint_of(otlp_span_exporter()) == "http://oracle:9999/custom"
    assert endpoint_of(otlp_span_exporter(endpoint="http://o:1/")) == "http://o:1/v1/traces"
    assert endpoint_of(otlp_span_exporter(traces_endpoint="http://o:2/t")) == "http://o:2/t"


def test_grpc_endpoint_argument_overrides_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://env:4317")
    exporter = otlp_span_exporter(protocol="grpc", endpoint="http://arg:4317")
    assert endpoint_of(exporter) == "arg:4317"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift", "OTEL_EXPORTER_OTLP_PROTOCOL='thrift'"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", "no JSON encoding"),
    ],
)
def test_unknown_protocol_is_refused_clearly(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match="grpc, http/protobuf") as error:
        configure(instrument_llm=False)
    assert message in str(error.value)
    assert setup._state is None


def test_bad_compression_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="compression='brotli'"):
        otlp_span_exporter(compression="brotli")


def test_resource_from_environment_and_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "env-service")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,team=search")
    monkeypatch.setenv("K8S_POD_NAME", "research-7d9f")
    monkeypatch.setenv("K8S_POD_UID", "0b4c-11")
    monkeypatch.setenv("K8S_NAMESPACE", "agents")
    monkeypatch.setenv("K8S_NODE_NAME", "node-3")
    provider = configure(
        "research-agent", resource_attributes={"team": "core"}, span_exporter=InMemorySpanExporter()
    )
    attributes = provider.resource.attributes
    assert attributes["service.name"] == "research-agent"
    assert attributes["deployment.environment"] == "prod"
    assert attributes["team"] == "core"
    assert attributes["k8s.pod.name"] == "research-7d9f"
    assert attributes["k8s.pod.uid"] == "0b4c-11"
    assert attributes["k8s.namespace.name"] == "agents"
    assert attributes["k8s.node.name"] == "node-3"
    assert attributes["telemetry.sdk.language"] == "python"


def test_otel_service_name_used_without_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "env-service")
    assert build_resource().attributes["service.name"] == "env-service"


def test_otel_resource_attributes_beat_downward_api_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "k8s.pod.name=from-otel")
    monkeypatch.setenv("K8S_POD_NAME", "from-downward-api")
    assert build_resource().attributes["k8s.pod.name"] == "from-otel"


def test_hostname_is_pod_name_only_in_a_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTNAME", "research-5c8b")
    assert "k8s.pod.name" not in build_resource().attributes
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert build_resource().attributes["k8s.pod.name"] == "research-5c8b"
    monkeypatch.setenv("K8S_POD_NAME", "explicit-pod")
    assert build_resource().attributes["k8s.pod.name"] == "explicit-pod"


def test_second_call_returns_same_provider_and_warns_if_different() -> None:
    exporter = InMemorySpanExporter()
    first = configure("a", span_exporter=exporter, instrument_llm=False)
    assert trace.get_tracer_provider() is first
    assert configure("a", span_exporter=exporter, instrument_llm=False) is first
    with pytest.warns(RuntimeWarning, match="already called with other arguments"):
        assert configure("b", span_exporter=exporter, instrument_llm=False) is first
    assert first.resource.attributes["service.name"] == "a"


def test_shutdown_flushes_queued_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")
    exporter = InMemorySpanExporter()
    provider = configure(span_exporter=exporter, instrument_llm=False)
    provider.get_tracer("test").start_span("queued").end()
    assert exporter.get_finished_spans() == ()
    shutdown()
    assert [span.name for span in exporter.get_finished_spans()] == ["queued"]
    shutdown()  # idempotent
    with pytest.raises(RuntimeError, match="shut down"):
        configure(span_exporter=exporter, instrument_llm=False)


def test_llm_clients_instrumented_and_uninstrumented(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(setup, "instrument_llm_http", lambda provider: calls.append(provider))
    monkeypatch.setattr(setup, "uninstrument_llm_http", lambda: calls.append("undone"))
    provider = configure(span_exporter=InMemorySpanExporter())
    assert calls == [provider]
    shutdown()
    assert calls == [provider, "undone"]


def test_llm_instrumentation_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(setup, "instrument_llm_http", lambda provider: calls.append(provider))
    monkeypatch.setattr(setup, "uninstrument_llm_http", lambda: calls.append("undone"))
    configure(span_exporter=InMemorySpanExporter(), instrument_llm=False)
    shutdown()
    assert calls == []
