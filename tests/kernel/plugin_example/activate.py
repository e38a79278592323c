"""Make the example plugin an installed distribution for this process only, while tests run.

The kernel's plugin tests need a third-party plugin found the real way, through an entry
point of an installed distribution. Installing it into the development environment would
also show its ``hello`` command to every developer who types ``relays --help``, so it is never
installed: :func:`activate` writes the distribution's metadata (its name, version and entry
point, read from ``pyproject.toml`` beside this file) into a scratch folder and puts that
folder and ``src/`` on ``sys.path`` and on ``PYTHONPATH`` (for the subprocesses tests start).
That is what an editable install does, minus the ``.pth`` file that would make it permanent.
:func:`deactivate` undoes it all.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "src"


class Activation:
    """What :func:`activate` changed, so that :func:`deactivate` can put it back."""

    def __init__(self, metadata_folder: Path, old_pythonpath: str | None) -> None:
        self.metadata_folder = metadata_folder
        self.old_pythonpath = old_pythonpath
        self.paths = [str(metadata_folder), str(SOURCE)]


def _write_metadata(folder: Path) -> None:
    with (HERE / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    name, version = project["name"], project["version"]
    dist_info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    groups = project.get("entry-points", {})
    lines = []
    for group, entries in groups.items():
        lines.append(f"[{group}]")
        lines += [f"{entry} = {target}" for entry, target in entries.items()]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def activate() -> Activation:
    folder = Path(tempfile.mkdtemp(prefix="relays-example-plugin-"))
    _write_metadata(folder)
    activation = Activation(folder, os.environ.get("PYTHONPATH"))
    sys.path[:0] = activation.paths
    old = [activation.old_pythonpath] if activation.old_pythonpath else []
    os.environ["PYTHONPATH"] = os.pathsep.join([*activation.paths, *old])
    return activation


def deactivate(activation: Activation) -> None:
    for path in activation.paths:
        if path in sys.path:
            sys.path.remove(path)
    if activation.old_pythonpath is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = activation.old_pythonpath
    shutil.rmtree(activation.metadata_folder, ignore_errors=True)
