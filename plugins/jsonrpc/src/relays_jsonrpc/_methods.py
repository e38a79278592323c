"""Where a method comes from: a registered function, or handlers on the RPC channel.

Theory of operation
-------------------
circuits.web's model: a call of method ``foo`` is an event named ``foo`` fired on
the RPC channel, and what its handlers return is the result. So any component of
the tree can serve methods, with plain or ``async def`` handlers. Functions can
also be registered by name, for a method that needs no component.

Finding. Registered functions come first. Otherwise the tree's handlers
(:meth:`relays.BaseComponent.handlers`) are read once into a dict from event name
to the handlers listening on exactly the RPC channel, and read again after a
component joined or left (the owner reports it with :meth:`Methods.forget`), or
when a name is missing and the tree's size changed (a component joined and its
``registered`` event has not run yet). Handlers that
listen on every channel (``"*"``) are not methods: a client must never be able to
fire ``started`` or ``stopped`` at a tree by calling a method of that name.

Checking. Before a method runs, its arguments are bound to each of its callables'
signatures (for a handler whose first parameter is ``event``, without it): a
mismatch is the client's error (``-32602``), not a ``TypeError`` half-way through
the call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from relays import BaseComponent, Event

__all__ = ["Method", "MethodCall", "Methods"]


class MethodCall(Event):
    """The event fired for a call of a method served by handlers.

    Each method gets its own subclass whose ``name`` is the method's name, so the
    handlers named after the method receive it. A handler whose first parameter is
    called ``event`` gets it, and with it :attr:`request`.
    """

    name = "method_call"
    #: Where the call came from: the :class:`relays_http.Request` for HTTP, the
    #: connection handle for a line transport.
    request: Any = None


_event_classes: dict[str, type[MethodCall]] = {}


def event_class(name: str) -> type[MethodCall]:
    """The :class:`MethodCall` subclass named *name* (made once; names are those of
    existing handlers, so this cache stays as small as the tree)."""
    cls = _event_classes.get(name)
    if cls is None:
        cls = type("MethodCall", (MethodCall,), {"name": name, "__module__": __name__})
        _event_classes[name] = cls
    return cls


def _signature(function: Callable[..., Any], *, drop_event: bool) -> inspect.Signature | None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None  # a builtin without a signature: accept any arguments
    parameters = list(signature.parameters.values())
    if drop_event and parameters and parameters[0].name == "event":
        signature = signature.replace(parameters=parameters[1:])
    return signature


@attrs.frozen
class Method:
    """One callable method: a registered *function*, or the *handlers* of an event."""

    name: str
    #: The registered function, or None when the method is served by handlers.
    function: Callable[..., Any] | None
    #: The handlers' callbacks, highest priority first (empty for a function).
    handlers: tuple[Callable[..., Any], ...]
    signatures: tuple[inspect.Signature | None, ...]

    def check(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str | None:
        """None when the arguments fit every callable, else what is wrong with them."""
        for signature in self.signatures:
            if signature is None:
                continue
            try:
                signature.bind(*args, **kwargs)
            except TypeError as error:
                return str(error)
        return None

    @property
    def callables(self) -> tuple[Callable[..., Any], ...]:
        return (self.function,) if self.function is not None else self.handlers


def _tree_handlers(root: BaseComponent) -> Iterator[tuple[str, Any, int, Callable[..., Any]]]:
    """``(name, channel, priority, callback)`` of every handler of the tree."""
    for handler in root.handlers():
        channel = handler.channel if handler.channel is not None else handler.owner.channel
        yield handler.name, channel, handler.priority, handler.callback


def _table_size(root: BaseComponent) -> tuple[int, int]:
    """Changes as soon as a component joins or leaves, before its ``registered`` event
    runs; cheaper to compare than the methods are to rebuild."""
    return id(root), len(root.handlers())


class Methods:
    """The methods *owner*'s tree serves on *channel*, plus registered functions."""

    def __init__(self, owner: BaseComponent, channel: Any) -> None:
        self.owner = owner
        self.channel = channel
        self.functions: dict[str, Method] = {}
        self._events: dict[str, Method] | None = None
        self._read_at: tuple[int, int] = (0, 0)

    def register(self, function: Callable[..., Any], name: str | None = None) -> None:
        """Serve *function* (plain or ``async def``) as method *name* (default: its name)."""
        name = name or getattr(function, "__name__", None)
        if not name or not isinstance(name, str):
            raise ValueError(f"give a name for {function!r}: it has no __name__")
        self.functions[name] = Method(
            name, function, (), (_signature(function, drop_event=False),)
        )

    def forget(self) -> None:
        """The tree changed: read the handler table again on next use."""
        self._events = None

    def _read_tree(self) -> dict[str, Method]:
        root = self.owner.root
        self._read_at = _table_size(root)
        found: dict[str, list[tuple[int, Callable[..., Any]]]] = {}
        for name, channel, priority, callback in _tree_handlers(root):
            if name != "*" and channel == self.channel:
                found.setdefault(name, []).append((priority, callback))
        methods = {}
        for name, entries in found.items():
            entries.sort(key=lambda entry: -entry[0])  # stable: registration order kept
            callbacks = tuple(callback for _, callback in entries)
            signatures = tuple(_signature(c, drop_event=True) for c in callbacks)
            methods[name] = Method(name, None, callbacks, signatures)
        return methods

    def find(self, name: str) -> Method | None:
        """The method called *name*, or None."""
        method = self.functions.get(name) or self._tree_methods().get(name)
        if method is None and _table_size(self.owner.root) != self._read_at:
            # A component joined and its ``registered`` event has not run yet.
            method = self._tree_methods(refresh=True).get(name)
        return method

    def _tree_methods(self, *, refresh: bool = False) -> dict[str, Method]:
        events = self._events
        if events is None or refresh:
            events = self._events = self._read_tree()
        return events

    def names(self) -> list[str]:
        """Every method's name, sorted."""
        refresh = _table_size(self.owner.root) != self._read_at
        return sorted(set(self.functions) | set(self._tree_methods(refresh=refresh)))

    async def invoke(
        self, method: Method, args: Sequence[Any], kwargs: Mapping[str, Any], request: Any
    ) -> Any:
        """Run *method*; its result, or its error raised."""
        if method.function is not None:
            result = method.function(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result
        event = event_class(method.name)(*args, **kwargs)
        event.request = request
        return await self.owner.call(event, self.channel)
