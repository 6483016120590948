"""What the receiver answers when it cannot take a request, for gRPC and HTTP in one place.

Follows the OTLP specification's failure rules (https://opentelemetry.io/docs/specs/otlp/):
a malformed request is not retryable (``INVALID_ARGUMENT`` / 400); an oversized one neither
(``RESOURCE_EXHAUSTED`` *without* retry info / 413); a full pipeline is retryable
(``RESOURCE_EXHAUSTED`` *with* a ``RetryInfo`` detail / 429 with ``Retry-After``), and so is a
store that failed or a server shutting down (``UNAVAILABLE`` / 503 with ``Retry-After``). The
stock OTLP exporters retry exactly the retryable ones, so nothing acknowledged is lost and
nothing refused is dropped silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import grpc
from google.protobuf import duration_pb2, json_format
from google.rpc import code_pb2, error_details_pb2, status_pb2

from oracle_monitor.receiver.decode import MalformedRequest

__all__ = [
    "REFUSALS",
    "HttpError",
    "MalformedRequest",
    "PipelineFull",
    "ReceiverError",
    "Refusal",
    "RequestTooLarge",
    "ServiceUnavailable",
    "Unauthenticated",
    "UnsupportedMediaType",
    "grpc_status_for",
    "http_error_for",
]


class ReceiverError(Exception):
    """A request the receiver refuses as a whole."""


Refusal = ReceiverError | MalformedRequest
"""Everything that makes the receiver refuse a whole request (`REFUSALS` for ``except``)."""
REFUSALS = (ReceiverError, MalformedRequest)


class Unauthenticated(ReceiverError):
    """A bearer token is required and the request has none, or the wrong one."""


class RequestTooLarge(ReceiverError):
    """The body, after decompression, is larger than the configured limit."""


class UnsupportedMediaType(ReceiverError):
    """An OTLP/HTTP request whose Content-Type is neither protobuf nor JSON."""


class PipelineFull(ReceiverError):
    """Too many spans wait to be written; the client should retry after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ServiceUnavailable(ReceiverError):
    """The store failed or the server is shutting down; the client should retry."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class GrpcStatus:
    """A gRPC status to abort with: code, message and trailing metadata."""

    code: grpc.StatusCode
    message: str
    trailing_metadata: tuple[tuple[str, bytes | str], ...] = ()


@dataclass(frozen=True, slots=True)
class HttpError:
    """An HTTP error response: status, message and extra headers."""

    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()

    def body(self, json_body: bool) -> bytes:
        """The OTLP error body: a `google.rpc.Status` in the request's encoding."""
        status = status_pb2.Status(code=_HTTP_TO_RPC_CODE.get(self.status, 2), message=self.message)
        if json_body:
            return json_format.MessageToJson(status, indent=None).encode()
        return status.SerializeToString()  # type: ignore[no-any-return]


_HTTP_TO_RPC_CODE = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    413: code_pb2.RESOURCE_EXHAUSTED,
    415: code_pb2.INVALID_ARGUMENT,
    429: code_pb2.RESOURCE_EXHAUSTED,
    503: code_pb2.UNAVAILABLE,
}


def _retry_metadata(code: int, message: str, delay_s: float) -> tuple[tuple[str, bytes], ...]:
    seconds = math.floor(delay_s)
    retry_info = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=seconds, nanos=round((delay_s - seconds) * 1e9))
    )
    detail = status_pb2.Status(code=code, message=message)
    detail.details.add().Pack(retry_info)
    # The rich status (grpc-status-details-bin) is the standard place; the OTel Python
    # exporter reads the RetryInfo from its own trailer, so send both.
    return (
        ("grpc-status-details-bin", detail.SerializeToString()),
        ("google.rpc.retryinfo-bin", retry_info.SerializeToString()),
    )


def grpc_status_for(error: Refusal) -> GrpcStatus:
    """The gRPC status that answers ``error``."""
    message = str(error)
    if isinstance(error, PipelineFull):
        metadata = _retry_metadata(code_pb2.RESOURCE_EXHAUSTED, message, error.retry_after_s)
        return GrpcStatus(grpc.StatusCode.RESOURCE_EXHAUSTED, message, metadata)
    if isinstance(error, ServiceUnavailable):
        metadata = _retry_metadata(code_pb2.UNAVAILABLE, message, error.retry_after_s)
        return GrpcStatus(grpc.StatusCode.UNAVAILABLE, message, metadata)
    if isinstance(error, RequestTooLarge):
        return GrpcStatus(grpc.StatusCode.RESOURCE_EXHAUSTED, message)
    if isinstance(error, Unauthenticated):
        return GrpcStatus(grpc.StatusCode.UNAUTHENTICATED, message)
    return GrpcStatus(grpc.StatusCode.INVALID_ARGUMENT, message)


def http_error_for(error: Refusal) -> HttpError:
    """The HTTP status and headers that answer ``error``."""
    message = str(error)
    if isinstance(error, PipelineFull | ServiceUnavailable):
        retry_after = (("Retry-After", str(max(1, math.ceil(error.retry_after_s)))),)
        status = 429 if isinstance(error, PipelineFull) else 503
        return HttpError(status, message, retry_after)
    if isinstance(error, RequestTooLarge):
        return HttpError(413, message)
    if isinstance(error, UnsupportedMediaType):
        return HttpError(415, message)
    if isinstance(error, Unauthenticated):
        return HttpError(401, message, (("WWW-Authenticate", "Bearer"),))
    return HttpError(400, message)
