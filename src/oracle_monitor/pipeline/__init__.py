"""The span path: receivers → processors → exporters, built as the OpenTelemetry Collector
builds its pipelines.

`components` names the kinds of component (decoder, processor, durable and best-effort
exporter) and what each may rely on; `chain` runs one chain over a batch; `factories` holds the
registries by name and the chains of the roles, described from the settings at start-up and
built where they run. ``serve`` runs its chain in the ingest workers
(`oracle_monitor.receiver.workers`) and ends in the store; in the scale-out topology

```
N receivers --> Kafka topic (key = trace id) --> M aggregators (one consumer group) --> store
```

the ``receiver``'s chain ends in the Kafka publisher and the ``aggregator`` runs ``serve``'s
chain behind its Kafka receiver. That topic's parts are here too: `url` parses
``kafka://host:port/topic``, `clients` configures librdkafka, `messages` turns OTLP requests into
one message per trace id.
"""
