"""OTLP/HTTP trace receiver: ``POST /v1/traces`` with protobuf or JSON, gzip or not.

Sizes are enforced twice: on the wire while the body streams in (``Content-Length`` is not
trusted) and after decompression, so a small gzip bomb is refused as surely as a huge body.
"""

from __future__ import annotations

import zlib

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oracle_monitor.auth import REFUSED_MESSAGE, BearerAuth
from oracle_monitor.receiver.decode import MalformedRequest
from oracle_monitor.receiver.errors import (
    REFUSALS,
    RequestTooLarge,
    Unauthenticated,
    UnsupportedMediaType,
    http_error_for,
)
from oracle_monitor.receiver.workers import IngestWorkerPool

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ENCODINGS = {PROTOBUF: "protobuf", JSON: "json"}
# zlib window bits: 16 + MAX_WBITS reads gzip, MAX_WBITS reads zlib-wrapped deflate.
_INFLATE_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": 15}


def media_type(content_type: str | None) -> str:
    """The OTLP encoding named by a Content-Type header, or raise `UnsupportedMediaType`."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind not in _ENCODINGS:
        raise UnsupportedMediaType(
            f"unsupported Content-Type {content_type!r}; use {PROTOBUF} or {JSON}"
        )
    return kind


def inflate(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding``; refuse output beyond ``limit`` bytes without inflating it."""
    coding = (encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding not in _INFLATE_WBITS:
        raise UnsupportedMediaType(f"unsupported Content-Encoding {encoding!r}; use gzip")
    inflater = zlib.decompressobj(_INFLATE_WBITS[coding])
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise MalformedRequest(f"body is not valid {coding}: {error}") from error
    if len(data) > limit:
        raise RequestTooLarge(f"decompressed body exceeds the {limit}-byte limit")
    if not inflater.eof:
        raise MalformedRequest(f"{coding} body is truncated")
    return data


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing anything over ``limit`` bytes as it arrives."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"body of {declared} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"body exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


class HttpTraceReceiver:
    """The ``POST /v1/traces`` endpoint."""

    def __init__(self, ingest: IngestWorkerPool, max_request_bytes: int, auth: BearerAuth):
        self._ingest = ingest
        self._max_request_bytes = max_request_bytes
        self._auth = auth

    async def export(self, request: Request) -> Response:
        """Decode, store and acknowledge one export request."""
        kind = JSON
        try:
            if not self._auth.allows(request.headers.get("authorization")):
                raise Unauthenticated(REFUSED_MESSAGE)
            kind = media_type(request.headers.get("content-type"))
            self._ingest.check_capacity()
            wire = await read_body(request, self._max_request_bytes)
            body = inflate(wire, request.headers.get("content-encoding"), self._max_request_bytes)
            result = await self._ingest.submit(_ENCODINGS[kind], body)
        except REFUSALS as error:
            answer = http_error_for(error)
            return Response(
                answer.body(json_body=kind == JSON),
                status_code=answer.status,
                headers=dict(answer.headers),
                media_type=kind,
            )
        response = ExportTraceServiceResponse()
        if result.rejected_spans:
            response.partial_success.CopyFrom(
                ExportTracePartialSuccess(
                    rejected_spans=result.rejected_spans, error_message=result.error_message
                )
            )
        if kind == JSON:
            content = json_format.MessageToJson(response, indent=None).encode()
        else:
            content = response.SerializeToString()
        return Response(content, media_type=kind)


def create_http_app(receiver: HttpTraceReceiver) -> Starlette:
    """The OTLP/HTTP application."""
    return Starlette(routes=[Route("/v1/traces", receiver.export, methods=["POST"])])
