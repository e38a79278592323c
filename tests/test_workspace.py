"""Meta-tests that keep the workspace honest.

Every plugin folder is a distribution `relays-<name>` that declares exactly one entry point in
the `relays` group, ships a README, typing marker and tests; every module of every distribution
imports without a single warning; the changelog has one Unreleased section.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNEL = ROOT / "kernel"
PLUGINS = sorted(path.parent for path in ROOT.glob("plugins/*/pyproject.toml"))
DISTRIBUTIONS = ([KERNEL] if (KERNEL / "pyproject.toml").is_file() else []) + PLUGINS


def load(pyproject: Path) -> dict[str, Any]:
    with pyproject.open("rb") as file:
        return tomllib.load(file)


def import_name(distribution: Path) -> str:
    return "relays" if distribution == KERNEL else f"relays_{distribution.name}"


def module_names(distribution: Path) -> list[str]:
    """Every importable module under the distribution's src folder, by dotted name."""
    source = distribution / "src"
    names = []
    for path in sorted(source.rglob("*.py")):
        parts = path.relative_to(source).with_suffix("").parts
        if parts[-1] == "__main__":
            continue  # importing it would run the program
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


MODULES = [name for distribution in DISTRIBUTIONS for name in module_names(distribution)]


def test_kernel_exists() -> None:
    assert (KERNEL / "pyproject.toml").is_file(), "kernel/pyproject.toml (relays) is missing"


# The plugin rules loop over the plugins instead of being parametrized by them, so that they run,
# and pass, while no plugin exists yet instead of being skipped.


def test_every_plugin_is_named_after_its_folder() -> None:
    wrong = {
        plugin.name: name
        for plugin in PLUGINS
        if (name := load(plugin / "pyproject.toml")["project"]["name"]) != f"relays-{plugin.name}"
    }
    assert wrong == {}, "plugins/<name>/ must hold the distribution relays-<name>"


def relays_entry_points(plugin: Path) -> object:
    project = load(plugin / "pyproject.toml")["project"]
    return project.get("entry-points", {}).get("relays")


def test_every_plugin_declares_exactly_one_entry_point() -> None:
    expected = {plugin.name: {plugin.name: f"relays_{plugin.name}.plugin"} for plugin in PLUGINS}
    declared = {plugin.name: relays_entry_points(plugin) for plugin in PLUGINS}
    wrong = {
        name: entry_points
        for name, entry_points in declared.items()
        if entry_points != expected[name]
    }
    assert wrong == {}, (
        "plugins/<name>/pyproject.toml must declare exactly one entry point, in its own table: "
        '[project.entry-points.relays] <name> = "relays_<name>.plugin"'
    )


def test_every_plugin_entry_point_module_exists() -> None:
    missing = [
        f"plugins/{plugin.name}/src/relays_{plugin.name}/plugin.py"
        for plugin in PLUGINS
        if not (plugin / "src" / f"relays_{plugin.name}" / "plugin.py").is_file()
        and not (plugin / "src" / f"relays_{plugin.name}" / "plugin" / "__init__.py").is_file()
    ]
    assert missing == []


def test_every_plugin_has_a_readme() -> None:
    missing = [f"plugins/{plugin.name}/README.md" for plugin in PLUGINS]
    assert [path for path in missing if not (ROOT / path).is_file()] == []


def test_every_plugin_has_tests() -> None:
    untested = [
        f"tests/plugins/{plugin.name}/"
        for plugin in PLUGINS
        if not list((ROOT / "tests" / "plugins" / plugin.name).glob("**/test_*.py"))
    ]
    assert untested == [], "each plugin needs at least one tests/plugins/<name>/test_*.py"


def test_every_distribution_is_typed() -> None:
    missing = [
        (distribution / "src" / import_name(distribution) / "py.typed").relative_to(ROOT)
        for distribution in DISTRIBUTIONS
    ]
    assert [path for path in missing if not (ROOT / path).is_file()] == []


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_without_warnings(module: str) -> None:
    # A fresh interpreter per module: in this process most modules are imported already, and a
    # warning raised at import time would never show again.
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONWARNINGS"}
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_test_folders_are_not_packages() -> None:
    # pytest imports test files with --import-mode=importlib, so two folders may hold files of
    # the same name; helpers shared between tests belong in relays.testing, not in a package.
    # (A fixture distribution under tests/, with its own src/ package, is fine.)
    test_folders = {path.parent for path in (ROOT / "tests").rglob("test_*.py")}
    test_folders |= {path.parent for path in (ROOT / "tests").rglob("conftest.py")}
    packages = sorted(
        folder.relative_to(ROOT) for folder in test_folders if (folder / "__init__.py").exists()
    )
    assert packages == []


def test_changelog_has_exactly_one_unreleased_section() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert len(re.findall(r"^## \[Unreleased\]", changelog, flags=re.MULTILINE)) == 1


def test_known_providers_match_what_the_plugins_provide() -> None:
    # The kernel names a distribution to install when a part is missing; that table must say
    # what the workspace's plugins themselves say in relays_provides, in both directions.
    import importlib

    from relays._plugins import KNOWN_PROVIDERS

    # the kinds find_* look up, and start(process=True)'s process link
    looked_up = {"transport", "protocol", "dispatcher", "process link"}
    provided: dict[tuple[str, str], str] = {}
    for plugin in PLUGINS:
        module = importlib.import_module(f"{import_name(plugin)}.plugin")
        implementation = getattr(module, "relays_provides", None)
        for each in implementation() if implementation is not None else []:
            if each.kind in looked_up:
                distribution = load(plugin / "pyproject.toml")["project"]["name"]
                provided[(each.kind, each.name)] = distribution
    assert provided == KNOWN_PROVIDERS


def supported_pythons() -> list[str]:
    """The Pythons CI runs, from dev.py (which .ci/run calls once per version)."""
    source = (ROOT / "dev.py").read_text()
    found = re.search(r"SUPPORTED_PYTHONS = \(([^)]*)\)", source)
    assert found, "dev.py has no SUPPORTED_PYTHONS"
    return re.findall(r'"(3\.\d+)"', found.group(1))


def test_ci_runs_every_supported_python() -> None:
    # The first is the Python that runs `python3 dev.py test` itself (the machine's python3).
    ci = (ROOT / ".ci" / "run").read_text()
    for version in supported_pythons()[1:]:
        assert f"--python {version}" in ci, version
    assert "--uvloop" in ci


def test_classifiers_list_what_ci_runs() -> None:
    wanted = {f"Programming Language :: Python :: {v}" for v in supported_pythons()}
    for distribution in DISTRIBUTIONS:
        project = load(distribution / "pyproject.toml")["project"]
        listed = {c for c in project["classifiers"] if re.fullmatch(r".*Python :: 3\.\d+", c)}
        assert listed == wanted, distribution.name
        assert project["requires-python"] == f">={supported_pythons()[0]}", distribution.name


def test_no_distribution_imports_another_ones_private_modules() -> None:
    # Plugins build on each other's public API only (`relays_http`, not `relays_http._files`).
    import ast

    offenders = []
    for distribution in DISTRIBUTIONS:
        own = import_name(distribution)
        for path in sorted((distribution / "src").rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                for name in names:
                    top, *rest = name.split(".")
                    foreign = top != own and (top == "relays" or top.startswith("relays_"))
                    if foreign and any(part.startswith("_") for part in rest):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert offenders == []
