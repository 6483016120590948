"""Instrumentation that adds Oracle Monitor's GenAI spans to agents and their LLM clients.

What an agent imports::

    from oracle_monitor.instrumentation import configure, invoke_agent, execute_tool

    configure("research-agent")   # OTLP exporter from OTEL_EXPORTER_OTLP_* variables
    with invoke_agent("research", task_id="task-42"):
        with execute_tool("web_search"):
            ...

`configure` sets up the SDK (see `oracle_monitor.instrumentation.setup`), `invoke_agent`,
`execute_tool` and `record_reasoning` make agent spans (`.agent`), and `TracedProducer`,
`TracedConsumer` and `process_message` carry a task's trace across Kafka (`.kafka`).
"""

from oracle_monitor.instrumentation.agent import (
    SpanScope,
    current_agent_name,
    current_task_id,
    execute_tool,
    invoke_agent,
    record_reasoning,
)
from oracle_monitor.instrumentation.kafka import TracedConsumer, TracedProducer, process_message
from oracle_monitor.instrumentation.setup import (
    ConfigurationError,
    build_resource,
    configure,
    force_flush,
    otlp_span_exporter,
    shutdown,
)

__all__ = [
    "ConfigurationError",
    "SpanScope",
    "TracedConsumer",
    "TracedProducer",
    "build_resource",
    "configure",
    "current_agent_name",
    "current_task_id",
    "execute_tool",
    "force_flush",
    "invoke_agent",
    "otlp_span_exporter",
    "process_message",
    "record_reasoning",
    "shutdown",
]
