"""What agents import uses no private name of OpenTelemetry (or of any other dependency).

A name starting with ``_`` is not part of a library's API and may change in any release, which
would break every instrumented agent. Checked on the source with `ast`: imports from a private
OpenTelemetry module or of a private name, and any ``x._name`` (or ``getattr(x, "_name")``)
whose ``_name`` the package does not define itself.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

import oracle_monitor.instrumentation

PACKAGE = Path(oracle_monitor.instrumentation.__file__).parent
ACCESSORS = ("getattr", "setattr", "hasattr", "delattr")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def defined_names(trees: Iterable[ast.AST]) -> set[str]:
    """Every name the code binds itself: variables, functions, classes, attributes, slots."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets)
                and isinstance(node.value, ast.Tuple | ast.List)
            ):
                names.update(
                    e.value
                    for e in node.value.elts
                    if isinstance(e, ast.Constant) and isinstance(e.value, str)
                )
    return names


def private_uses(tree: ast.AST, own: set[str]) -> list[str]:
    """Private OpenTelemetry imports and private attributes not in ``own``, with line numbers."""
    found: list[str] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("opentelemetry"):
            module = node.module or ""
            if any(_private(part) for part in module.split(".")):
                found.append(f"{line}: from {module} import ...")
            found.extend(
                f"{line}: from {module} import {alias.name}"
                for alias in node.names
                if _private(alias.name)
            )
        elif isinstance(node, ast.Import):
            found.extend(
                f"{line}: import {alias.name}"
                for alias in node.names
                if alias.name.startswith("opentelemetry")
                and any(_private(part) for part in alias.name.split("."))
            )
        elif isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in own:
            found.append(f"{line}: .{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ACCESSORS
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
            and node.args[1].value not in own
        ):
            found.append(f"{line}: {node.func.id}(..., {node.args[1].value!r})")
    return found


def test_the_instrumentation_uses_public_names_of_its_dependencies_only() -> None:
    sources = sorted(PACKAGE.glob("*.py"))
    assert {p.name for p in sources} >= {"llm_http.py", "llm_span.py", "setup.py"}
    trees = {path.name: ast.parse(path.read_text(), str(path)) for path in sources}
    own = defined_names(trees.values())
    found = {name: private_uses(tree, own) for name, tree in trees.items()}
    assert {name: uses for name, uses in found.items() if uses} == {}


@pytest.mark.parametrize(
    "source",
    [
        "from opentelemetry.instrumentation._semconv import _report_new",
        "from opentelemetry.instrumentation.httpx import _normalize_headers",
        "import opentelemetry.util._once",
        "from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor as stock\n"
        "stock._module",
        "def f(textmap):\n    return textmap._propagators",
        "def f(tracer):\n    return getattr(tracer, '_span_processors')",
    ],
)
def test_the_check_finds_private_names(source: str) -> None:
    """The check above is not vacuous: each of these is what it must catch."""
    tree = ast.parse(source)
    assert private_uses(tree, defined_names([tree]))


def test_the_check_allows_the_package_own_private_names() -> None:
    source = "class A:\n    __slots__ = ('_x',)\n    def _f(self):\n        return self._x, self._f"
    tree = ast.parse(source)
    assert private_uses(tree, defined_names([tree])) == []
