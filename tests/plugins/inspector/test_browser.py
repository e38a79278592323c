"""The inspector's page in headless Chromium, driven over the DevTools protocol.

examples/inspector/app.py is served on a free port; the page must draw the app's
components, list a clicked component's handlers, show an event the test fires within a
second (the test waits on the line appearing, not on a clock), refuse a wrong token with
403, draw the live figures, and log no console error.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from browser import WHEN, chromium, needs_chromium
from relays import Event
from relays_http import Server
from relays_inspector import Inspector

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "inspector" / "app.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("inspector_example_app", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Probe(Event):
    """The event the test fires into the app, to find in the page's stream."""


@needs_chromium
async def test_the_page_shows_the_tree_the_handlers_and_live_events(tmp_path: Path) -> None:
    server: Server = load_example().make_app(port=0)
    [inspector] = [child for child in server.components if isinstance(child, Inspector)]
    inspector.announce = False
    async with server, chromium(tmp_path) as browser:
        await server.wait_ready()
        assert inspector.url is not None
        tab = await browser.open_tab(inspector.url)
        page = await browser.evaluate(tab, "location.pathname + location.search")
        assert page == "/_relays/"  # the token went into a cookie, out of the address

        await browser.evaluate(tab, WHEN.format(condition="document.body.dataset.tree"))
        names = await browser.evaluate(
            tab, "[...document.querySelectorAll('#tree g.node')].map((n) => n.textContent)"
        )
        for component in ("Server", "Root", "Kitchen", "Timer", "Inspector"):
            assert any(component in name for name in names), names
        assert any("channel: kitchen" in name for name in names), names

        await browser.evaluate(
            tab,
            "[...document.querySelectorAll('#tree g.node')]"
            ".find((n) => n.textContent.includes('Kitchen'))"
            ".dispatchEvent(new MouseEvent('click', {bubbles: true}))",
        )
        await browser.evaluate(
            tab, WHEN.format(condition="document.body.dataset.handlers === 'Kitchen'")
        )
        rows = await browser.evaluate(
            tab, "[...document.querySelectorAll('#handlers tbody tr')].map((r) => r.innerText)"
        )
        assert any("order" in row and "Kitchen.order" in row for row in rows), rows

        await browser.evaluate(tab, WHEN.format(condition="document.body.dataset.stream"))
        server.fire(Probe("looked-for-7f3a"), "kitchen")
        # Waits on the line itself; the stream sends every 0.1 s. The timeout only guards
        # against a hang: no wall-clock margin is asserted (it would flake on a loaded CI).
        async with asyncio.timeout(30):
            seen = "document.getElementById('events').textContent.includes('looked-for-7f3a')"
            assert await browser.evaluate(tab, WHEN.format(condition=seen)) is True

        # the live figures: drawn once the first sample came (after a second)
        await browser.evaluate(tab, WHEN.format(condition="document.body.dataset.figures"))
        plotted = await browser.evaluate(
            tab,
            "['plot-requests', 'plot-queue', 'plot-connections']"
            ".map((id) => document.querySelectorAll(`#${id} polyline`).length)",
        )
        assert plotted == [1, 1, 1]
        assert await browser.evaluate(
            tab, "document.querySelectorAll('#plot-histogram rect').length"
        )
        counted = await browser.evaluate(
            tab, "[...document.querySelectorAll('#counts td.name')].map((n) => n.textContent)"
        )
        assert "probe" in counted, counted

        assert await browser.console_errors(tab) == []

        refused = await browser.open_tab(inspector.url.split("?")[0] + "?token=" + "w" * 32)
        status = await browser.evaluate(
            refused, "fetch(location.href).then((answer) => answer.status)"
        )
        assert status == 403
