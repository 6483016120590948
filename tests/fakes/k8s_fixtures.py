"""Recorded Kubernetes objects (``tests/fixtures/k8s``) for the collector's tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "k8s"


def fixture(name: str) -> dict[str, Any]:
    """A recorded object from ``tests/fixtures/k8s/<name>.json`` (a fresh copy)."""
    result: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return result
