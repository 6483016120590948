"""Where the span path ends: exporters.

A chain (`oracle_monitor.pipeline`) has one *durable* exporter, whose success an OTLP answer or
a Kafka offset commit waits for: `store_writer` (one store transaction per batch; ``serve``,
``aggregator``) or `kafka_publisher` (every message acknowledged by the brokers; ``receiver``).
After it come any number of *best-effort* exporters that get what it made durable without ever
holding the chain up: `otlp_forward` (every stored span also sent to Jaeger, Tempo, a
Collector…).
"""
