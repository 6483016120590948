"""Write the API's OpenAPI document without a server or a store.

    python -m oracle_monitor.api.openapi_dump frontend/openapi.json

``make api-types`` writes ``frontend/openapi.json`` this way, then generates the dashboard's
TypeScript types from it (``frontend/src/api/schema.ts``, by openapi-typescript).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, cast

from oracle_monitor.api.app import create_app
from oracle_monitor.store.base import Store

__all__ = ["document", "main", "text"]


def document() -> dict[str, Any]:
    """The OpenAPI document ``/api/openapi.json`` serves (routes are not called: no store)."""
    return create_app(cast(Store, None), dict).openapi()


def text() -> str:
    """The document as written to a file: two-space indented JSON, keys in FastAPI's order."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the document to the one path given (``-``: standard output); a file that holds
    it already is left as it is (so a build that depends on it is not redone)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m oracle_monitor.api.openapi_dump PATH|-", file=sys.stderr)
        return 2
    found = text()
    path = Path(args[0])
    if args[0] == "-":
        sys.stdout.write(found)
    elif not path.exists() or path.read_text(encoding="utf-8") != found:
        path.write_text(found, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
