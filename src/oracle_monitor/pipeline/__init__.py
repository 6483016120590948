"""The scale-out pipeline: stateless receivers publish to Kafka, aggregators store from it.

```
N receivers --> Kafka topic (key = trace id) --> M aggregators (one consumer group) --> store
```

`url` parses ``kafka://host:port/topic``; `messages` turns OTLP requests into one message per
trace id and back; `publisher` is the receivers' ingest-worker sink; `consumer` is the
aggregators' consume-write-commit loop; `receiver` and `aggregator` compose the two commands.
"""
