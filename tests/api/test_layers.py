"""The layers keep to their imports: services know nothing of HTTP, storage nothing above it,
and each package says in its docstring what belongs there (``api/__init__.py`` has the map)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[2] / "api"

# package → module prefixes its modules must never import
FORBIDDEN = {
    "services": ("fastapi", "starlette", "uvicorn", "api.http", "api.cli", "api.planner"),
    "store": ("fastapi", "starlette", "api.http", "api.cli", "api.planner", "api.services"),
    "planner": ("fastapi", "starlette", "api.http", "api.cli"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports (absolute names), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _banned(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_layer_never_imports_the_layers_above_it(package: str) -> None:
    """No module under api/services imports FastAPI, Starlette or the HTTP edge (nor the command
    line or planner tools); storage imports no service; planner tools no HTTP."""
    files = sorted((API / package).rglob("*.py"))
    assert len(files) >= 3
    broken = [
        f"{path.relative_to(API.parent)}:{line} imports {name}"
        for path in files
        for line, name in _imports(path)
        if _banned(name, FORBIDDEN[package])
    ]
    assert broken == []


def test_the_checker_sees_an_import_of_fastapi(tmp_path: Path) -> None:
    """The import reader finds plain, from- and nested imports (so the layer test can fail)."""
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom fastapi import Request\ndef f():\n    import starlette.x\n")
    names = [name for _, name in _imports(module)]
    assert _banned("fastapi.Request", FORBIDDEN["services"])
    assert "fastapi" in names and "starlette.x" in names


def test_every_package_says_what_belongs_there() -> None:
    """Each package of api/ opens with a docstring of a few lines or more."""
    for init in sorted(API.rglob("__init__.py")):
        if "migrations" in init.parts:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert len(doc) >= 60, f"{init.relative_to(API.parent)} says too little: {doc!r}"
