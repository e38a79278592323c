"""Take docs/_static/inspector.png: the inspector's page over examples/inspector/app.py.

Not a test: run it by hand when the page changes, and commit the picture::

    .venv/bin/python docs/screenshots/inspector.py

It serves the example on a free port, keeps a few requests coming (so the figures have
something to show), and has headless Chromium open the inspector's link (the token goes
into a cookie, as for a person). Chromium's ``--screenshot`` flag takes its picture at the
load event, before the page has drawn the tree or received a second of figures, and its
``--virtual-time-budget`` never ends while the event stream is open; so the picture is
taken over the DevTools protocol instead (``Page.captureScreenshot``), once the page
shows the tree, a clicked component's handlers, an error in the stream and three samples
of the figures.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from itertools import count
from pathlib import Path
from typing import Any

from relays_http.client import Session
from relays_websocket import WebSocket, connect

ROOT = Path(__file__).resolve().parents[2]
PICTURE = ROOT / "docs" / "_static" / "inspector.png"
WIDTH, HEIGHT = 1400, 1300
#: A promise that settles when *condition* holds, checked on every change of the page.
WHEN = """new Promise((resolve) => {{
  const check = () => {{ if ({condition}) {{ observer.disconnect(); resolve(true); }} }};
  const observer = new MutationObserver(check);
  observer.observe(document, {{subtree: true, childList: true, attributes: true}});
  check();
}})"""


class Tab:
    """One page of Chromium, driven over the DevTools protocol."""

    def __init__(self, ws: WebSocket, session: str) -> None:
        self.ws = ws
        self.session = session
        self.ids = count(1000)
        self.events: list[str] = []

    async def command(self, method: str, **params: Any) -> Any:
        number = next(self.ids)
        message = {"id": number, "method": method, "params": params, "sessionId": self.session}
        await self.ws.send(json.dumps(message))
        while True:
            answer = json.loads(await self.ws.receive())
            if answer.get("id") == number:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer.get("method", ""))

    async def load(self, url: str) -> None:
        """Show *url*, and wait for its load event (after the token's redirect)."""
        await self.command("Page.enable")
        await self.command("Page.navigate", url=url)
        while "Page.loadEventFired" not in self.events:
            self.events.append(json.loads(await self.ws.receive()).get("method", ""))

    async def evaluate(self, expression: str) -> Any:
        result = await self.command(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        return result["result"].get("value")


async def open_tab(ws: WebSocket, url: str) -> Tab:
    await ws.send(json.dumps({"id": 1, "method": "Target.createTarget", "params": {"url": url}}))
    target = None
    while target is None:
        answer = json.loads(await ws.receive())
        if answer.get("id") == 1:
            target = answer["result"]["targetId"]
    attach = {"targetId": target, "flatten": True}
    await ws.send(json.dumps({"id": 2, "method": "Target.attachToTarget", "params": attach}))
    while True:
        answer = json.loads(await ws.receive())
        if answer.get("id") == 2:
            return Tab(ws, answer["result"]["sessionId"])


async def take(chromium: str) -> None:
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
        with tempfile.TemporaryDirectory() as profile:
            process = subprocess.Popen(  # noqa: ASYNC220 - starts at once
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--hide-scrollbars",
                    f"--user-data-dir={profile}",
                    f"--window-size={WIDTH},{HEIGHT}",
                    "--remote-debugging-port=0",
                    "about:blank",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                assert process.stderr is not None
                address = None
                while address is None:
                    line = (await asyncio.to_thread(process.stderr.readline)).decode()
                    if not line:
                        raise RuntimeError("chromium ended before its DevTools were ready")
                    found = re.search(r"DevTools listening on (ws://\S+)", line)
                    address = found.group(1) if found else None
                threading.Thread(target=process.stderr.read, daemon=True).start()
                async with connect(address, compression=False, max_message=1 << 26) as ws:
                    assert inspector.url is not None
                    tab = await open_tab(ws, "about:blank")
                    await tab.load(inspector.url)
                    await tab.evaluate(WHEN.format(condition="document.body.dataset.tree"))
                    await tab.evaluate(
                        "[...document.querySelectorAll('#tree g.node')]"
                        ".find((n) => n.textContent.includes('Kitchen'))"
                        ".dispatchEvent(new MouseEvent('click', {bubbles: true}))"
                    )
                    await tab.evaluate(
                        WHEN.format(condition="document.querySelector('#events li.error')")
                    )
                    await tab.evaluate(
                        WHEN.format(condition="Number(document.body.dataset.figures) >= 3")
                    )
                    shot = await tab.command("Page.captureScreenshot", format="png")
                    PICTURE.write_bytes(base64.b64decode(shot["data"]))
            finally:
                visiting.cancel()
                await asyncio.gather(visiting, return_exceptions=True)
                process.terminate()
                await asyncio.to_thread(process.wait, 10)


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("no Chromium installed (apt-get install chromium)", file=sys.stderr)
        return 1
    asyncio.run(take(chromium))
    print(f"wrote {PICTURE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
