"""OTLP forwarding: every accepted span is also exported to other OTLP backends.

``ORACLE_FORWARD_OTLP_ENDPOINTS`` names the targets (Jaeger, Tempo, a Collector, another
Oracle Monitor). Spans are handed on by the ingest workers *after* they are stored, into one
bounded queue per target that a background thread drains through the stock OpenTelemetry
OTLP exporter (its retries and backoff included). Infrastructure events that correlate with
a span and are already stored when it is forwarded travel with it as span events. A slow or
dead target never slows ingestion: its queue fills, further spans for it are dropped and
counted, and ``GET /api/v1/health`` shows the counts under ``forward``.
"""

from oracle_monitor.exporters.otlp_forward.endpoints import (
    ForwardConfig,
    ForwardEndpoint,
    parse_endpoints,
)
from oracle_monitor.exporters.otlp_forward.forwarder import ForwardCounters, Forwarder

__all__ = [
    "ForwardConfig",
    "ForwardCounters",
    "ForwardEndpoint",
    "Forwarder",
    "parse_endpoints",
]
