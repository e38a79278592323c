"""Take docs/_static/inspector.png: the inspector's page over examples/inspector/app.py.

Not a test: run it by hand when the page changes, and commit the picture::

    .venv/bin/python docs/screenshots/inspector.py

It serves the example on a free port, keeps a few requests coming (so the figures have
something to show), and has headless Chromium open the inspector's link (the token goes
into a cookie, as for a person). Chromium's ``--screenshot`` flag takes its picture at the
load event, before the page has drawn the tree or received a second of figures, and its
``--virtual-time-budget`` never ends while the event stream is open; so the picture is
taken over the DevTools protocol instead (``Page.captureScreenshot``, through the tests'
``tests/browser.py``), once the page shows the tree, a clicked component's handlers, an
error in the stream and three samples of the figures.

It runs from the repository's root, so the burnt order's traceback names its files
relative to it (``kernel/src/relays/...``), as the inspector does for files under the
server's working directory: the picture shows no path of the machine it was taken on.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import os
import sys
import tempfile
from itertools import count
from pathlib import Path

from relays_http.client import Session

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import browser  # noqa: E402 - the tests' headless-Chromium helper, one copy for both

PICTURE = ROOT / "docs" / "_static" / "inspector.png"
WIDTH, HEIGHT = 1400, 1300


async def take() -> None:
    spec = importlib.util.spec_from_file_location(
        "inspector_app", ROOT / "examples" / "inspector" / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    server = example.make_app(port=0)
    inspector = next(c for c in server.components if type(c).__name__ == "Inspector")
    inspector.announce = False
    async with server, Session() as visitors:
        await server.wait_ready()
        home = f"{server.url}"

        async def visit() -> None:
            for number in count():
                await visitors.get(home, params={"name": ("ann", "bob", "eve")[number % 3]})
                await asyncio.sleep(0.2)

        visiting = asyncio.ensure_future(visit())
        window = [f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars"]
        try:
            with tempfile.TemporaryDirectory() as profile:
                async with browser.chromium(Path(profile), window) as devtools:
                    assert inspector.url is not None
                    tab = await devtools.open_tab(inspector.url)
                    await devtools.when(tab, "document.body.dataset.tree")
                    await devtools.evaluate(
                        tab,
                        "[...document.querySelectorAll('#tree g.node')]"
                        ".find((n) => n.textContent.includes('Kitchen'))"
                        ".dispatchEvent(new MouseEvent('click', {bubbles: true}))",
                    )
                    await devtools.when(tab, "document.querySelector('#events li.error')")
                    await devtools.when(tab, "Number(document.body.dataset.figures) >= 3")
                    await devtools.evaluate(  # held still, the error in view, its traceback open
                        tab,
                        "document.getElementById('pause').click();"
                        "const error = document.querySelector('#events li.error');"
                        "error.querySelector('details').open = true;"
                        "error.scrollIntoView({block: 'nearest'})",
                    )
                    shot = await devtools.command("Page.captureScreenshot", tab, format="png")
                    PICTURE.write_bytes(base64.b64decode(shot["data"]))
        finally:
            visiting.cancel()
            await asyncio.gather(visiting, return_exceptions=True)


def main() -> int:
    if browser.CHROMIUM is None:
        print("no Chromium installed (apt-get install chromium)", file=sys.stderr)
        return 1
    os.chdir(ROOT)
    asyncio.run(take())
    print(f"wrote {PICTURE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
