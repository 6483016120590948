"""The dashboard's generated API types are those of the API as it is.

``frontend/openapi.json`` (the OpenAPI document) and ``frontend/src/api/schema.ts`` (made from
it by openapi-typescript) are checked in; both are generated again here in a temporary
directory and compared. Run ``make api-types`` after changing a route or a response model.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from oracle_monitor.aggregator.snapshot import load_schema
from oracle_monitor.api.contract.state import StateSchemaPart, state_components
from oracle_monitor.api.openapi_dump import document, text

ROOT = Path(__file__).resolve().parents[3]
FRONTEND = ROOT / "frontend"
GENERATOR = FRONTEND / "codegen" / "node_modules" / ".bin" / "openapi-typescript"
STALE = "is stale: run `make api-types` and commit the result"


def test_openapi_json_is_current() -> None:
    assert (FRONTEND / "openapi.json").read_text(encoding="utf-8") == text(), (
        f"frontend/openapi.json {STALE}"
    )


def test_generated_types_are_current(tmp_path: Path) -> None:
    if not GENERATOR.exists() or shutil.which("node") is None:
        message = "openapi-typescript is not installed (cd frontend && npm ci)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    spec = tmp_path / "openapi.json"
    spec.write_text(text(), encoding="utf-8")
    out = tmp_path / "schema.ts"
    subprocess.run(
        [str(GENERATOR), str(spec), "--output", str(out)],
        cwd=FRONTEND / "codegen",
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert (FRONTEND / "src/api/schema.ts").read_text(encoding="utf-8") == out.read_text(
        encoding="utf-8"
    ), f"frontend/src/api/schema.ts {STALE}"


def test_the_snapshot_is_described_by_its_schema_file() -> None:
    """OracleState and its parts are oracle_state.schema.json's, not a second description."""
    schemas = document()["components"]["schemas"]
    for name, schema in state_components(load_schema()).items():
        assert schemas[name] == schema, name
    stand_ins = {kind.__name__ for kind in StateSchemaPart.__subclasses__()}
    assert stand_ins <= schemas.keys()


def test_every_json_answer_has_a_schema() -> None:
    """Each route documents its 200 answer with a component (the metrics route is text)."""
    for path, operations in document()["paths"].items():
        for method, operation in operations.items():
            content = operation["responses"]["200"].get("content", {})
            if path == "/metrics":
                continue
            assert "$ref" in content["application/json"]["schema"], (method, path)
            assert "422" not in operation["responses"], (method, path)
