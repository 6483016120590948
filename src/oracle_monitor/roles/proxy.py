"""`oracle-monitor proxy`: the LLM proxy (`oracle_monitor.proxy`) served on its own.

Its spans go where the standard ``OTEL_EXPORTER_OTLP_*`` variables say (the instrumentation's
exporter set-up), priced with the table ``serve`` uses (``ORACLE_PRICING_FILE`` extends it).
uvicorn handles SIGINT and SIGTERM: in-flight responses finish, then the exporter flushes.
"""

from __future__ import annotations

import logging

import uvicorn

from oracle_monitor.config import ProxySettings
from oracle_monitor.processing.pricing import load_prices
from oracle_monitor.proxy.app import LLMProxy

__all__ = ["run_proxy"]

_log = logging.getLogger("oracle_monitor.proxy")


def run_proxy(settings: ProxySettings) -> None:
    """Serve the proxy until Ctrl-C / SIGTERM, exporting spans as ``OTEL_*`` variables say."""
    from oracle_monitor import instrumentation

    provider = instrumentation.configure("oracle-llm-proxy", instrument_llm=False)
    proxy = LLMProxy(
        openai_upstream=settings.openai_upstream,
        anthropic_upstream=settings.anthropic_upstream,
        prices=load_prices(settings.pricing_file),
        tracer=provider.get_tracer("oracle_monitor.llm_proxy"),
    )
    _log.info(
        "LLM proxy on http://%s:%d (OpenAI base URL http://%s:%d/v1, Anthropic http://%s:%d)",
        settings.host, settings.port, settings.host, settings.port, settings.host, settings.port,
    )  # fmt: skip
    try:
        uvicorn.run(
            proxy.app, host=settings.host, port=settings.port, log_level="warning",
            access_log=False, lifespan="on",  # uvloop and httptools when installed
        )  # fmt: skip
    finally:
        instrumentation.shutdown()
