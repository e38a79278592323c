"""Which event classes may cross the bridge, by name and version.

Both ends of a bridge must agree on what an event means, and a process must never
build an object a peer chose. So only registered classes travel: the sender looks its
event's class up to send ``(name, version)``, the receiver looks ``(name, version)``
up to find the class, binds the arguments to its constructor's signature and checks
the plain annotations (``int``, ``str``, ``list``...) before any handler runs.
Registering a new version of a class next to the old one lets processes of both
releases share a bridge while they are upgraded.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from relays import Event

from ._errors import BridgeProtocolError, EventNotRegistered

__all__ = ["EventRegistry", "EventType"]

EventType = TypeVar("EventType", bound=type[Event])

#: Annotations checked on arrival: what JSON and msgpack can carry, nothing else.
_PLAIN_TYPES: dict[Any, tuple[type, ...]] = {
    int: (int,),
    float: (int, float),
    str: (str,),
    bool: (bool,),
    bytes: (bytes,),
    list: (list,),
    dict: (dict,),
    type(None): (type(None),),
}


class _Signature:
    """How to check arguments for one class: its signature and plain annotations."""

    __slots__ = ("checks", "signature")

    def __init__(self, event_class: type[Event]) -> None:
        self.signature: inspect.Signature | None = None
        self.checks: dict[str, tuple[type, ...]] = {}
        if event_class.__init__ is Event.__init__:
            return  # Event's own (*args, **kwargs) takes anything
        self.signature = inspect.signature(event_class)
        try:
            hints = typing.get_type_hints(event_class.__init__)
        except Exception:  # an annotation that does not resolve: check the shape only
            hints = {}
        for name, hint in hints.items():
            allowed = _plain(hint)
            if allowed is not None:
                self.checks[name] = allowed

    def check(self, event_class: type[Event], args: list[Any], kwargs: dict[str, Any]) -> None:
        if self.signature is None:
            return
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise BridgeProtocolError(
                f"arguments do not fit {event_class.__name__}: {error}"
            ) from None
        for name, value in bound.arguments.items():
            allowed = self.checks.get(name)
            if allowed is not None and not isinstance(value, allowed):
                raise BridgeProtocolError(
                    f"argument {name!r} of {event_class.__name__} is "
                    f"{type(value).__name__}, not {' or '.join(t.__name__ for t in allowed)}"
                )


def _plain(hint: Any) -> tuple[type, ...] | None:
    """The types an annotation allows when it is made of plain types only, else None."""
    if hint in _PLAIN_TYPES:
        return _PLAIN_TYPES[hint]
    origin = typing.get_origin(hint)
    if origin in (list, dict):
        return (origin,)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        allowed: list[type] = []
        for member in typing.get_args(hint):
            part = _plain(member)
            if part is None:
                return None
            allowed.extend(part)
        return tuple(allowed)
    return None


class EventRegistry:
    """The event classes a bridge sends and accepts, each under a name and a version.

    The name is the event's own (``OrderPlaced`` -> ``"order_placed"``); *version*
    (default 1) is what changes when the arguments do. Use :meth:`register` as a
    call or as a decorator.
    """

    def __init__(self, classes: Iterable[type[Event]] = ()) -> None:
        self._by_wire: dict[tuple[str, int], tuple[type[Event], _Signature]] = {}
        self._by_class: dict[type[Event], tuple[str, int]] = {}
        for event_class in classes:
            self.register(event_class)

    def register(self, event_class: EventType | None = None, *, version: int = 1) -> Any:
        """Register *event_class* under its event name and *version*; returns it.

        Without a class it returns a decorator: ``@registry.register(version=2)``.
        """
        if event_class is None:
            return self._decorator(version)
        if not (isinstance(event_class, type) and issubclass(event_class, Event)):
            raise TypeError(f"only Event subclasses can be registered, not {event_class!r}")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ValueError(f"an event version is an int from 1 up, not {version!r}")
        key = (event_class.name, version)
        known = self._by_wire.get(key)
        if known is not None and known[0] is not event_class:
            raise ValueError(
                f"{event_class.name!r} version {version} is already {known[0].__qualname__}; "
                "give the new class another version"
            )
        self._by_wire[key] = (event_class, _Signature(event_class))
        self._by_class[event_class] = key
        return event_class

    def _decorator(self, version: int) -> Callable[[EventType], EventType]:
        def decorate(event_class: EventType) -> EventType:
            self.register(event_class, version=version)
            return event_class

        return decorate

    def wire_name(self, event: Event) -> tuple[str, int]:
        """``(name, version)`` to send *event* under, or :class:`EventNotRegistered`."""
        key = self._by_class.get(type(event))
        if key is None:
            raise EventNotRegistered(
                f"{type(event).__qualname__} ({event.name!r}) is not registered with the "
                "bridge, so it cannot cross it: pass it in Bridge(events=[...]) or "
                "register it with bridge.events.register(...) in every process"
            )
        return key

    def build(self, name: str, version: int, args: list[Any], kwargs: dict[str, Any]) -> Event:
        """The event a peer sent, checked against its registered class, or
        :class:`BridgeProtocolError` when no class or arguments fit."""
        known = self._by_wire.get((name, version))
        if known is None:
            raise BridgeProtocolError(
                f"no event {name!r} version {version} is registered in this process"
            )
        event_class, signature = known
        signature.check(event_class, args, kwargs)
        try:
            return event_class(*args, **kwargs)
        except Exception as error:
            raise BridgeProtocolError(
                f"{event_class.__name__} refused its arguments: {error}"
            ) from None

    def classes(self) -> list[tuple[type[Event], int]]:
        """Every registered ``(class, version)``, in the order registered (what a
        process link hands its child, so both ends agree)."""
        return [(event_class, version) for (_, version), (event_class, _) in self._by_wire.items()]

    def __contains__(self, event_class: object) -> bool:
        return event_class in self._by_class

    def __len__(self) -> int:
        return len(self._by_wire)
