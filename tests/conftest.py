"""Settings for the whole suite.

Hypothesis's per-example ``deadline`` (200 ms by default) is a timing assertion: on a
shared CI machine under load an ordinary example can take longer, and the test fails
for the machine's sake, not the code's. Our rule is no timing assertions in tests, so
the suite's profile turns the deadline off; speed lives in ``benchmarks/``.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("relays", deadline=None)
settings.load_profile("relays")
