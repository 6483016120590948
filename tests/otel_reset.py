"""Forget `oracle_monitor.instrumentation.configure` and OpenTelemetry's global tracer provider,
for tests that configure more than once in one process. It pokes at private state of
``opentelemetry.trace``, which is why it lives with the tests and not in what agents import."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.util._once import Once

from oracle_monitor.instrumentation import setup


def reset_instrumentation() -> None:
    """Shut the configuration down and forget it, the global provider included."""
    setup.shutdown()
    with setup._lock:
        setup._state = None
        trace._TRACER_PROVIDER_SET_ONCE = Once()
        trace._TRACER_PROVIDER = None
