"""relays-resources and relays-servlets use only the public API of relays and relays-http.

They are our proof that a whole programming model plugs in from outside: every module
of both is parsed, and any import of a private module (``relays._plugins``,
``relays_http._request``) or of a name that is not in the package's ``__all__``
fails this test.
"""

from __future__ import annotations

import ast
import importlib
import pathlib

import pytest

ROOT = pathlib.Path(__file__).parents[3]
PLUGINS = ("resources", "servlets")
#: Packages whose private parts the plugins must not touch.
GUARDED = ("relays", "relays_http")


def sources() -> list[pathlib.Path]:
    files: list[pathlib.Path] = []
    for name in PLUGINS:
        files += sorted((ROOT / "plugins" / name / "src").rglob("*.py"))
    return files


def public_names(module: str) -> set[str]:
    return set(getattr(importlib.import_module(module), "__all__", ()))


def violations(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in GUARDED and any(part.startswith("_") for part in parts):
                    found.append(f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] not in GUARDED:
                continue
            if any(part.startswith("_") for part in parts):
                found.append(f"from {node.module} import ...")
                continue
            allowed = public_names(node.module)
            for alias in node.names:
                if alias.name not in allowed:
                    found.append(f"from {node.module} import {alias.name} (not in __all__)")
    return found


def test_there_are_sources_to_check() -> None:
    assert len(sources()) >= 10


@pytest.mark.parametrize("path", sources(), ids=lambda path: path.name)
def test_imports_only_public_names(path: pathlib.Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    assert violations(tree) == []


@pytest.mark.parametrize(
    "code",
    [
        "from relays_http._request import Request",
        "import relays._plugins",
        "from relays_http import _sending",
        "from relays import KNOWN_PROVIDERS_THAT_DO_NOT_EXIST",
    ],
)
def test_a_private_import_is_caught(code: str) -> None:
    assert violations(ast.parse(code)) != []
