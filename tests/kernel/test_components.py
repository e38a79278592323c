"""The component tree: handler discovery, register/unregister and composition."""

from __future__ import annotations

from typing import Any

import pytest

from relays import BaseComponent, Component, Event, handler, inspect
from relays.testing import Manager, drain


class Plain(Component):
    def ping(self) -> str:
        return "ping"

    def _private(self) -> None:
        pass

    @handler(False)
    def helper(self) -> None:
        pass

    @handler("other", "names", priority=3)
    def explicit(self) -> None:
        pass


def names_of(component: BaseComponent) -> set[str]:
    return {h.name for h in component._hub.handlers if h.owner is component}


def test_public_methods_of_a_component_are_handlers() -> None:
    assert names_of(Plain()) == {"ping", "other", "names"}


def test_base_component_only_has_decorated_handlers() -> None:
    class Explicit(BaseComponent):
        def not_a_handler(self) -> None:
            pass

        @handler("ping")
        def on_ping(self) -> None:
            pass

    assert names_of(Explicit()) == {"ping"}


def test_overrides_keep_the_base_spec_and_opt_outs_win() -> None:
    class Base(BaseComponent):
        @handler("ping", priority=7)
        def on_ping(self) -> None:
            pass

    class Child(Base):
        def on_ping(self) -> None:  # still the "ping" handler, priority 7
            pass

    class OptOut(Plain):
        @handler(False)
        def ping(self) -> str:
            return "no"

    (h,) = Child()._hub.handlers
    assert (h.name, h.priority) == ("ping", 7)
    assert "ping" not in names_of(OptOut())


def test_api_methods_are_never_handlers() -> None:
    assert not {"fire", "register", "run", "stop", "call", "wait"} & names_of(Plain())


def test_handler_rejects_non_string_names() -> None:
    with pytest.raises(TypeError):
        handler(3)  # type: ignore[arg-type]


def test_register_builds_the_tree_and_shares_one_hub() -> None:
    root, child, grandchild = Manager(), Plain(), Plain()
    child.register(root)
    grandchild.register(child)
    assert child.parent is root
    assert grandchild.parent is child
    assert grandchild.root is root
    assert list(root.walk()) == [root, child, grandchild]
    assert child._hub is root._hub is grandchild._hub
    assert {h.owner for h in root._hub.handlers} >= {child, grandchild}


def test_plus_and_minus_compose() -> None:
    a, b, c = Manager(), Plain(), Plain()
    tree = a + b + c
    assert tree is a
    assert a.components == [b, c]
    a -= b
    assert a.components == [c]
    assert b.parent is None
    with pytest.raises(ValueError, match="not registered"):
        a - b
    a += b
    assert b.parent is a


def test_unregister_moves_handlers_out() -> None:
    root, child = Manager(), Plain()
    root += child
    child.unregister()
    assert child._hub is not root._hub
    assert all(h.owner is not child for h in root._hub.handlers)
    assert names_of(child) == {"ping", "other", "names"}


def test_cycles_are_refused() -> None:
    a, b = Manager(), Plain()
    a += b
    with pytest.raises(ValueError, match="cycle"):
        a.register(b)
    with pytest.raises(ValueError, match="cycle"):
        a.register(a)


def test_register_to_something_else_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Plain().register("root")  # type: ignore[arg-type]


def test_reregistering_moves_the_component() -> None:
    first, second, child = Manager(), Manager(), Plain()
    first += child
    second += child
    assert child.parent is second
    assert first.components == []


async def test_registered_and_unregistered_events(manager: Manager) -> None:
    seen: list[tuple[str, Any, Any]] = []

    class Watcher(Component):
        def registered(self, component: Any, parent: Any) -> None:
            seen.append(("registered", component, parent))

        def unregistered(self, component: Any, parent: Any) -> None:
            seen.append(("unregistered", component, parent))

    watcher = Watcher()
    manager += watcher
    await drain(manager)
    assert seen == [("registered", watcher, manager)]
    watcher.unregister()
    await drain(manager)
    assert seen[-1] == ("unregistered", watcher, manager)


async def test_events_queued_before_registration_are_kept(manager: Manager) -> None:
    seen: list[str] = []

    class Early(Component):
        def hello(self) -> None:
            seen.append("hello")

    early = Early()
    early.fire(Event.create("hello"))
    manager += early
    await drain(manager)
    assert seen == ["hello"]


def test_repr_shows_name_channel_counts_and_state() -> None:
    text = repr(Plain(channel="web"))
    assert text.startswith("<Plain/web ")
    assert "handlers=3" in text
    assert text.endswith("[S]>")


def test_inspect_lists_handlers() -> None:
    table = inspect(Plain())
    assert "ping" in table
    assert "Plain.explicit" in table
    assert "priority" in table


def test_name_defaults_to_the_class_name() -> None:
    assert Plain().name == "Plain"


def test_channel_can_be_a_class_attribute_or_argument() -> None:
    class Web(Component):
        channel = "web"

    assert Web().channel == "web"
    assert Web(channel="api").channel == "api"


def test_handlers_lists_the_trees_handlers() -> None:
    root = Manager()
    plain = Plain().register(root)
    assert {h.name for h in root.handlers()} >= {"ping", "other", "names"}
    (ping,) = root.handlers("ping")
    assert ping.owner is plain
    assert ping.callback == plain.ping
    assert root.handlers("ping", "elsewhere") == [ping]  # Plain listens on "*"
    assert root.handlers("nothing", "*") == []


@pytest.mark.parametrize("name", ["run", "stop", "fire", "call", "wait", "register", "name"])
def test_a_component_method_named_like_the_api_is_refused_when_the_class_is_made(
    name: str,
) -> None:
    def method(self: Any) -> None: ...

    with pytest.raises(TypeError, match=rf"\.{name} cannot be a handler.*@handler\("):
        type("Clash", (Component,), {name: method})


def test_a_handler_decorated_with_an_api_name_is_refused_in_any_component() -> None:
    with pytest.raises(TypeError, match=r"Clash\.stop cannot be a handler.*'stopped'"):

        class Clash(BaseComponent):
            @handler("stopped")
            def stop(self, timeout: float | None = 10.0) -> None: ...


def test_overriding_the_api_on_purpose_is_allowed() -> None:
    class Careful(Component):
        @handler(False)
        def register(self, parent: BaseComponent) -> Careful:
            self.joined = True
            return super().register(parent)

    class Plain(BaseComponent):
        def fire(self, event: Event, *channels: Any) -> Any:
            return super().fire(event, *channels)

    root = Component()
    child = Careful().register(root)
    assert child.joined
    assert "register" not in names_of(child)
    assert Plain()._handler_specs == ()
