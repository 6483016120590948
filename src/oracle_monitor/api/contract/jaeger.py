"""``/jaeger/api/…``: Jaeger's own JSON shapes (`oracle_monitor.api.jaeger_model`).

Every answer is Jaeger's envelope ``{data, total, limit, offset, errors}``; times are unix
microseconds. Field names are Jaeger's.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from oracle_monitor.api.contract.base import Answer, omittable


class JaegerKeyValue(Answer):
    """A typed tag or log field."""

    key: str = Field(description="Attribute name.", examples=["gen_ai.request.model"])
    type: Literal["string", "bool", "int64", "float64", "binary"] = Field(
        description="Jaeger's value type (binary: base64; arrays and maps: their JSON text)."
    )
    value: str | bool | int | float = Field(
        description="The value; an integer beyond 2^53 - 1 is a string.", examples=["gpt-4o"]
    )


class JaegerReference(Answer):
    """The parent (CHILD_OF) or a link (FOLLOWS_FROM)."""

    refType: Literal["CHILD_OF", "FOLLOWS_FROM"] = Field(description="Reference type.")
    traceID: str = Field(
        description="Referenced trace.", examples=["4bf92f3577b34da6a3ce929d0e0e4736"]
    )
    spanID: str = Field(description="Referenced span.", examples=["00f067aa0ba902b7"])


class JaegerLog(Answer):
    """A span event, or an infrastructure event correlated with the span."""

    timestamp: int = Field(description="Unix microseconds.", examples=[1795764000123456])
    fields: list[JaegerKeyValue] = Field(description="The first is ``event`` (its name).")


class JaegerSpan(Answer):
    """One span in Jaeger's model."""

    traceID: str = Field(description="Its trace.")
    spanID: str = Field(description="Its id.")
    flags: int | SkipJsonSchema[None] = omittable("W3C trace flags; absent when zero.")
    operationName: str = Field(description="Span name.", examples=["chat gpt-4o"])
    references: list[JaegerReference] = Field(description="Parent, then links.")
    startTime: int = Field(description="Unix microseconds.")
    duration: int = Field(description="Microseconds.")
    tags: list[JaegerKeyValue] = Field(description="Attributes, scope, kind and status.")
    logs: list[JaegerLog] = Field(description="Span events and correlated infra events.")
    processID: str = Field(description="Key in the trace's processes.", examples=["p1"])
    warnings: list[str] | None = Field(description="A missing parent, dropped items.")


class JaegerProcess(Answer):
    """A service and its resource attributes."""

    serviceName: str = Field(description="service.name.", examples=["research-agent"])
    tags: list[JaegerKeyValue] = Field(description="Resource attributes but service.name.")


class JaegerTrace(Answer):
    """One trace in Jaeger's model."""

    traceID: str = Field(description="The trace.")
    spans: list[JaegerSpan] = Field(description="Its spans.")
    processes: dict[str, JaegerProcess] = Field(description="By process id (p1, p2…).")
    warnings: list[str] | None = Field(description="Always null.")


class JaegerOperation(Answer):
    """A span name of a service, with its kind."""

    name: str = Field(description="Span name.", examples=["invoke_agent research"])
    spanKind: Literal["", "internal", "server", "client", "producer", "consumer"] = Field(
        description="Span kind ('' when unspecified)."
    )


class JaegerDependency(Answer):
    """Calls from one service to another."""

    parent: str = Field(description="Calling service.", examples=["research-agent"])
    child: str = Field(description="Called service.", examples=["llm-proxy"])
    callCount: int = Field(description="Calls.", examples=[12])


class JaegerError(Answer):
    """One error of the envelope."""

    code: int | SkipJsonSchema[None] = omittable("HTTP status (absent for a trace not found).")
    msg: str = Field(description="What went wrong.", examples=["trace not found"])
    traceID: str | SkipJsonSchema[None] = omittable("The trace that was not found.")


class JaegerEnvelope(Answer):
    """Jaeger's structured response."""

    total: int = Field(description="Items of data (0 where Jaeger leaves it 0).")
    limit: int = Field(description="Always 0.")
    offset: int = Field(description="Always 0.")
    errors: list[JaegerError] | None = Field(description="Null when none.")


class JaegerServices(JaegerEnvelope):
    """Service names."""

    data: list[str] = Field(description="Service names.", examples=[["research-agent"]])


class JaegerOperationNames(JaegerEnvelope):
    """Span names of a service."""

    data: list[str] = Field(description="Span names, sorted.")


class JaegerOperations(JaegerEnvelope):
    """Operations of a service."""

    data: list[JaegerOperation] = Field(description="Its operations.")


class JaegerTraces(JaegerEnvelope):
    """Traces."""

    data: list[JaegerTrace] = Field(description="The traces found.")


class JaegerDependencies(JaegerEnvelope):
    """The service dependency graph."""

    data: list[JaegerDependency] = Field(description="Caller/callee pairs.")


class JaegerErrorAnswer(JaegerEnvelope):
    """A refused request: the envelope with no data."""

    data: None = Field(description="Always null.")


# --- query parameters -------------------------------------------------------------------
# The Jaeger routes read their parameters the way Jaeger's query service does
# (`oracle_monitor.api.jaeger_params`), not through FastAPI; these describe them in the
# OpenAPI document (``openapi_extra``).


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}  # fmt: skip


_SERVICE = _query("service", "A service name (required).", {"type": "string"})
_KINDS = ["internal", "server", "client", "producer", "consumer"]
_WHOLE = {"type": "integer", "minimum": 0}
_DURATION = {"type": "string", "examples": ["300ms", "1.5s", "2m"]}

OPERATIONS_PARAMETERS: Final = {
    "parameters": [
        {**_SERVICE, "required": True},
        _query("spanKind", "Only operations of this span kind.", {"enum": _KINDS}),
    ]
}
TRACES_PARAMETERS: Final = {
    "parameters": [
        _query("service", "Traces with a span of this service (service, tag, tags or "
               "traceID is needed).", {"type": "string"}),
        _query("operation", "Traces with a span of this name.", {"type": "string"}),
        _query("tag", "Traces with a span that has this attribute, as key:value (repeatable).",
               {"type": "array", "items": {"type": "string", "pattern": "^[^:]+:[^:]*$"}}),
        _query("tags", 'The same as a JSON object, e.g. {"http.status_code":"500"}.',
               {"type": "string"}),
        _query("minDuration", "Traces with a span at least this long (a Go duration).", _DURATION),
        _query("maxDuration", "Traces with a span at most this long (a Go duration).", _DURATION),
        _query("start", "Traces starting from (unix µs; default: end - 2 days).", _WHOLE),
        _query("end", "Traces starting until (unix µs; default: now).", _WHOLE),
        _query("limit", "At most this many traces (default 100).",
               {"type": "integer", "minimum": 0, "maximum": 1500}),
        _query("traceID", "These traces instead of a search (1-32 hex digits, repeatable).",
               {"type": "array", "items": {"type": "string", "pattern": "^[0-9a-fA-F]{1,32}$"}}),
    ]
}  # fmt: skip
DEPENDENCIES_PARAMETERS: Final = {
    "parameters": [
        _query("endTs", "The end of the window (unix ms; default: now).", _WHOLE),
        _query("lookback", "The window's length (ms; default 24 h).", _WHOLE),
        _query("service", "Only the links that touch this service.", {"type": "string"}),
    ]
}
