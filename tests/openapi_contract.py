"""Check an API answer against what the OpenAPI document says that route answers.

The route's response schema is validated with ``jsonschema`` (draft 2020-12, as OpenAPI 3.1
schemas are), its ``$ref``\\s resolved inside the document, RFC 3339 times checked as
``date-time``. The response models refuse undeclared keys, so a body key the document does
not list fails, as does a missing required key or a value of another type.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from oracle_monitor.api.snapshots import parse_rfc3339_ns

BASE = "urn:oracle-monitor:openapi"
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _rfc3339(value: object) -> bool:
    if isinstance(value, str):
        parse_rfc3339_ns(value)
    return True


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


class Contract:
    """The answers an OpenAPI document promises, route by route."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self._registry: Registry[Any] = Registry().with_resource(
            BASE, DRAFT202012.create_resource(spec)
        )

    def json_routes(self) -> set[str]:
        """Every GET path whose 200 answer is JSON."""
        return {
            path
            for path, operations in self.spec["paths"].items()
            if "application/json"
            in operations.get("get", {}).get("responses", {}).get("200", {}).get("content", {})
        }

    def errors(self, path: str, body: Any, status: int = 200) -> list[str]:
        """What is wrong with ``body`` as the ``status`` answer of ``GET path`` (a path of
        the document, e.g. ``/api/v1/traces/{trace_id}``); [] if nothing."""
        responses = self.spec["paths"][path]["get"]["responses"]
        assert str(status) in responses, f"GET {path} documents no {status} answer"
        where = _pointer("paths", path, "get", "responses", str(status), "content")
        where += _pointer("application/json", "schema")
        validator = Draft202012Validator(
            {"$ref": f"{BASE}#{where}"}, registry=self._registry, format_checker=FORMATS
        )
        found = sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.path)))
        return [f"{e.json_path}: {e.message}"[:500] for e in found]

    def check(self, path: str, body: Any, status: int = 200) -> None:
        """Fail with every error when ``body`` does not match."""
        errors = self.errors(path, body, status)
        shown = "\n".join(errors[:20])
        assert not errors, f"GET {path} ({status}) does not match its OpenAPI schema:\n{shown}"
