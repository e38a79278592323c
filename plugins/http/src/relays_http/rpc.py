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

Serving. :class:`RPCComponent` is the component side of the registry, the part every
RPC server shares whatever carries its calls: the RPC channel, the registry kept in
step with the tree, and ``register_function``. :class:`RPCEndpoint` adds what every
RPC-over-HTTP dispatcher does alike: claim ``request`` events for one path, check
what HTTP can check (``POST``, the media type, the body's size), and answer in a
handler task of its own. A wire format says only how it decodes, runs and encodes
the calls (:meth:`RPCEndpoint.answer`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from relays import BaseComponent, Event, Priority, handler

from ._errors import HTTPError, MethodNotAllowed, PayloadTooLarge, UnsupportedMediaType
from ._request import Request
from ._response import Response

__all__ = ["MethodCall", "RPCComponent", "RPCEndpoint", "RPCMethod", "RPCMethods"]

F = TypeVar("F", bound=Callable[..., Any])


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
    for entry in root.handlers():
        listens_on = entry.channel if entry.channel is not None else entry.owner.channel
        if entry.name != "*" and listens_on == channel:
            yield entry.name, entry.priority, entry.callback


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


class RPCComponent(BaseComponent):
    """A component that serves the methods of its tree on *rpc_channel*.

    The base of every RPC server, whatever carries the calls (an HTTP path, lines on a
    socket): it owns the :class:`RPCMethods` registry (:attr:`methods`), keeps it in
    step with the tree, and serves plain functions with :meth:`register_function`.
    """

    def __init__(self, *, channel: Any, rpc_channel: Any = "rpc") -> None:
        super().__init__(channel=channel)
        #: The channel method events are fired on.
        self.rpc_channel = rpc_channel
        #: Where methods are found: registered functions, then handlers on *rpc_channel*.
        self.methods = RPCMethods(self, rpc_channel)

    def register_function(self, function: F | None = None, *, name: str | None = None) -> Any:
        """Serve *function* (plain or ``async def``) as method *name* (default: its name).

        Works as a decorator too: ``@rpc.register_function`` or
        ``@rpc.register_function(name="math.add")``. Returns the function.
        """
        if function is None:
            return lambda f: self.register_function(f, name=name)
        self.methods.register(function, name)
        return function

    @handler("registered", "unregistered", channel="*")
    def _on_tree_changed(self, component: BaseComponent, parent: BaseComponent) -> None:
        self.methods.forget()


class _Answer(Event):
    """Internal: answer one RPC-over-HTTP request (fired at the endpoint itself)."""

    name = "rpc_http_answer"


class RPCEndpoint(RPCComponent):
    """An RPC dispatcher at one *path* of the HTTP server whose channel is *channel*.

    A subclass names its wire format (:attr:`protocol`, :attr:`media_types`), gives the
    largest body it takes (:attr:`max_request_size`) and writes :meth:`answer`; it may
    refuse more with :meth:`check_request`. Everything else is done here, once for
    every format: requests for other paths pass at the cost of one string comparison
    (the handler runs at :attr:`relays.Priority.DISPATCH`, before the default
    dispatcher), requests for *path* are stopped and answered with 405 (not ``POST``),
    415 (another media type: a form or ``text/plain`` body is what a cross-site page
    could send) or 413 (a ``Content-Length`` too large), and the rest go to
    :meth:`answer` in a handler task of its own, whose value the request's follows.
    """

    channel = "web"
    #: The format's name, as error messages say it (``"JSON-RPC"``).
    protocol: ClassVar[str] = "RPC"
    #: The media types a call's body may have; the first is the one messages name.
    media_types: ClassVar[tuple[str, ...]] = ()

    def __init__(self, path: str, *, channel: Any = "web", rpc_channel: Any = "rpc") -> None:
        super().__init__(channel=channel, rpc_channel=rpc_channel)
        if not path.startswith("/"):
            raise ValueError(f"the path must start with '/': {path!r}")
        #: The path served (exact match).
        self.path = path

    @property
    def max_request_size(self) -> int:
        """The largest body, in bytes, a call may announce [413]."""
        raise NotImplementedError(f"{type(self).__name__} says its max_request_size")

    def check_request(self, request: Request) -> HTTPError | None:
        """An HTTP error for a request this format refuses beyond the common checks, or None.

        Called after the method and media type are checked, before the size is.
        """
        return None

    async def answer(self, request: Request) -> Response | HTTPError:
        """The response to the call (or calls) in *request*'s body."""
        raise NotImplementedError(f"{type(self).__name__} answers its calls")

    @handler("request", priority=Priority.DISPATCH)
    def _on_request(self, event: Event, request: Request, response: Response) -> Any:
        if request.path != self.path:
            return None
        event.stop()
        if request.method != "POST":
            return MethodNotAllowed(["POST"], f"{self.protocol} calls are POSTed")
        if request.content_type not in self.media_types:
            return UnsupportedMediaType(
                f"{self.protocol} calls have Content-Type {self.media_types[0]}"
            )
        refusal = self.check_request(request)
        if refusal is not None:
            return refusal
        if request.content_length > self.max_request_size:
            return PayloadTooLarge(f"{self.protocol} calls are at most {self.max_request_size} B")
        return self.fire(_Answer(request), self)

    @handler("rpc_http_answer")
    async def _on_answer(self, request: Request) -> Response | HTTPError:
        return await self.answer(request)
