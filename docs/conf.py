"""Sphinx configuration of the relays documentation.

Build it with ``python3 dev.py docs``: the packages are installed editable in .venv, so autodoc
imports them from there and no ``sys.path`` change is needed.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from sphinx.application import Sphinx

project = "relays"
author = "The relays developers"
copyright = "the relays developers"

try:
    release = version("relays")
except PackageNotFoundError:  # docs built without the kernel installed
    release = "unknown"
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
# No intersphinx: the docs build must work without a network.

nitpicky = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False


class _AllowEmptyGlob(logging.Filter):
    """Let a section's index glob over a folder that holds no page yet.

    Each section index lists its folder with ``:glob:`` so new pages appear without editing it;
    while a folder is empty Sphinx warns, and that warning cannot be silenced through
    ``suppress_warnings``, which would fail the ``-W`` build.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "didn't match any documents" not in str(record.msg)


def setup(app: Sphinx) -> None:
    logging.getLogger("sphinx.sphinx.directives.other").addFilter(_AllowEmptyGlob())
