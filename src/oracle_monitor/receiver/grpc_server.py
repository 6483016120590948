"""OTLP/gRPC trace receiver (``TraceService/Export``) on grpcio's asyncio server.

A thin servicer: refuse at the door when the pipeline is full, decode the raw request bytes
(so a malformed body is ``INVALID_ARGUMENT``, not grpcio's ``INTERNAL``), hand the spans on,
answer with ``partial_success`` for spans refused one by one. gzip-compressed requests are
inflated by grpcio, which enforces ``max_request_bytes`` on the inflated message.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from oracle_monitor.receiver.decode import DecodeLimits, decode_protobuf
from oracle_monitor.receiver.errors import REFUSALS, grpc_status_for
from oracle_monitor.receiver.pipeline import SpanPipeline

logger = logging.getLogger(__name__)

EXPORT_METHOD = "Export"
TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


class TraceServicer:
    """Implements ``TraceService/Export`` on raw request bytes."""

    def __init__(self, pipeline: SpanPipeline, limits: DecodeLimits) -> None:
        self._pipeline = pipeline
        self._limits = limits

    async def export(self, request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        """Decode, store and acknowledge one export request."""
        try:
            self._pipeline.check_capacity()
            batch = decode_protobuf(request, self._limits)
            await self._pipeline.submit(batch.spans)
        except REFUSALS as error:
            status = grpc_status_for(error)
            await context.abort(status.code, status.message, status.trailing_metadata)
        self._pipeline.stats.rejected_spans += batch.rejected_spans
        if batch.rejected_spans:
            return ExportTraceServiceResponse(
                partial_success=ExportTracePartialSuccess(
                    rejected_spans=batch.rejected_spans, error_message=batch.error_message
                )
            )
        return ExportTraceServiceResponse()


def create_grpc_server(
    servicer: TraceServicer, host: str, port: int, max_request_bytes: int
) -> tuple[grpc.aio.Server, int]:
    """A server with the trace service bound to ``host:port``; returns it and the bound port."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_request_bytes),
            ("grpc.so_reuseport", 0),
        ]
    )
    handler = grpc.method_handlers_generic_handler(
        TRACE_SERVICE,
        {
            EXPORT_METHOD: grpc.unary_unary_rpc_method_handler(
                servicer.export,
                request_deserializer=None,  # raw bytes: decoding is ours
                response_serializer=ExportTraceServiceResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((handler,))
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind OTLP/gRPC to {host}:{port}")
    return server, bound
