"""Settings for the whole suite.

Hypothesis's per-example ``deadline`` (200 ms by default) is a timing assertion: on a
shared CI machine under load an ordinary example can take longer, and the test fails
for the machine's sake, not the code's. Our rule is no timing assertions in tests, so
the suite's profile turns the deadline off; speed lives in ``benchmarks/``.

Test helpers shared across folders (``browser.py``, headless Chromium) sit beside this file;
pytest imports test files in importlib mode (no ``sys.path`` change), so this folder is put
on the path here, once, as ``tests/docs/conftest.py`` does for its own folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

settings.register_profile("relays", deadline=None)
settings.load_profile("relays")
