"""What the response models share: strictness, keys that may be absent, JSON attribute values,
times and ids."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

__all__ = [
    "Answer",
    "AttributeValue",
    "Attributes",
    "ErrorDetail",
    "Rfc3339",
    "SpanId",
    "TraceId",
    "omittable",
]


class Answer(BaseModel):
    """A JSON object of an answer. Undeclared keys are refused, so its schema is exact."""

    model_config = ConfigDict(extra="forbid")


#: A JSON attribute value: an OTLP value as the API sends it (bytes as ``{"bytesValue":
#: base64}``, a kvlist as an object, an empty value or a non-finite float as ``null``). What
#: an array or object holds is any JSON (not this type again: a recursive component makes a
#: TypeScript type that refers to itself, which the generated types cannot compile).
AttributeValue = TypeAliasType(
    "AttributeValue", str | int | float | bool | list[Any] | dict[str, Any] | None
)
Attributes = dict[str, AttributeValue]

Rfc3339 = Annotated[
    str,
    Field(
        json_schema_extra={"format": "date-time"},
        examples=["2026-11-27T07:26:55.123456789Z"],
    ),
]
"""RFC 3339 in UTC with nanoseconds."""

TraceId = Annotated[
    str, Field(pattern="^[0-9a-f]{32}$", examples=["4bf92f3577b34da6a3ce929d0e0e4736"])
]
SpanId = Annotated[str, Field(pattern="^[0-9a-f]{16}$", examples=["00f067aa0ba902b7"])]


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def omittable(description: str, **field: Any) -> Any:
    """A key that an answer may leave out (not ``null``: absent). Annotate the field as
    ``T | SkipJsonSchema[None]``: the schema then says ``T``, not required, with no default."""
    return Field(default=None, description=description, json_schema_extra=_without_default, **field)


class ErrorDetail(Answer):
    """A refused request: a bad parameter (400), an unknown id (404), a missing or wrong
    bearer token (401)."""

    detail: str = Field(
        description="Which parameter and why, or what was not found.",
        examples=["invalid trace id 'abc': expected 32 hex digits"],
    )


_ERRORS: dict[int, str] = {
    400: "A bad parameter.",
    401: "No or a wrong bearer token (only when ORACLE_API_TOKEN is set).",
    404: "Not found.",
}


def error_answers(*codes: int, model: type[Answer] = ErrorDetail) -> dict[int | str, Any]:
    """FastAPI ``responses=`` describing the error answers ``codes`` with ``model``."""
    return {code: {"model": model, "description": _ERRORS[code]} for code in codes}
