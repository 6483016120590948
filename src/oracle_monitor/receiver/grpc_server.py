"""OTLP/gRPC trace receiver (``TraceService/Export``) on grpcio's asyncio server.

A thin servicer: refuse at the door when the ingest queue is full, hand the raw request bytes
to an ingest worker (which decodes them, so a malformed body is ``INVALID_ARGUMENT``, not
grpcio's ``INTERNAL``), answer with ``partial_success`` for spans refused one by one.
gzip-compressed requests are inflated by grpcio, which enforces ``max_request_bytes`` on the
inflated message.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from oracle_monitor.auth import REFUSED_MESSAGE, BearerAuth
from oracle_monitor.receiver.errors import REFUSALS, Unauthenticated, grpc_status_for
from oracle_monitor.receiver.workers import IngestWorkerPool

if TYPE_CHECKING:
    from oracle_monitor.config import Settings

logger = logging.getLogger(__name__)

EXPORT_METHOD = "Export"
TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


class TraceServicer:
    """Implements ``TraceService/Export`` on raw request bytes."""

    def __init__(self, ingest: IngestWorkerPool, auth: BearerAuth) -> None:
        self._ingest = ingest
        self._auth = auth

    async def export(self, request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        """Decode, store and acknowledge one export request."""
        try:
            if self._auth.enabled and not self._auth.allows(_authorization(context)):
                raise Unauthenticated(REFUSED_MESSAGE)
            self._ingest.check_capacity()
            result = await self._ingest.submit("protobuf", request)
        except REFUSALS as error:
            status = grpc_status_for(error)
            await context.abort(status.code, status.message, status.trailing_metadata)
            raise  # abort() raises; this line is never reached
        if result.rejected_spans:
            return ExportTraceServiceResponse(
                partial_success=ExportTracePartialSuccess(
                    rejected_spans=result.rejected_spans, error_message=result.error_message
                )
            )
        return ExportTraceServiceResponse()


def _authorization(context: grpc.aio.ServicerContext[Any, Any]) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return value if isinstance(value, str) else value.decode(errors="replace")
    return None


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


async def start_grpc_server(
    stack: AsyncExitStack, ingest: IngestWorkerPool, auth: BearerAuth, settings: Settings
) -> int:
    """Start the OTLP/gRPC receiver of ``settings`` over ``ingest``; ``stack`` stops it.

    Returns the bound port. On the way out, in-flight exports get the shutdown timeout.
    """
    server, port = create_grpc_server(
        TraceServicer(ingest, auth),
        settings.server.host,
        settings.receiver.otlp_grpc_port,
        settings.receiver.max_request_bytes,
    )
    await server.start()
    stack.push_async_callback(server.stop, settings.server.shutdown_timeout_seconds)
    return port
