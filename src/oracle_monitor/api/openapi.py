"""The application's OpenAPI document, completed: the snapshot schema's components in place of
their stand-ins, and FastAPI's 422 answers dropped (a bad parameter gets 400 here, described
by each router).

`OracleApi` is the FastAPI application class of `oracle_monitor.api.create_app`; its
``openapi()`` is what ``/api/openapi.json`` serves and what ``frontend/src/api/schema.ts``
is generated from (`oracle_monitor.api.openapi_dump`).
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI

from oracle_monitor.aggregator.snapshot import load_schema
from oracle_monitor.api.contract.state import StateSchemaPart, state_components

__all__ = ["OracleApi", "complete"]

_FASTAPI_422: Final = ("HTTPValidationError", "ValidationError")


def _stand_ins() -> set[str]:
    found: set[str] = set()
    pending = list(StateSchemaPart.__subclasses__())
    while pending:
        kind = pending.pop()
        found.add(kind.__name__)
        pending += kind.__subclasses__()
    return found


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (FastAPI's document) with the snapshot schema's components and without
    FastAPI's 422 responses; changed in place and returned."""
    schemas: dict[str, Any] = spec.setdefault("components", {}).setdefault("schemas", {})
    state = state_components(load_schema())
    unknown = sorted((_stand_ins() & schemas.keys()) - state.keys())
    if unknown:
        raise ValueError(f"stand-ins not in oracle_state.schema.json: {', '.join(unknown)}")
    schemas.update(state)
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    for name in _FASTAPI_422:  # the error first, then what only it used
        if f"#/components/schemas/{name}" not in _refs(spec.get("paths", {})) | _refs(schemas):
            schemas.pop(name, None)
    spec["components"]["schemas"] = dict(sorted(schemas.items()))
    return spec


class OracleApi(FastAPI):
    """FastAPI, serving the completed OpenAPI document (built once, on first use)."""

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document of every route."""
        if self.openapi_schema is None:
            self.openapi_schema = complete(super().openapi())
        return self.openapi_schema
