"""Headless Chromium for the tests that need a real browser: one copy of the helper.

Two ways to use it. :func:`dump_dom` runs the browser once on a URL and returns the DOM it
rendered (for a page that only has to render). :func:`chromium` starts a browser for a whole
test and yields a :class:`DevTools`: just enough of the Chrome DevTools protocol, spoken over
relays-websocket's own client, to open tabs, run JavaScript in them, wait on what the page
shows (:data:`WHEN`) and collect what it reported as errors.

The browser is test equipment, not code under test: it is started with a plain ``Popen``
whose stderr is read in threads (uvloop's subprocess pipes failed with EBUSY, and the loop
under test is the server's), and stopped by its process id on the way out.

Tests import it as ``browser`` (``tests/conftest.py`` puts this folder on ``sys.path``) and
mark themselves with :data:`needs_chromium`, which skips them where Chromium is missing. The
docs' screenshot scripts (``docs/screenshots/``) take their pictures with it too, after
checking :data:`CHROMIUM` themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Sequence
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from relays_websocket import WebSocket, connect

CHROMIUM = next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
)
#: Skips a test where Chromium is missing (CI has it).
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)"
)
#: A headless browser that reaches nothing but the pages a test sends it to.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Seconds for a one-shot render (:func:`dump_dom`), and for the DevTools to be ready.
WITHIN = 60
READY_WITHIN = 30
#: The largest DevTools message read: a whole page's DOM or a screenshot can be large.
MAX_MESSAGE = 64 * 1024 * 1024

#: A promise, evaluated in the page, that settles when *condition* holds: checked on every
#: change of the page's DOM, so that a test waits on the event it means, not on a clock.
WHEN = """new Promise((resolve) => {{
  const check = () => {{ if ({condition}) {{ observer.disconnect(); resolve(true); }} }};
  const observer = new MutationObserver(check);
  observer.observe(document, {{subtree: true, childList: true, attributes: true,
                               characterData: true}});
  check();
}})"""


def chromium_path() -> str:
    """The browser's path; skips the calling test where there is none."""
    if CHROMIUM is None:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    return CHROMIUM


def run_once(
    url: str, user_data_dir: Path, flags: Sequence[str]
) -> subprocess.CompletedProcess[str]:
    """Run Chromium once on *url* with *flags* (``--dump-dom``, ``--screenshot=PATH``), for
    at most :data:`WITHIN` seconds; what it printed and its exit status, for the caller to
    check (its stderr says why it failed, and with ``--enable-logging=stderr`` what the
    page's console said)."""
    return subprocess.run(
        [chromium_path(), *FLAGS, f"--user-data-dir={user_data_dir}", *flags, url],
        capture_output=True,
        text=True,
        timeout=WITHIN,
        check=False,
    )


def dump_dom(url: str, user_data_dir: Path) -> str:
    """The DOM Chromium rendered for *url* (``--dump-dom``); fails if the browser does."""
    done = run_once(url, user_data_dir, ["--dump-dom"])
    assert done.returncode == 0, done.stderr
    return done.stdout


class DevTools:
    """Just enough of the Chrome DevTools protocol: commands over our own WebSocket client.

    A tab is a flattened session: its id goes with each command meant for it, and comes with
    each event it sends.
    """

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.ids = count(1)
        #: Events that arrived while a command waited for its answer.
        self.events: list[dict[str, Any]] = []

    async def command(self, method: str, session: str | None = None, **params: Any) -> Any:
        number = next(self.ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self.ws.send(json.dumps(message))
        while True:
            answer = json.loads(await self.ws.receive())
            if answer.get("id") == number:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    async def event(self, method: str, session: str) -> dict[str, Any]:
        """The first event *method* of *session* (one that came already, or the next)."""
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self.events.pop(index)
            self.events.append(json.loads(await self.ws.receive()))

    async def open_tab(self, url: str, *, phone_width: int | None = None) -> str:
        """A new tab showing *url*, loaded; returns its session.

        With *phone_width* (CSS pixels) the tab emulates a phone that wide, before the page
        loads, so that its layout is the phone's from the start.
        """
        target = await self.command("Target.createTarget", url="about:blank")
        attached = await self.command(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        session = str(attached["sessionId"])
        # Runtime and Log too: their events are what console_errors() reads.
        for domain in ("Page", "Runtime", "Log"):
            await self.command(f"{domain}.enable", session)
        if phone_width is not None:
            await self.command(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=phone_width,
                height=800,
                deviceScaleFactor=1,
                mobile=True,
            )
        await self.navigate(session, url)
        return session

    async def navigate(self, session: str, url: str) -> None:
        await self.command("Page.navigate", session, url=url)
        await self.event("Page.loadEventFired", session)

    async def reload(self, session: str) -> None:
        await self.command("Page.reload", session)
        await self.event("Page.loadEventFired", session)

    async def evaluate(self, session: str, expression: str) -> Any:
        """The value of *expression* in the page (a promise is awaited); raises on a throw."""
        result = await self.command(
            "Runtime.evaluate",
            session,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"in the page: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def when(self, session: str, condition: str) -> None:
        """Return once *condition* (JavaScript) holds in the page."""
        assert await self.evaluate(session, WHEN.format(condition=condition)) is True

    async def console_errors(self, session: str) -> list[dict[str, Any]]:
        """What the page reported as errors so far: exceptions, console.error, failed loads."""
        # One round trip first: every event the browser sent before its answer is then read.
        await self.evaluate(session, "0")
        errors = []
        for event in self.events:
            if event.get("sessionId") != session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if (
                method == "Runtime.exceptionThrown"
                or (method == "Runtime.consoleAPICalled" and params.get("type") == "error")
                or (method == "Log.entryAdded" and params["entry"].get("level") == "error")
            ):
                errors.append(event)
        return errors


@contextlib.asynccontextmanager
async def chromium(user_data_dir: Path, flags: Sequence[str] = ()) -> AsyncIterator[DevTools]:
    """A headless Chromium for the ``async with`` block, driven through a :class:`DevTools`.

    Skips the calling test where Chromium is missing. The browser gets its own profile in
    *user_data_dir* (a test's ``tmp_path``), and *flags* besides :data:`FLAGS` (a window
    size for a screenshot); it is stopped by its process id on the way out.
    """
    process = subprocess.Popen(  # noqa: ASYNC220 - starting it takes no time worth a thread
        [
            chromium_path(),
            *FLAGS,
            f"--user-data-dir={user_data_dir}",
            *flags,
            "--remote-debugging-port=0",  # any free port: the browser prints which
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    drainer = None
    try:
        assert process.stderr is not None
        stderr = process.stderr
        url = None
        async with asyncio.timeout(READY_WITHIN):
            while url is None:
                line = (await asyncio.to_thread(stderr.readline)).decode()
                if not line:
                    raise RuntimeError("chromium ended before its DevTools were ready")
                found = re.search(r"DevTools listening on (ws://\S+)", line)
                url = found.group(1) if found else None
        # Keep reading what it logs, so that a full pipe never blocks the browser.
        drainer = threading.Thread(target=stderr.read, daemon=True)
        drainer.start()
        async with connect(url, compression=False, max_message=MAX_MESSAGE) as ws:
            yield DevTools(ws)
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        if drainer is not None:
            await asyncio.to_thread(drainer.join, 10)  # the pipe's end: its read returns
        if process.stderr is not None:
            process.stderr.close()


#: What each tab says in :func:`chat_in_two_tabs`, by the name it joins under.
CHAT_LINES = {"ann": "hello bob", "bob": "hi ann"}


async def chat_in_two_tabs(browser: DevTools, tabs: dict[str, str], *, joined: str) -> None:
    """Two chat pages (the demo's and examples/chat's share their form's ids) talk.

    Each tab of *tabs* (name to session) joins under its name and waits until *joined*
    (JavaScript) holds; then each says its line of :data:`CHAT_LINES`, and this returns once
    every tab's log shows every line.
    """
    for name, tab in tabs.items():
        await browser.evaluate(
            tab,
            f"document.getElementById('name').value = '{name}';"
            "document.getElementById('join').requestSubmit();",
        )
        await browser.when(tab, joined)
    for name, tab in tabs.items():
        await browser.evaluate(
            tab,
            f"document.getElementById('text').value = '{CHAT_LINES[name]}';"
            "document.getElementById('say').requestSubmit();",
        )
    for tab in tabs.values():
        for name, line in CHAT_LINES.items():
            await browser.when(
                tab, f"document.getElementById('log').textContent.includes('{name}: {line}')"
            )
