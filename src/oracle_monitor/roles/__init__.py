"""The processes Oracle Monitor runs, one module per role, each composing the parts it needs
with one `AsyncExitStack` (start-up order in its docstring; shutdown runs it backwards).

* `serve`: everything in one node: OTLP receivers → ``store_chain`` in the ingest workers →
  the store; collectors, snapshots, alerts and the API beside it.
* `receiver`: OTLP receivers → ``kafka_chain`` in the ingest workers → the pipeline topic.
* `aggregator`: the pipeline topic → Kafka receiver → ``store_chain`` → the store; one
  aggregator of the group at a time takes the snapshots (the leader's duties).
* `api`: the API and dashboard alone, over a store the others write.
* `proxy`: the LLM proxy, which traces the calls agents make through it.
* `demo`: a whole multi-agent system on this machine, with ``serve`` and ``proxy`` among its
  processes.

`lifecycle` holds what the long-running roles do alike. The chains are in
`oracle_monitor.pipeline.factories`; the ``oracle-monitor`` command (`oracle_monitor.cli`)
parses the flags and runs a role.
"""
