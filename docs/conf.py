"""Sphinx configuration of the relays documentation.

Build it with ``python3 dev.py docs``: the packages are installed editable in .venv, so autodoc
imports them from there and no ``sys.path`` change is needed.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from docutils import nodes
from sphinx import addnodes
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

# There is no network where the docs are built and tested: `sphinx-build -b linkcheck` checks
# local targets only. Internal links and anchors of the built HTML are checked by
# tests/docs/test_built_docs.py, which also sees the source pages viewcode writes.
linkcheck_ignore = [r"https?://", r"mailto:"]

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


def _defining_module(module: str, fullname: str) -> str:
    """The module that defines ``module.fullname``, as viewcode finds it (imports followed)."""
    try:
        found: Any = importlib.import_module(module)
        for part in fullname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return module
    return str(getattr(found, "__module__", None) or module)


def _anchor_viewcode_backlinks(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Give every documented object the anchor that its source page's "[docs]" link names.

    viewcode links each object of a module's source page back to ``<refname>.<name>``, with
    one refname per module: the module name under which the first object of that module was
    documented. When a module's objects are documented under two names (``TrustedProxies`` as
    ``relays_http.TrustedProxies``, ``parse_forwarded`` as ``relays_http._proxy.
    parse_forwarded``), the links of the others pointed at anchors that did not exist. Runs
    once every page has been read, so the refname of every module is known.
    """
    modules: dict[str, Any] = getattr(app.env, "_viewcode_modules", {})
    for signature in doctree.findall(addnodes.desc_signature):
        module, fullname = signature.get("module"), signature.get("fullname")
        if not module or not fullname:
            continue
        entry = modules.get(_defining_module(module, fullname))
        if not entry:
            continue
        anchor = f"{entry[3]}.{fullname}"
        if anchor not in signature["ids"]:
            signature["ids"].append(anchor)


def setup(app: Sphinx) -> None:
    logging.getLogger("sphinx.sphinx.directives.other").addFilter(_AllowEmptyGlob())
    app.connect("doctree-resolved", _anchor_viewcode_backlinks)
