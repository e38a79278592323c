"""Where an RPC method comes from: a registered function, or handlers on the RPC channel.

One registry for every RPC dispatcher (relays-jsonrpc, relays-xmlrpc, or one of
your own): the wire format differs, the question "which callable answers method
``foo``, and do these arguments fit it" does not.

Theory of operation
-------------------
circuits.web's model: a call of method ``foo`` is an event named ``foo`` fired on
the RPC channel, and what its handlers return is the result. So any component of
the tree can serve methods, with plain or ``async def`` handlers
(``@handler("math.add")`` for a dotted name). Functions can also be registered by
name, for a method that needs no component; they win over handlers of the same
name.

Finding. Registered functions come first. Otherwise the tree's handlers
(:meth:`relays.BaseComponent.handlers`) are read once into a dict from event name
to the handlers listening on exactly the RPC channel, and read again after a
component joined or left (the owner reports it with :meth:`RPCMethods.forget`), or
when a name is missing and the tree's size changed (a component joined and its
``registered`` event has not run yet). Handlers that listen on every channel
(``"*"``) are not methods: a client must never be able to fire ``started`` or
``stopped`` at a tree by calling a method of that name.

Checking. Before a method runs, its arguments are bound to each of its callables'
signatures (for a handler whose first parameter is ``event``, without it): a
mismatch is the client's error, not a ``TypeError`` half-way through the call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from relays import BaseComponent, Event

__all__ = ["MethodCall", "RPCMethod", "RPCMethods"]


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


def _event_class(name: str) -> type[MethodCall]:
    """The :class:`MethodCall` subclass named *name*, made once.

    Module-level and shared by every registry on purpose: the classes hold no state,
    and the names are those of existing handlers, so the cache is as small as the
    set of method names the process's trees ever served.
    """
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


class RPCMethod:
    """One callable method: a registered *function*, or the *handlers* of an event."""

    __slots__ = ("function", "handlers", "name", "signatures")

    def __init__(
        self,
        name: str,
        function: Callable[..., Any] | None,
        handlers: Sequence[Callable[..., Any]] = (),
    ) -> None:
        #: The name clients call.
        self.name = name
        #: The registered function, or None when the method is served by handlers.
        self.function = function
        #: The handlers' callbacks, highest priority first (empty for a function).
        self.handlers: tuple[Callable[..., Any], ...] = tuple(handlers)
        #: One signature per callable (None where Python cannot tell one).
        self.signatures: tuple[inspect.Signature | None, ...]
        if function is not None:
            self.signatures = (_signature(function, drop_event=False),)
        else:
            self.signatures = tuple(_signature(h, drop_event=True) for h in self.handlers)

    @property
    def main(self) -> Callable[..., Any]:
        """The callable whose docstring and annotations describe the method."""
        return self.function if self.function is not None else self.handlers[0]

    def check(self, args: Sequence[Any], kwargs: Mapping[str, Any] | None = None) -> str | None:
        """None when the arguments fit every callable, else what is wrong with them."""
        for signature in self.signatures:
            if signature is None:
                continue
            try:
                signature.bind(*args, **(kwargs or {}))
            except TypeError as error:
                return str(error)
        return None

    def help(self) -> str:
        """The docstring of the method, or ``""``."""
        return inspect.getdoc(self.main) or ""


def _table_size(root: BaseComponent) -> tuple[int, int]:
    """Changes as soon as a component joins or leaves, before its ``registered`` event
    runs; cheaper to compare than the methods are to rebuild."""
    return id(root), len(root.handlers())


def _rpc_handlers(root: BaseComponent, channel: Any) -> Iterator[tuple[str, int, Any]]:
    """``(name, priority, callback)`` of the handlers listening on exactly *channel*."""
    for handler in root.handlers():
        listens_on = handler.channel if handler.channel is not None else handler.owner.channel
        if handler.name != "*" and listens_on == channel:
            yield handler.name, handler.priority, handler.callback


class RPCMethods:
    """The methods *owner*'s tree serves on *channel*, plus registered functions.

    The owner (a dispatcher component) calls :meth:`forget` from its handler of
    ``registered`` and ``unregistered`` on every channel, so the table follows the
    tree.
    """

    def __init__(self, owner: BaseComponent, channel: Any) -> None:
        self.owner = owner
        self.channel = channel
        self._functions: dict[str, RPCMethod] = {}
        self._events: dict[str, RPCMethod] | None = None
        self._read_at: tuple[int, int] = (0, 0)

    def register(self, function: Callable[..., Any], name: str | None = None) -> None:
        """Serve *function* (plain or ``async def``) as method *name* (default: its name)."""
        name = name or getattr(function, "__name__", None)
        if not isinstance(name, str) or not name:
            raise ValueError(f"give a name for {function!r}: it has no __name__")
        self._functions[name] = RPCMethod(name, function)

    def forget(self) -> None:
        """The tree changed: read the handler table again on next use."""
        self._events = None

    def find(self, name: str) -> RPCMethod | None:
        """The method called *name*, or None."""
        method = self._functions.get(name) or self._tree_methods().get(name)
        if method is None and _table_size(self.owner.root) != self._read_at:
            # A component joined and its ``registered`` event has not run yet.
            method = self._tree_methods(refresh=True).get(name)
        return method

    def names(self) -> list[str]:
        """Every method's name, sorted."""
        refresh = _table_size(self.owner.root) != self._read_at
        return sorted(set(self._functions) | set(self._tree_methods(refresh=refresh)))

    async def invoke(
        self,
        method: RPCMethod,
        args: Sequence[Any],
        kwargs: Mapping[str, Any] | None = None,
        request: Any = None,
    ) -> Any:
        """Run *method*; its result, or its error raised."""
        kwargs = kwargs or {}
        if method.function is not None:
            result = method.function(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result
        event = _event_class(method.name)(*args, **kwargs)
        event.request = request
        return await self.owner.call(event, self.channel)

    def _tree_methods(self, *, refresh: bool = False) -> dict[str, RPCMethod]:
        events = self._events
        if events is None or refresh:
            events = self._events = self._read_tree()
        return events

    def _read_tree(self) -> dict[str, RPCMethod]:
        root = self.owner.root
        self._read_at = _table_size(root)
        found: dict[str, list[tuple[int, Callable[..., Any]]]] = {}
        for name, priority, callback in _rpc_handlers(root, self.channel):
            found.setdefault(name, []).append((priority, callback))
        methods = {}
        for name, entries in found.items():
            entries.sort(key=lambda entry: -entry[0])  # stable: registration order kept
            methods[name] = RPCMethod(name, None, [callback for _, callback in entries])
        return methods
