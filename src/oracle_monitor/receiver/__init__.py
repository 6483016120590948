"""Receivers: where spans enter the span path.

OTLP/gRPC (`grpc_server`) and OTLP/HTTP (`http_server`) refuse at the door when full and hand
each request's bytes to the ingest worker processes (`workers`, `worker_process`), which run the
role's chain (`oracle_monitor.pipeline`) and answer once it made the spans durable. `errors`
maps every refusal to its gRPC and HTTP answer. Decoding is pure: `decode` (protobuf),
`otlp_json` (JSON), and `span_decoder`, the chain's decoder over both. The aggregators'
receiver reads the pipeline's Kafka topic instead (`kafka`).
"""
