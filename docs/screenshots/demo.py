#!/usr/bin/env python3
"""Take docs/_static/demo.png: the demo's static-file page, in headless Chromium.

Run it from a checkout after ``python3 dev.py test`` made ``.venv``::

    .venv/bin/python docs/screenshots/demo.py

It serves the demo on a free loopback port in a thread, lets Chromium load the page and
run its script (``--virtual-time-budget``: the page's three fetches finish in virtual
time), and writes the PNG. Not a test: the picture is checked by eye before it is
committed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from relays_http import Server
from relays_http._demo import make_demo
from relays_http.testing import serve_in_thread

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
import browser  # the tests' headless-Chromium helper, one copy for both

OUTPUT = Path(__file__).resolve().parents[1] / "_static" / "demo.png"
#: The page shown: it shows the most of relays working without a click.
PAGE = "/files"
WINDOW = "1000,860"
#: Milliseconds of virtual time the page gets to run its script before the picture.
SCRIPT_TIME = 5000


def main() -> int:
    if browser.CHROMIUM is None:
        print("no Chromium installed (apt-get install chromium)", file=sys.stderr)
        return 1
    with (
        serve_in_thread(Server("tcp://127.0.0.1:0") + make_demo()) as server,
        tempfile.TemporaryDirectory() as profile,
    ):
        flags = ["--hide-scrollbars", f"--window-size={WINDOW}"]
        flags += [f"--virtual-time-budget={SCRIPT_TIME}", f"--screenshot={OUTPUT}"]
        done = browser.run_once(server.url.rstrip("/") + PAGE, Path(profile), flags)
        if done.returncode != 0:
            print(f"chromium failed: {done.stderr[-2000:]}", file=sys.stderr)
            return 1
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
