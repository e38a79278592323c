#!/usr/bin/env python3
"""Developer tasks of the relays workspace. Needs only Python 3.11 and pip, no other package.

    python3 dev.py test [--python X.Y] [--uvloop] [pytest args...]
                                          run the test suite (no test collected is a failure)
                                          on Python X.Y (its own .venv-X.Y) and on uvloop
    python3 dev.py demo                   run the demo program (Ctrl+C stops it)
    python3 dev.py lint                   ruff check, ruff format --check, mypy
    python3 dev.py docs                   build the Sphinx docs into docs/_build/html, -W
    python3 dev.py dist                   build and check an sdist and a wheel per distribution

Every task first makes sure `.venv` (`.venv-X.Y` for `test --python X.Y`) exists and holds the
kernel and every plugins/* folder installed editable, plus the `dev` dependency group of the
root pyproject.toml and of each distribution's pyproject.toml. It installs again only when one
of those files changed. Test fixture distributions (a tests/**/pyproject.toml) are not
installed: the tests activate them for their own session, so that `relays --help` shows a
developer only real commands.
`test --uvloop` runs the tests on uvloop (RELAYS_UVLOOP=1); without it, on asyncio's loop.
"""

from __future__ import annotations

import configparser
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import venv
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
DIST = ROOT / "dist"
PYTEST_NO_TESTS_COLLECTED = 5
# The Pythons relays supports, as CI runs them (.ci/run); the classifiers of every
# distribution list exactly these (tests/test_workspace.py checks it).
SUPPORTED_PYTHONS = ("3.11", "3.12", "3.13")


class Environment:
    """One virtual environment of the workspace: `.venv` for the Python running this script,
    `.venv-X.Y` for another supported Python (`test --python X.Y`)."""

    def __init__(self, interpreter: Path | None = None, version: str | None = None) -> None:
        self.interpreter = interpreter  # None: the Python running dev.py
        self.root = ROOT / (f".venv-{version}" if version else ".venv")
        self.bin = self.root / ("Scripts" if os.name == "nt" else "bin")
        self.python = self.bin / "python"
        self.stamp = self.root / "relays-dev-stamp.json"


ENV = Environment()


class TaskFailed(Exception):
    """A step failed; its message says which."""


def say(message: str) -> None:
    print(f"dev.py: {message}", flush=True)


def shown(part: str | Path) -> str:
    """A command-line word as printed: paths inside the workspace are shown relative to it."""
    path = Path(part)
    inside = path.is_absolute() and path.is_relative_to(ROOT)
    return path.relative_to(ROOT).as_posix() if inside else str(part)


def run(*command: str | Path, check: bool = True, env: dict[str, str] | None = None) -> int:
    """Run a command in the workspace root with .venv/bin first on PATH; return its exit code."""
    say("$ " + " ".join(shown(part) for part in command))
    environment = (env or os.environ) | {
        "PATH": os.pathsep.join([str(ENV.bin), os.environ.get("PATH", "")]),
        "VIRTUAL_ENV": str(ENV.root),
    }
    process = subprocess.Popen([str(part) for part in command], cwd=ROOT, env=environment)
    try:
        code = process.wait()
    except KeyboardInterrupt:
        # The terminal sent SIGINT to the child too: let it shut down cleanly first.
        code = process.wait()
    code = 128 - code if code < 0 else code  # killed by signal N: report it the way shells do
    if check and code != 0:
        raise TaskFailed(f"{shown(command[0])} exited with code {code}")
    return code


def load(pyproject: Path) -> dict[str, Any]:
    with pyproject.open("rb") as file:
        return tomllib.load(file)


def distributions() -> list[Path]:
    """The folder of every distribution: the kernel first, then each plugin, by name."""
    folders = [ROOT / "kernel", *sorted((ROOT / "plugins").glob("*"))]
    return [folder for folder in folders if (folder / "pyproject.toml").is_file()]


def fixture_distributions() -> list[Path]:
    """Test fixtures that are real distributions (a third-party plugin for the plugin tests):
    any folder under tests/ with a pyproject.toml. Never installed, built or published: the
    tests that need one activate it for their session (tests/kernel/conftest.py).
    """
    return sorted(pyproject.parent for pyproject in (ROOT / "tests").glob("**/pyproject.toml"))


def group(groups: dict[str, list[Any]], name: str) -> list[str]:
    """The requirements of a PEP 735 dependency group, following `{include-group = ...}`."""
    requirements: list[str] = []
    for entry in groups.get(name, []):
        if isinstance(entry, dict):
            requirements += group(groups, entry["include-group"])
        else:
            requirements.append(entry)
    return requirements


def dev_requirements() -> list[str]:
    pyprojects = [
        ROOT / "pyproject.toml",
        *(folder / "pyproject.toml" for folder in distributions()),
    ]
    requirements = {
        req for path in pyprojects for req in group(load(path).get("dependency-groups", {}), "dev")
    }
    return sorted(requirements)


def fingerprint() -> dict[str, str]:
    """What the installed .venv depends on: this script, and every pyproject.toml, by hash."""
    files = [Path(__file__).resolve(), ROOT / "pyproject.toml"]
    files += [folder / "pyproject.toml" for folder in distributions() + fixture_distributions()]
    hashes = {shown(file): hashlib.sha256(file.read_bytes()).hexdigest() for file in files}
    return hashes | {"python": str(ENV.interpreter or sys.version)}


def find_python(version: str) -> Path:
    """The interpreter of Python *version* (X.Y): installed by pyenv, or pythonX.Y on PATH.
    A pyenv shim on PATH fails unless that version is activated, so each is tried first."""
    if version not in SUPPORTED_PYTHONS:
        raise TaskFailed(f"--python {version}: relays supports {', '.join(SUPPORTED_PYTHONS)}")
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"))
    on_path = shutil.which(f"python{version}")
    for candidate in [*reversed(candidates), *([Path(on_path)] if on_path else [])]:
        works = subprocess.run([candidate, "-c", ""], capture_output=True, check=False)
        if works.returncode == 0:
            return candidate
    raise TaskFailed(f"no Python {version} found: pyenv install {version}, or put it on PATH")


def create_venv() -> None:
    if ENV.interpreter is not None:
        say(f"creating {shown(ENV.root)} with {ENV.interpreter}")
        run(ENV.interpreter, "-m", "venv", "--clear", ENV.root)
        return
    say(f"creating .venv with Python {sys.version.split()[0]}")
    if importlib.util.find_spec("ensurepip") is not None:
        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(ENV.root)
            return
        except subprocess.CalledProcessError:
            say("ensurepip failed")
    # Some system Pythons (Debian without python3-venv) lack ensurepip: use virtualenv, installed
    # only into a scratch folder so the system Python stays untouched.
    say("creating .venv with virtualenv instead")
    with tempfile.TemporaryDirectory() as scratch:
        run(sys.executable, "-m", "pip", "install", "--quiet", "--target", scratch, "virtualenv")
        run(
            sys.executable,
            "-m",
            "virtualenv",
            "--clear",
            ENV.root,
            env=os.environ | {"PYTHONPATH": scratch},
        )


def bootstrap() -> None:
    if not ENV.python.exists():
        create_venv()
    wanted = fingerprint()
    if ENV.stamp.exists() and json.loads(ENV.stamp.read_text()) == wanted:
        return
    folders = distributions()
    if not (ROOT / "kernel" / "pyproject.toml").is_file():
        say("warning: kernel/pyproject.toml does not exist yet, relays is not installed")
    requirements = dev_requirements()
    say(f"installing {len(folders)} distribution(s) editable and {len(requirements)} dev tools")
    editables = [word for folder in folders for word in ("--editable", f"./{shown(folder)}")]
    if run(ENV.python, "-m", "pip", "install", "--quiet", *editables, *requirements, check=False):
        raise TaskFailed("pip could not install the workspace: see its output above")
    # A .venv made before fixtures stopped being installed still holds them: take them out
    # (-qq: pip says nothing about a fixture that is not installed).
    fixtures = [
        load(path / "pyproject.toml")["project"]["name"] for path in fixture_distributions()
    ]
    if fixtures:
        run(ENV.python, "-m", "pip", "uninstall", "-qq", "--yes", *fixtures)
    ENV.stamp.write_text(json.dumps(wanted, indent=2) + "\n")
    say("environment ready")


def test(args: list[str]) -> int:
    """pytest in the chosen environment; the loop is asyncio's unless `--uvloop` was given
    (RELAYS_UVLOOP is set either way, so that an installed uvloop is never picked by chance)."""
    uvloop = "--uvloop" in args
    args = [arg for arg in args if arg != "--uvloop"]
    if uvloop:
        say("tests run on uvloop (RELAYS_UVLOOP=1)")
    environment = os.environ | {"RELAYS_UVLOOP": "1" if uvloop else "0"}
    code = run(ENV.python, "-m", "pytest", *args, check=False, env=environment)
    if code == PYTEST_NO_TESTS_COLLECTED:
        say("pytest collected no tests: that is a failure, not a pass")
        return 1
    return code


def demo(args: list[str]) -> int:
    if (ROOT / "plugins" / "http" / "pyproject.toml").is_file():
        return run(ENV.bin / "relays", "demo", *args, check=False)
    return run(ENV.python, "examples/tutorial/bob_and_fred.py", *args, check=False)


def lint(args: list[str]) -> int:
    paths = args or ["."]
    checks: dict[str, list[str | Path]] = {
        "ruff check": [ENV.bin / "ruff", "check", *paths],
        "ruff format": [ENV.bin / "ruff", "format", "--check", *paths],
        "mypy": [ENV.bin / "mypy", *(f / "src" for f in distributions() if (f / "src").is_dir())],
    }
    if len(checks["mypy"]) == 1:
        del checks["mypy"]  # no src folder yet; a bare mypy would fail on the config's globs
    failed = [name for name, command in checks.items() if run(*command, check=False)]
    say(f"lint failed: {', '.join(failed)}" if failed else "lint passed")
    return 1 if failed else 0


def docs(args: list[str]) -> int:
    build = ["-W", "--keep-going", "-b", "html", *args, "docs", "docs/_build/html"]
    return run(ENV.bin / "sphinx-build", *build, check=False)


def wheel_problems(folder: Path) -> list[str]:
    """What is wrong with the wheel built for `folder`: its package, py.typed, entry points."""
    name = load(folder / "pyproject.toml")["project"]["name"]
    wheels = sorted(DIST.glob(re.sub(r"[-_.]+", "_", name).lower() + "-*.whl"))
    if len(wheels) != 1:
        return [f"{name}: expected one wheel in dist/, found {len(wheels)}"]
    package = "relays" if folder.name == "kernel" else f"relays_{folder.name}"
    with zipfile.ZipFile(wheels[0]) as wheel:
        files = set(wheel.namelist())
        metadata = [file for file in files if file.endswith(".dist-info/entry_points.txt")]
        entry_points = configparser.ConfigParser(delimiters=("=",), interpolation=None)
        entry_points.read_string(wheel.read(metadata[0]).decode() if metadata else "")
    wanted = [f"{package}/__init__.py", f"{package}/py.typed"]
    problems = [f"{wheels[0].name} lacks {file}" for file in wanted if file not in files]
    if folder.name == "kernel":
        if not entry_points.has_option("console_scripts", "relays"):
            problems.append(f"{wheels[0].name} lacks the console script `relays`")
        return problems
    plugins = dict(entry_points["relays"]) if entry_points.has_section("relays") else {}
    if plugins != {folder.name: f"{package}.plugin"}:
        expected = f"[relays] {folder.name} = {package}.plugin"
        problems.append(f"{wheels[0].name}: wants one entry point {expected}, has {plugins}")
    return problems


def dist(args: list[str]) -> int:
    shutil.rmtree(DIST, ignore_errors=True)
    folders = distributions()
    if not folders:
        say("no distribution to build: kernel/ and plugins/* hold no pyproject.toml")
        return 1
    for folder in folders:
        say(f"building {shown(folder)}")
        run(ENV.python, "-m", "build", "--quiet", "--outdir", DIST, *args, folder)
    run(ENV.bin / "twine", "check", "--strict", *sorted(DIST.iterdir()))
    problems = [problem for folder in folders for problem in wheel_problems(folder)]
    for problem in problems:
        say(problem)
    if problems:
        return 1
    say(f"{len(folders)} distribution(s) built and checked in dist/")
    return 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "test": test,
    "demo": demo,
    "lint": lint,
    "docs": docs,
    "dist": dist,
}


def main(argv: Sequence[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 0 if list(argv) in ([], ["-h"], ["--help"]) else 2
    command, *args = argv
    global ENV
    try:
        if command == "test" and "--python" in args:
            at = args.index("--python")
            if at + 1 >= len(args):
                raise TaskFailed("--python wants a version, e.g. --python 3.12")
            version, args = args[at + 1], args[:at] + args[at + 2 :]
            ENV = Environment(find_python(version), version)
        bootstrap()
        return COMMANDS[command](args)
    except TaskFailed as failure:
        say(f"{command} failed: {failure}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
