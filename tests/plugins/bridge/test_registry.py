"""The registry: which event classes cross, by name and version, checked on arrival."""

from __future__ import annotations

import pytest

from relays import Event
from relays_bridge import BridgeProtocolError, EventNotRegistered, EventRegistry


class OrderPlaced(Event):
    def __init__(self, order_id: int, items: list[str], note: str | None = None) -> None:
        super().__init__(order_id, items, note=note)


class OrderPlacedV2(Event):
    name = "order_placed"

    def __init__(self, order_id: int, items: list[str], total: float) -> None:
        super().__init__(order_id, items, total)


class Loose(Event):
    """Event's own constructor: any arguments."""


def test_an_event_is_sent_under_its_name_and_version() -> None:
    registry = EventRegistry()
    registry.register(OrderPlaced)
    registry.register(OrderPlacedV2, version=2)
    assert registry.wire_name(OrderPlaced(1, [])) == ("order_placed", 1)
    assert registry.wire_name(OrderPlacedV2(1, [], 2.0)) == ("order_placed", 2)
    assert type(registry.build("order_placed", 2, [1, ["tea"], 3], {})) is OrderPlacedV2


def test_register_is_also_a_decorator() -> None:
    registry = EventRegistry()

    @registry.register(version=3)
    class Shipped(Event):
        pass

    assert registry.wire_name(Shipped()) == ("shipped", 3)
    assert Shipped in registry


def test_an_unregistered_class_is_refused_with_advice() -> None:
    with pytest.raises(EventNotRegistered, match="register it"):
        EventRegistry().wire_name(Loose())


def test_two_classes_cannot_share_a_name_and_version() -> None:
    registry = EventRegistry([OrderPlaced])
    with pytest.raises(ValueError, match="another version"):
        registry.register(OrderPlacedV2)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (["1", []], {}, "'order_id' of OrderPlaced is str, not int"),
        ([1, "tea"], {}, "'items' of OrderPlaced is str, not list"),
        ([1, [], 3], {}, "'note' of OrderPlaced is int, not str or NoneType"),
        ([1], {}, "do not fit OrderPlaced"),
        ([1, []], {"colour": "red"}, "do not fit OrderPlaced"),
    ],
)
def test_arguments_that_do_not_fit_the_class_are_refused(
    args: list[object], kwargs: dict[str, object], message: str
) -> None:
    registry = EventRegistry([OrderPlaced])
    with pytest.raises(BridgeProtocolError, match=message):
        registry.build("order_placed", 1, args, kwargs)


def test_an_unknown_name_or_version_is_refused() -> None:
    registry = EventRegistry([OrderPlaced, Loose])
    with pytest.raises(BridgeProtocolError, match="version 2"):
        registry.build("order_placed", 2, [1, []], {})
    with pytest.raises(BridgeProtocolError, match="'shipped'"):
        registry.build("shipped", 1, [], {})
    assert registry.build("loose", 1, [1, "anything"], {"x": None}).args == (1, "anything")


def test_only_event_classes_and_positive_versions_register() -> None:
    registry = EventRegistry()
    with pytest.raises(TypeError):
        registry.register(dict)  # type: ignore[type-var]
    with pytest.raises(ValueError, match="from 1 up"):
        registry.register(Loose, version=0)
