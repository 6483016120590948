"""`configure()`: one call that makes an agent send its traces to Oracle Monitor.

It builds an OpenTelemetry SDK `TracerProvider` with a `BatchSpanProcessor` and the OTLP
exporter that the standard variables choose, makes it the global tracer provider and
instruments the LLM HTTP clients. Settings come from the environment, as the OpenTelemetry
specification defines it, unless a keyword argument of `configure` overrides them:

- protocol: ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``, then ``OTEL_EXPORTER_OTLP_PROTOCOL``;
  ``grpc`` or ``http/protobuf`` (the specification's default);
- endpoint: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as is), then
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` (a base URL: OTLP/HTTP appends ``/v1/traces``);
- headers, compression, timeout, certificates, ``OTEL_BSP_*``: read by the exporters and the
  batch processor themselves;
- resource: the SDK defaults, then Kubernetes attributes from downward-API variables
  (``K8S_POD_NAME``, ``K8S_POD_UID``, ``K8S_NAMESPACE``, ``K8S_NODE_NAME``; in a pod,
  ``HOSTNAME`` stands in for a missing ``K8S_POD_NAME``), then ``OTEL_RESOURCE_ATTRIBUTES`` and
  ``OTEL_SERVICE_NAME``, then the ``resource_attributes`` and ``service_name`` arguments.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grpc import Compression as GrpcCompression
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from oracle_monitor.instrumentation.llm_http import instrument_llm_http, uninstrument_llm_http

__all__ = [
    "ConfigurationError",
    "build_resource",
    "configure",
    "force_flush",
    "otlp_span_exporter",
    "shutdown",
]

log = logging.getLogger(__name__)

PROTOCOLS = ("grpc", "http/protobuf")
DEFAULT_PROTOCOL = "http/protobuf"
TRACES_PATH = "/v1/traces"

# Downward-API variables a pod spec sets (``valueFrom.fieldRef``) and the attribute each gives.
KUBERNETES_VARIABLES = (
    ("K8S_POD_NAME", "k8s.pod.name"),
    ("K8S_POD_UID", "k8s.pod.uid"),
    ("K8S_NAMESPACE", "k8s.namespace.name"),
    ("K8S_NODE_NAME", "k8s.node.name"),
)
_GRPC_COMPRESSION = {
    "none": GrpcCompression.NoCompression,
    "gzip": GrpcCompression.Gzip,
    "deflate": GrpcCompression.Deflate,
}


class ConfigurationError(ValueError):
    """A setting (argument or environment variable) has a value `configure` cannot use."""


@dataclass
class _State:
    provider: TracerProvider
    exporter: SpanExporter
    arguments: dict[str, Any]
    instrumented_llm: bool
    shut_down: bool = False


_lock = threading.RLock()
_state: _State | None = None


def configure(
    service_name: str | None = None,
    *,
    endpoint: str | None = None,
    traces_endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    compression: str | None = None,
    insecure: bool | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    span_exporter: SpanExporter | None = None,
    instrument_llm: bool = True,
) -> TracerProvider:
    """Set up tracing for this process once and return its `TracerProvider`.

    Every keyword argument overrides the environment variable that would otherwise decide:

    - ``service_name``: ``service.name`` (beats ``OTEL_SERVICE_NAME``);
    - ``endpoint``: like ``OTEL_EXPORTER_OTLP_ENDPOINT`` (OTLP/HTTP appends ``/v1/traces``);
    - ``traces_endpoint``: like ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, used as is;
    - ``protocol``: ``"grpc"`` or ``"http/protobuf"``;
    - ``headers``, ``timeout`` (seconds), ``compression`` (``"gzip"``, ``"deflate"``,
      ``"none"``), ``insecure`` (gRPC only): passed to the exporter;
    - ``resource_attributes``: added to the resource, over the environment's;
    - ``span_exporter``: export to this exporter instead of OTLP (tests: the SDK's
      ``InMemorySpanExporter``); the OTLP settings are then not used;
    - ``instrument_llm``: instrument the httpx LLM clients (default ``True``).

    The provider becomes the global one. A second call returns the same provider and warns if
    its arguments differ from the first call's. Raises `ConfigurationError` for a protocol
    other than ``grpc`` or ``http/protobuf``.
    """
    global _state
    arguments = {  # what a repeated call is compared on; an exporter by identity
        "service_name": service_name,
        "endpoint": endpoint,
        "traces_endpoint": traces_endpoint,
        "protocol": protocol,
        "headers": dict(headers) if headers is not None else None,
        "timeout": timeout,
        "compression": compression,
        "insecure": insecure,
        "resource_attributes": dict(resource_attributes or {}),
        "span_exporter": id(span_exporter) if span_exporter is not None else None,
        "instrument_llm": instrument_llm,
    }
    with _lock:
        if _state is not None:
            if _state.shut_down:
                raise RuntimeError("tracing was shut down; configure() cannot set it up again")
            if arguments != _state.arguments:
                warnings.warn(
                    "oracle_monitor.instrumentation.configure() was already called with other "
                    "arguments; keeping the first configuration",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return _state.provider
        exporter = span_exporter or otlp_span_exporter(
            protocol=protocol,
            endpoint=endpoint,
            traces_endpoint=traces_endpoint,
            headers=headers,
            timeout=timeout,
            compression=compression,
            insecure=insecure,
        )
        provider = TracerProvider(resource=build_resource(service_name, resource_attributes))
        provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        if trace.get_tracer_provider() is not provider:
            log.warning(
                "another global tracer provider was set before configure(); spans made "
                "through the OpenTelemetry API go there, not to Oracle Monitor"
            )
        if instrument_llm:
            instrument_llm_http(provider)
        _state = _State(provider, exporter, arguments, instrumented_llm=instrument_llm)
        return provider


def force_flush(timeout_millis: int = 30_000) -> bool:
    """Export every finished span now; ``False`` if that did not finish in time."""
    with _lock:
        state = _state
    if state is None or state.shut_down:
        return True
    return state.provider.force_flush(timeout_millis)


def shutdown() -> None:
    """Flush the spans still queued, stop exporting and uninstrument (idempotent)."""
    with _lock:
        state = _state
        if state is None or state.shut_down:
            return
        state.shut_down = True
    if state.instrumented_llm:
        uninstrument_llm_http()
    state.provider.shutdown()


def build_resource(
    service_name: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Resource:
    """The resource `configure` gives its provider (see the module docstring for the order).

    ``environ`` is only for the Kubernetes variables; ``OTEL_RESOURCE_ATTRIBUTES`` and
    ``OTEL_SERVICE_NAME`` are always read from the process environment by the SDK.
    """
    env = os.environ if environ is None else environ
    resource = Resource(kubernetes_attributes(env)).merge(Resource.create())
    if resource_attributes:
        resource = resource.merge(Resource(dict(resource_attributes)))
    if service_name:
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    return resource


def kubernetes_attributes(environ: Mapping[str, str]) -> dict[str, str]:
    """``k8s.*`` resource attributes from the downward-API variables a pod spec can set."""
    attributes = {
        key: environ[variable].strip()
        for variable, key in KUBERNETES_VARIABLES
        if environ.get(variable, "").strip()
    }
    hostname = environ.get("HOSTNAME", "").strip()
    if "k8s.pod.name" not in attributes and environ.get("KUBERNETES_SERVICE_HOST") and hostname:
        attributes["k8s.pod.name"] = hostname
    return attributes


def resolve_protocol(protocol: str | None = None) -> str:
    """The OTLP protocol: the argument, the traces variable, the general one, http/protobuf."""
    value = protocol
    source = "protocol argument"
    if value is None:
        for variable in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
            if os.environ.get(variable, "").strip():
                value, source = os.environ[variable], variable
                break
    if value is None:
        return DEFAULT_PROTOCOL
    normalized = value.strip().lower()
    if normalized not in PROTOCOLS:
        hint = " (the Python OTLP exporters have no JSON encoding)" if "json" in normalized else ""
        raise ConfigurationError(
            f"{source}={value!r} is not a supported OTLP protocol{hint}; "
            f"use one of: {', '.join(PROTOCOLS)}"
        )
    return normalized


def otlp_span_exporter(
    *,
    protocol: str | None = None,
    endpoint: str | None = None,
    traces_endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    compression: str | None = None,
    insecure: bool | None = None,
) -> SpanExporter:
    """The OTLP span exporter `configure` uses; arguments as there, ``None`` reads the env."""
    name = _compression(compression)
    headers = dict(headers) if headers is not None else None
    if resolve_protocol(protocol) == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter(
            endpoint=traces_endpoint or endpoint,
            insecure=insecure,
            headers=headers,
            timeout=timeout,
            compression=_GRPC_COMPRESSION[name] if name else None,
        )
    from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )

    if traces_endpoint is None and endpoint is not None:
        traces_endpoint = endpoint.rstrip("/") + TRACES_PATH
    return HttpSpanExporter(
        endpoint=traces_endpoint,
        headers=headers,
        timeout=timeout,
        compression=HttpCompression(name) if name is not None else None,
    )


def _compression(value: str | None) -> str | None:
    if value is None:
        return None
    normalized = value.strip().lower()
    if normalized not in ("none", "gzip", "deflate"):
        raise ConfigurationError(f"compression={value!r}; use gzip, deflate or none")
    return normalized
