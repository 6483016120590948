"""OTLP receivers (gRPC and HTTP): decode, validate, hand spans to the pipeline."""
