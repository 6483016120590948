"""Forward targets: how ``ORACLE_FORWARD_OTLP_ENDPOINTS`` is read, and the exporter each gets.

Each comma-separated entry is a URL whose scheme picks the protocol:

* ``grpc://host:4317`` — OTLP/gRPC in plain text; ``grpcs://host:4317`` — OTLP/gRPC over TLS;
* ``http://host:4318`` or ``https://…`` — OTLP/HTTP (protobuf); without a path the standard
  ``/v1/traces`` is appended, as the OpenTelemetry exporters do for their base endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.util.re import parse_env_headers

from oracle_monitor.aggregator.correlate import ChainConfig, chain_config

if TYPE_CHECKING:
    from oracle_monitor.config import Settings

Protocol = Literal["grpc", "http"]
_SCHEMES: dict[str, tuple[Protocol, bool]] = {
    "grpc": ("grpc", False),
    "grpcs": ("grpc", True),
    "http": ("http", False),
    "https": ("http", True),
}


@dataclass(frozen=True, slots=True)
class ForwardEndpoint:
    """One target: protocol, where, and whether over TLS."""

    protocol: Protocol
    address: str  # gRPC: host:port; HTTP: the full URL of the traces path
    tls: bool

    @property
    def label(self) -> str:
        """How the target is named in logs and health (no credentials)."""
        if self.protocol == "grpc":
            return f"{'grpcs' if self.tls else 'grpc'}://{self.address}"
        return self.address

    def exporter(self, headers: dict[str, str], timeout_s: float) -> SpanExporter:
        """The stock OTLP span exporter for this target."""
        if self.protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )

            return GrpcExporter(
                endpoint=self.address, insecure=not self.tls, headers=headers, timeout=timeout_s
            )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )

        return HttpExporter(endpoint=self.address, headers=headers, timeout=timeout_s)


@dataclass(frozen=True, slots=True)
class ForwardConfig:
    """What the ingest workers need to forward; picklable (sent to each worker process)."""

    endpoints: tuple[ForwardEndpoint, ...]
    headers: dict[str, str] = field(default_factory=dict)
    queue_max_spans: int = 20_000
    batch_max_spans: int = 512
    export_timeout_s: float = 10.0
    schedule_delay_s: float = 0.5
    with_events: bool = True
    correlation: ChainConfig = field(default_factory=ChainConfig)

    @classmethod
    def from_settings(cls, settings: Settings) -> ForwardConfig | None:
        """The forwarding `serve` was asked for, or ``None`` when no target is set."""
        endpoints = parse_endpoints(settings.forward.otlp_endpoints)
        if not endpoints:
            return None
        secret = settings.forward.otlp_headers
        headers = dict(parse_env_headers(secret.get_secret_value(), liberal=True)) if secret else {}
        return cls(
            endpoints,
            headers=headers,
            queue_max_spans=settings.forward.queue_max_spans,
            with_events=settings.forward.events,
            correlation=chain_config(settings),
        )


def parse_endpoints(text: str) -> tuple[ForwardEndpoint, ...]:
    """Parse the comma-separated list; raise `ValueError` naming a bad entry."""
    endpoints = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        parts = urlsplit(entry)
        if parts.scheme.lower() not in _SCHEMES:
            raise ValueError(
                f"forward endpoint {entry!r}: use grpc://, grpcs://, http:// or https://"
            )
        if not parts.hostname or parts.port is None:
            raise ValueError(f"forward endpoint {entry!r} needs a host and a port")
        protocol, tls = _SCHEMES[parts.scheme.lower()]
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        if protocol == "grpc":
            if parts.path not in ("", "/"):
                raise ValueError(f"forward endpoint {entry!r}: a gRPC endpoint has no path")
            endpoints.append(ForwardEndpoint("grpc", f"{host}:{parts.port}", tls))
        else:
            path = parts.path if parts.path not in ("", "/") else "/v1/traces"
            scheme = "https" if tls else "http"
            endpoints.append(ForwardEndpoint("http", f"{scheme}://{host}:{parts.port}{path}", tls))
    return tuple(endpoints)
