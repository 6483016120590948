"""The ``otlp_forward`` exporter: every stored span also exported to other OTLP backends.

``ORACLE_FORWARD_OTLP_ENDPOINTS`` names the targets (Jaeger, Tempo, a Collector, another
Oracle Monitor). It is a best-effort exporter of the chains that end in the store: spans are
handed on *after* they are stored and answered, into one bounded queue per target that a
background thread drains through the stock OpenTelemetry OTLP exporter (its retries and
backoff included). Infrastructure events that correlate with a span and are already stored
when it is forwarded travel with it as span events. A slow or dead target never slows
ingestion: its queue fills, further spans for it are dropped and counted, and
``GET /api/v1/health`` shows the counts under ``forward``.
"""

import multiprocessing

from oracle_monitor.exporters.otlp_forward.endpoints import (
    ForwardConfig,
    ForwardEndpoint,
    parse_endpoints,
)
from oracle_monitor.exporters.otlp_forward.forwarder import ForwardCounters, Forwarder
from oracle_monitor.pipeline.components import ChainContext, Factory

__all__ = [
    "FACTORY",
    "ForwardConfig",
    "ForwardCounters",
    "ForwardEndpoint",
    "Forwarder",
    "parse_endpoints",
]


def _create(config: ForwardConfig, context: ChainContext) -> Forwarder:
    """A forwarder counting into the role's shared counters (its own when none were given),
    reading correlated events from the chain's store when it has one."""
    counters = context.forward_counters
    if counters is None:
        counters = ForwardCounters.for_targets(multiprocessing.get_context(), config)
        context.forward_counters = counters
    return Forwarder(config, counters, context.store if context.has_store else None)


#: Left out (``None``) when ``ORACLE_FORWARD_OTLP_ENDPOINTS`` names no target.
FACTORY = Factory(ForwardConfig.from_settings, _create)
