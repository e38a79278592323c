"""The methods an XML-RPC endpoint serves: registered functions, and handlers on a channel.

Theory of operation
-------------------
circuits.web's model: a call of ``math.add`` is the event ``math.add`` fired on
the RPC channel, and its handlers' return value is the result, so any component
can serve methods (``@handler("math.add")`` for a dotted name). Functions can be
registered by name too, and win over handlers of the same name.

The handlers are read from the tree (:meth:`relays.BaseComponent.handlers`) when
first needed, and again after the owner saw a component join or leave
(:meth:`Methods.forget`), or when a name is missing and the tree's size changed
(a component joined and its ``registered`` event has not run yet). Only handlers
listening on exactly the RPC channel count: one listening everywhere (``"*"``) is
not a method, so a client can never fire ``stopped`` at the tree.

Introspection comes from the callables themselves: the help is the docstring,
the signature comes from the annotations (``"undef"`` when they do not say, as
the introspection specification asks).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from relays import BaseComponent, Event

from ._codec import TYPE_NAMES

__all__ = ["Method", "MethodCall", "Methods"]


class MethodCall(Event):
    """The event fired for a call of a method served by handlers.

    Each method has a subclass whose ``name`` is the method's. A handler whose
    first parameter is called ``event`` receives it, and with it :attr:`request`.
    """

    name = "method_call"
    #: The :class:`relays_http.Request` the call came in.
    request: Any = None


_classes: dict[str, type[MethodCall]] = {}


def _event_class(name: str) -> type[MethodCall]:
    # One subclass per method name; names are those of existing handlers, so bounded.
    cls = _classes.get(name)
    if cls is None:
        cls = _classes[name] = type(
            "MethodCall", (MethodCall,), {"name": name, "__module__": __name__}
        )
    return cls


def _parameters_signature(
    function: Callable[..., Any], *, skip_event: bool
) -> inspect.Signature | None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    parameters = list(signature.parameters.values())
    if skip_event and parameters and parameters[0].name == "event":
        signature = signature.replace(parameters=parameters[1:])
    return signature


def _type_name(annotation: Any) -> str | None:
    """The XML-RPC name of an annotation (``list[int]`` is an ``array``), or None."""
    try:
        name = TYPE_NAMES.get(annotation)
        origin = typing.get_origin(annotation)
        if name is None and origin is not None:
            name = TYPE_NAMES.get(origin)
    except TypeError:  # an unhashable annotation
        return None
    return name


class Method:
    """One method: a registered *function*, or the *handlers* of an event (best first)."""

    __slots__ = ("function", "handlers", "name", "signatures")

    def __init__(
        self,
        name: str,
        function: Callable[..., Any] | None,
        handlers: Sequence[Callable[..., Any]] = (),
    ) -> None:
        self.name = name
        self.function = function
        self.handlers = tuple(handlers)
        self.signatures: tuple[inspect.Signature | None, ...]
        if function is not None:
            self.signatures = (_parameters_signature(function, skip_event=False),)
        else:
            self.signatures = tuple(
                _parameters_signature(h, skip_event=True) for h in self.handlers
            )

    @property
    def main(self) -> Callable[..., Any]:
        """The callable whose docstring and annotations describe the method."""
        return self.function if self.function is not None else self.handlers[0]

    def mismatch(self, params: Sequence[Any]) -> str | None:
        """What is wrong with *params* for this method, or None when they fit."""
        for signature in self.signatures:
            if signature is not None:
                try:
                    signature.bind(*params)
                except TypeError as error:
                    return str(error)
        return None

    def help(self) -> str:
        """The docstring of the method, or ``""``."""
        return inspect.getdoc(self.main) or ""

    def signature(self) -> list[list[str]] | str:
        """``[[return type, parameter types...]]`` in XML-RPC names, or ``"undef"``."""
        signature = self.signatures[0]
        if signature is None:
            return "undef"
        try:
            hints = typing.get_type_hints(self.main)
        except Exception:  # annotations that do not resolve say nothing
            return "undef"
        types = []
        for parameter in signature.parameters.values():
            if parameter.kind not in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                return "undef"
            name = _type_name(hints.get(parameter.name, inspect.Parameter.empty))
            if name is None:
                return "undef"
            types.append(name)
        result = _type_name(hints.get("return", inspect.Parameter.empty))
        if result is None:
            return "undef"
        return [[result, *types]]


def _rpc_handlers(root: BaseComponent, channel: Any) -> Iterator[tuple[str, int, Any]]:
    for h in root.handlers():
        listens_on = h.channel if h.channel is not None else h.owner.channel
        if h.name != "*" and listens_on == channel:
            yield h.name, h.priority, h.callback


class Methods:
    """Registered functions plus the methods *owner*'s tree serves on *channel*."""

    def __init__(self, owner: BaseComponent, channel: Any) -> None:
        self.owner = owner
        self.channel = channel
        self.functions: dict[str, Method] = {}
        self._handlers: dict[str, Method] | None = None
        self._seen: tuple[int, int] = (0, 0)

    def register(self, function: Callable[..., Any], name: str | None = None) -> None:
        """Serve *function* as method *name* (default: its ``__name__``)."""
        name = name or getattr(function, "__name__", None)
        if not isinstance(name, str) or not name:
            raise ValueError(f"give a name for {function!r}: it has no __name__")
        self.functions[name] = Method(name, function)

    def forget(self) -> None:
        """The tree changed: read its handlers again when next needed."""
        self._handlers = None

    def _from_tree(self, *, refresh: bool = False) -> dict[str, Method]:
        if self._handlers is not None and not refresh:
            return self._handlers
        root = self.owner.root
        seen = (id(root), len(root.handlers()))
        by_name: dict[str, list[tuple[int, Any]]] = {}
        for name, priority, callback in _rpc_handlers(root, self.channel):
            by_name.setdefault(name, []).append((priority, callback))
        methods = {}
        for name, entries in by_name.items():
            entries.sort(key=lambda entry: -entry[0])
            methods[name] = Method(name, None, [callback for _, callback in entries])
        self._handlers, self._seen = methods, seen
        return methods

    def _changed(self) -> bool:
        """Whether a component joined or left since the handlers were read (cheap)."""
        root = self.owner.root
        return (id(root), len(root.handlers())) != self._seen

    def find(self, name: str) -> Method | None:
        method = self.functions.get(name) or self._from_tree().get(name)
        if method is None and self._changed():  # joined, ``registered`` not run yet
            method = self._from_tree(refresh=True).get(name)
        return method

    def names(self) -> list[str]:
        return sorted(set(self.functions) | set(self._from_tree(refresh=self._changed())))

    async def invoke(self, method: Method, params: Sequence[Any], request: Any) -> Any:
        """Run *method* with *params*: its result, or its error raised."""
        if method.function is not None:
            result = method.function(*params)
            return await result if inspect.isawaitable(result) else result
        event = _event_class(method.name)(*params)
        event.request = request
        return await self.owner.call(event, self.channel)
