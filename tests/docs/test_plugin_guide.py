"""The plugin guide's package (docs/snippets/greeter, every file of which the guide shows) is
built and installed with the local kernel into a fresh virtual environment, as a reader would
do it, and the guide's shell transcript is replayed there: ``relays plugins`` must find it.

This also replays the testing guide's ``pip install 'relays[testing]'`` against the kernel of
the workspace instead of PyPI, and runs the package's own tests with the pytest plugin that
extra brings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest
from docs_code_blocks import ROOT, Block, blocks_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PACKAGE = ROOT / "docs" / "snippets" / "greeter"
GUIDE = ROOT / "docs" / "howto" / "write-a-plugin.rst"
TESTING_GUIDE = ROOT / "docs" / "howto" / "plugin-testing.rst"

#: Seconds one pip install may take: it builds wheels, and may download the build backend.
INSTALL_TIMEOUT = 240
#: Seconds any other command may take.
COMMAND_TIMEOUT = 60

#: The commands of the two guides this test replays (the meta-test reads this).
REPLAYED = {
    "docs/howto/write-a-plugin.rst": ["pip install .", "relays plugins", "relays greet Ada"],
    "docs/howto/plugin-testing.rst": ["pip install 'relays[testing]'"],
}


class FreshEnvironment:
    """A new virtual environment holding only pip, and a copy of the guide's package."""

    def __init__(self, folder: Path) -> None:
        self.bin = folder / "venv" / ("Scripts" if os.name == "nt" else "bin")
        self.package = folder / "relays-greeter"
        venv.EnvBuilder(with_pip=True).create(folder / "venv")
        shutil.copytree(PACKAGE, self.package, ignore=shutil.ignore_patterns("__pycache__"))
        # No variable of the developer's environment may make the workspace visible.
        self.environment = {
            key: value
            for key, value in os.environ.items()
            if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}
            and not key.startswith("RELAYS_")
        }
        self.environment["PATH"] = os.pathsep.join([str(self.bin), os.environ.get("PATH", "")])

    def run(self, command: list[str], timeout: float = COMMAND_TIMEOUT) -> str:
        """Run *command* in the package's folder; fail with its output unless it exits 0."""
        result = subprocess.run(
            command,
            cwd=self.package,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def pip_install(self, *arguments: str) -> None:
        python = str(self.bin / "python")
        self.run([python, "-m", "pip", "install", "--quiet", *arguments], INSTALL_TIMEOUT)


def transcript(page: Path) -> Block:
    (block,) = [b for b in blocks_of(page) if b.language == "console"]
    return block


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> FreshEnvironment:
    """The environment after the guides' ``pip install`` commands, replayed in order."""
    environment = FreshEnvironment(tmp_path_factory.mktemp("plugin-guide"))
    # pip install 'relays[testing]', with the kernel of this workspace standing in for PyPI's.
    environment.pip_install(f"{ROOT / 'kernel'}[testing]")
    environment.pip_install(".")
    return environment


def test_the_guides_commands_are_what_this_test_replays() -> None:
    assert transcript(GUIDE).commands() == REPLAYED["docs/howto/write-a-plugin.rst"]
    assert transcript(TESTING_GUIDE).commands() == REPLAYED["docs/howto/plugin-testing.rst"]


def test_relays_finds_the_plugin_as_the_guide_shows(fresh: FreshEnvironment) -> None:
    block = transcript(GUIDE)
    for command in block.commands():
        if command.startswith("pip install"):
            continue  # done by the fixture
        program, *arguments = command.split()
        output = fresh.run([str(fresh.bin / program), *arguments])
        assert output == block.output_of(command), f"$ {command}"


def test_the_packages_tests_pass_there(fresh: FreshEnvironment) -> None:
    python = str(fresh.bin / "python")
    output = fresh.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
    assert "2 passed" in output


def test_an_application_finds_the_plugin_by_name(fresh: FreshEnvironment) -> None:
    output = fresh.run([str(fresh.bin / "python"), "examples/greet_ada.py"])
    assert output == "Hello, Ada!\n"
