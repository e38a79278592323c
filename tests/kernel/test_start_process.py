"""``start(process=True, link=parent)``: the kernel's side, with a fake plugin.

The kernel only asks the ``relays_start_process`` hook for a link and makes the
instance the child's proxy; the plugin here runs no process, it records what the
kernel does with its link (relays-bridge's real child is tested in tests/plugins/bridge).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import relays
from relays import BaseComponent, Component, Event, PluginNotFound
from relays._plugins import reset_plugin_manager
from relays.hookspecs import hookimpl


class Priced(Event):
    """priced(item)"""


class Kitchen(Component):
    """The subtree meant for the child: its handlers must not run in the parent."""

    channel = "prices"

    def __init__(self) -> None:
        super().__init__()
        self.handled: list[str] = []

    def priced(self, item: str) -> str:
        self.handled.append(item)
        return f"kitchen {item}"


class Front(Component):
    """The parent's tree; it also listens on the kitchen's channel."""

    channel = "prices"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def priced(self, item: str) -> str:
        self.seen.append(item)
        return f"front {item}"


class FakeLink(BaseComponent):
    """What a plugin returns: here it only notes when it leaves its tree."""

    channel = "link"

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__()
        self.options = options
        self.left: asyncio.Queue[BaseComponent] = asyncio.Queue()

    @relays.handler("unregistered", channel="*")
    def _unregistered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if component is self:
            self.left.put_nowait(parent)


class FakePlugin:
    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.asked: list[tuple[BaseComponent, BaseComponent, dict[str, Any]]] = []
        self.made: list[FakeLink] = []

    @hookimpl
    def relays_start_process(
        self, component: BaseComponent, link: BaseComponent, options: dict[str, Any]
    ) -> BaseComponent | None:
        self.asked.append((component, link, options))
        if not self.answer:
            return None
        made = FakeLink(options)
        self.made.append(made)
        return made


@pytest.fixture(autouse=True)
def no_installed_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Only the plugins a test registers by hand answer: not relays-bridge.
    monkeypatch.setenv("RELAYS_DISABLE_PLUGIN_AUTOLOAD", "1")
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture
def plugin() -> FakePlugin:
    fake = FakePlugin()
    relays.register_plugin(fake, name="fake-process")
    return fake


def test_without_a_plugin_the_error_says_what_to_install() -> None:
    with pytest.raises(PluginNotFound) as raised:
        Kitchen().start(process=True, link=Front())
    error = raised.value
    assert error.kind == "process link"
    assert str(error).startswith("no process link 'pipe' is installed")
    # The workspace has relays-bridge installed, only not loaded here; in a fresh venv
    # the advice is "pip install relays-bridge" (PluginNotFound's own tests cover it).
    assert error.package == "relays-bridge"
    assert "relays-bridge is installed but not loaded" in str(error)
    assert any("relays_start_process" in note for note in error.__notes__)


def test_a_plugin_that_declines_is_the_same_as_none() -> None:
    relays.register_plugin(FakePlugin(answer=False), name="declines")
    kitchen = Kitchen()
    with pytest.raises(PluginNotFound):
        kitchen.start(process=True, link=Front())
    assert kitchen.parent is None
    assert [h.name for h in kitchen.handlers()] == ["priced"]  # untouched


def test_link_without_process_and_other_misuses_are_type_errors(plugin: FakePlugin) -> None:
    with pytest.raises(TypeError, match="pass process=True"):
        Kitchen().start(link=Front())  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="needs link="):
        Kitchen().start(process=True)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"options \['channels'\] only with process=True"):
        Kitchen().start(channels=["prices"])  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="the component to link to"):
        Kitchen().start(process=True, link="app")  # type: ignore[arg-type]
    kitchen = Kitchen()
    inner = Component().register(kitchen)
    with pytest.raises(ValueError, match="in the subtree of"):
        kitchen.start(process=True, link=inner)
    assert plugin.asked == []  # refused before any plugin was asked


async def test_the_instance_becomes_the_parents_proxy(plugin: FakePlugin) -> None:
    front = Front()
    kitchen = Kitchen()
    made = kitchen.start(process=True, link=front, channels=["prices"])
    assert plugin.asked == [(kitchen, front, {"channels": ["prices"]})]
    assert made is plugin.made[0]
    assert made.options == {"channels": ["prices"]}
    assert kitchen.parent is front
    assert made.parent is kitchen
    async with front:
        # What the proxy fires goes into the parent's tree; its own handler does not run.
        assert await kitchen.call(Priced("tea")) == "front tea"
        assert await front.call(Priced("cake")) == "front cake"
        assert front.seen == ["tea", "cake"]
        assert kitchen.handled == []
        for again in (lambda: kitchen.start(process=True, link=front), kitchen.start):
            with pytest.raises(RuntimeError, match="already runs in a child process"):
                again()
        kitchen.stop()  # on the loop's thread
        assert await asyncio.wait_for(made.left.get(), 10) is kitchen
        assert kitchen.parent is None
        assert made.parent is None
        assert kitchen not in front.components
        assert await front.call(Priced("bread")) == "front bread"
    # A plain component again, with its own handlers back.
    async with kitchen:
        assert await kitchen.call(Priced("jam")) == "kitchen jam"
    assert kitchen.handled == ["jam"]


async def test_stop_from_another_thread_waits_until_the_proxy_left(plugin: FakePlugin) -> None:
    front = Front()
    kitchen = Kitchen()
    made = kitchen.start(process=True, link=front)
    thread = front.start()
    try:
        await asyncio.to_thread(kitchen.stop)
        assert kitchen.parent is None  # stop() returned once it had left
        assert made.parent is None
    finally:
        front.stop()
    thread.join()
    assert made.left.qsize() == 1
    # It can be started in a process again: the plugin is asked for a new link.
    again = kitchen.start(process=True, link=front)
    assert again is plugin.made[1]
    assert kitchen.parent is front
    kitchen.stop()  # the tree is not running: it leaves at once
    assert kitchen.parent is None


def test_stop_on_a_tree_never_run_gives_the_handlers_back(plugin: FakePlugin) -> None:
    kitchen = Kitchen()
    kitchen.start(process=True, link=Front())
    assert kitchen.running is False
    kitchen.stop()
    assert [h.name for h in kitchen.handlers()] == ["priced"]
