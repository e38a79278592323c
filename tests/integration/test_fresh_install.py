"""The kernel wheel, installed alone in a fresh virtual environment, works without any plugin.

This is what a user gets from `pip install relays`: no plugin, so the `relays` command says so,
and asking for a transport names the distribution to install.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

# What pip prints (also inside `build`) when it cannot reach a package index: only those
# failures skip the test, any other is a real failure.
INDEX_UNREACHABLE = (
    "Could not find a version that satisfies the requirement",
    "No matching distribution found",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Max retries exceeded",
)


def run(*command: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    # Without the outer .venv's variables, so nothing leaks into the fresh environment.
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}
    }
    result = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
        check=False,
    )
    if check and result.returncode != 0:
        if any(sign in result.stderr for sign in INDEX_UNREACHABLE):
            pytest.skip(f"the package index is unreachable: {result.stderr.strip()[-300:]}")
        pytest.fail(f"{command} exited with {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment holding the relays wheel and its dependencies, nothing else."""
    scratch = tmp_path_factory.mktemp("fresh-install")
    run(sys.executable, "-m", "build", "--wheel", ROOT / "kernel", "--outdir", scratch / "wheels")
    (wheel,) = (scratch / "wheels").glob("relays-*.whl")
    environment = scratch / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(environment)
    python = environment / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", wheel)
    return environment


def test_relays_plugins_reports_none_installed(fresh_venv: Path) -> None:
    result = run(fresh_venv / "bin" / "relays", "plugins")
    said = result.stdout + result.stderr
    assert re.search(r"\bno\b.*\bplugins\b.*\binstalled\b", said, re.IGNORECASE), said


def test_missing_transport_names_the_distribution_to_install(fresh_venv: Path) -> None:
    result = run(
        fresh_venv / "bin" / "python",
        "-c",
        "import relays; relays.find_transport('tcp')",
        check=False,
    )
    assert result.returncode != 0
    assert "PluginNotFound" in result.stderr
    assert "pip install relays-sockets" in result.stderr


def test_only_the_kernel_is_installed(fresh_venv: Path) -> None:
    result = run(fresh_venv / "bin" / "python", "-m", "pip", "list", "--format=freeze")
    installed = {line.split("==")[0].lower() for line in result.stdout.splitlines()}
    assert "relays" in installed
    assert not {name for name in installed if name.startswith("relays-")}
