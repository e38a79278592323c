"""``examples/logging/logged_app.py``: access lines in the file, one traceback for many 500s."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from relays.testing import RunExample

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[3] / "examples" / "logging" / "logged_app.py"
#: Seconds for any one step (start, a request, the stop).
WITHIN = 15


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_the_logged_app(run_example: RunExample, tmp_path: Path, debug: bool) -> None:
    access = tmp_path / "access.log"
    debugging = ["--debug"] if debug else []
    server = run_example(EXAMPLE, "tcp://127.0.0.1:{0}", str(access), *debugging)
    with urllib.request.urlopen(server.url, timeout=WITHIN) as reply:
        assert reply.read() == b"hello"
    for _ in range(20):
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(server.url + "fail", timeout=WITHIN)
        assert caught.value.code == 500
        caught.value.close()
    stderr = server.stop(tracebacks=True)  # the first failure is logged with its traceback
    lines = [json.loads(line) for line in access.read_text().splitlines()]
    assert [line["status"] for line in lines] == [200] + [500] * 20
    errors = stderr.decode()
    assert "RuntimeError raised 19 more times" in errors
    if debug:  # the debugger shows every event, errors and all: noisy on purpose
        assert "DEBUG:relays.debug:" in errors
    else:
        assert errors.count("Traceback") == 1
