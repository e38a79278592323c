"""Fixtures of the HTTP client's tests; the scripted server lives in ``scripted.py``."""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from scripted import ScriptedServer, serving


@pytest.fixture
def serve() -> Callable[..., AbstractAsyncContextManager[ScriptedServer]]:
    """``async with serve(respond, ssl_context=None) as server:`` (async fixtures would
    need another plugin; a context manager stops the server on the test's own loop)."""
    return serving
