"""The Dispatcher: from a request's path to a controller's page.

Theory of operation
-------------------
Mounting. Controllers are found by walking the tree whenever a component joins or
leaves it (rare), into a dict from mount path (``""`` for ``/``, ``"/blog"``) to
controller, plus the set of every prefix of a mount path. Two controllers on one
path are an error, reported when the second one is registered.

Listening. The ``request`` handler is not the dispatcher's own: it belongs to a
small child component (:class:`Routes`) that the dispatcher registers under itself
while something is mounted, and unregisters when nothing is. A dispatcher with
nothing to dispatch to (every :class:`~relays_http.Server` has one, and most
plain ``request`` apps mount nothing) is then no handler of ``request`` at all and
costs a request nothing, rather than a call that returns None; mounting later
(a controller registered at run time) brings the handler back with the mount.

Resolving (per request, no regex). The raw path is split on ``/`` into segments
(empty ones dropped, each percent-decoded on its own, so ``%2F`` stays inside its
segment). Walking the segments while the path so far is a known prefix finds the
longest mounted prefix; the controller there picks the page from the rest
(:meth:`~relays_http.BaseController.find`).

Calling. A plain page whose request has no form body is called right here, inside
the ``request`` handler: no second event, no task. A page that must await (an
``async def`` page, or a form body to read) is run by a ``controller_call`` event
fired at its controller, whose value the request's value follows. (circuits.web
fired an event named after the page for every request; calling directly makes a
dispatched request about as cheap as a plain ``request`` handler: see
``benchmarks/http_dispatch.py``.)

Claiming. When no controller fits (no mount, no page, arguments that do not fit)
the dispatcher returns None and lets the request go on to handlers of lower
priority: a request nobody answers is a 404. When a page is chosen, the
dispatcher stops the event: the page's answer is the answer.

Explaining. When a page is found but the request's segments or fields do not fit
its parameters, the reason (``field 'x' is not a parameter of the page``) is
logged at INFO on ``relays.http`` and kept in the request's context. When the
server runs with ``debug=True`` the dispatcher adds an :class:`Explainer`, whose
``before_response`` handler puts that reason into the 404 page; a server without
debug pays nothing for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from relays import BaseComponent, Event, Priority, handler

from ._controllers import FORM_TYPES, BaseController, Page, _Call, query_fields
from ._errors import ERROR_PAGES_PRIORITY, HTTPError, NotFound
from ._request import Request
from ._response import Response
from ._server import HTTP

__all__ = ["Dispatcher"]

logger = logging.getLogger("relays.http")


def split_path(raw_path: str) -> list[str]:
    """``"/a/b%20c/"`` -> ``["a", "b c"]``: segments, each percent-decoded alone."""
    if "%" not in raw_path:
        return [segment for segment in raw_path.split("/") if segment]
    return [unquote(segment) for segment in raw_path.split("/") if segment]


class Dispatcher(BaseComponent):
    """Route ``request`` events on *channel* to the controllers of the tree.

    ``Server(...) + Dispatcher() + Root()`` serves the pages of ``Root`` (a
    :class:`~relays_http.Controller` mounted at ``"/"``) and of every other
    controller in the tree. It listens at *priority* ``Priority.FALLBACK``, above plain ``request``
    handlers, which still get the requests no controller takes.
    """

    channel = "web"

    def __init__(self, *, channel: Any = "web", builtin: bool = False) -> None:
        super().__init__(channel=channel)
        #: Whether this is a :class:`~relays_http.Server`'s own dispatcher, which
        #: serves nothing while another dispatcher on its channel is in the tree
        #: (``Server(...) + Dispatcher()``, written before servers had one), so no
        #: page is ever dispatched twice.
        self.builtin = builtin
        self._mounts: dict[str, BaseController] = {}
        self._prefixes: frozenset[str] = frozenset()
        # Our ``request`` handler, in the tree only while something is mounted.
        self._routes = Routes(self)
        # Removes our stream rule from the HTTP components it was given to.
        self._unstream: list[Callable[[], None]] = []
        # Our debug-mode 404 explainer, in the tree only while the server debugs.
        self._explainer = Explainer(channel=channel)

    @property
    def mounts(self) -> dict[str, BaseController]:
        """Mounted controllers by path (``""`` is ``/``); read-only by intent."""
        return self._mounts

    @handler("registered", "unregistered", channel="*")
    def _on_tree_changed(self, component: BaseComponent, parent: BaseComponent) -> None:
        self.remount()

    def remount(self) -> None:
        """Find the controllers of the tree again (done on every (un)registration)."""
        mounts: dict[str, BaseController] = {}
        servers: list[HTTP] = []
        for component in self.root.walk():
            if isinstance(component, HTTP) and component.channel == self.channel:
                servers.append(component)
            if (
                self.builtin
                and isinstance(component, Dispatcher)
                and component is not self
                and component.channel == self.channel
                and not component.builtin
            ):
                self._mounts, self._prefixes = {}, frozenset()
                self._listen(False)
                self._stream_pages([])
                return
            if isinstance(component, BaseController):
                path = "/" + "/".join(split_path(component.mount_path))
                path = "" if path == "/" else path
                other = mounts.setdefault(path, component)
                if other is not component:
                    raise ValueError(
                        f"two controllers are mounted at {path or '/'!r}: {other!r} and "
                        f"{component!r}; give one of them another channel"
                    )
        prefixes = set()
        for path in mounts:
            segments = path.split("/")
            for end in range(1, len(segments) + 1):
                prefixes.add("/".join(segments[:end]))
        self._mounts = mounts
        self._prefixes = frozenset(prefixes)
        self._listen(bool(mounts))
        debug = any(
            isinstance(component, HTTP) and component.channel == self.channel and component.debug
            for component in self.root.walk()
        )
        explainer = self._explainer
        if debug and explainer.parent is None and mounts:
            explainer.register(self)
        elif not (debug and mounts) and explainer.parent is self:
            explainer.unregister()
        self._stream_pages(servers)

    def _stream_pages(self, servers: list[HTTP]) -> None:
        """Have *servers* stream the bodies of pages exposed with ``stream=True``."""
        for remove in self._unstream:
            remove()
        self._unstream = []
        if any(
            page.stream
            for controller in self._mounts.values()
            for page in (*controller.pages.values(), *controller._verbs.values())
        ):
            self._unstream = [server.stream_bodies(self.streams) for server in servers]

    def streams(self, request: Request) -> bool:
        """Whether *request* goes to a page exposed with ``stream=True``."""
        found = self.resolve(request.raw_path)
        if found is None:
            return False
        answer = found[0].find(request.method, found[1])
        return type(answer) is tuple and answer[0].stream

    def _listen(self, listen: bool) -> None:
        """Put our ``request`` handler in the tree, or take it out (see Listening)."""
        routes = self._routes
        if listen:
            if routes.parent is None:
                routes.register(self)
        elif routes.parent is self:
            routes.unregister()

    def resolve(self, path: str) -> tuple[BaseController, list[str]] | None:
        """The controller mounted at the longest prefix of raw *path*, and the rest."""
        segments = split_path(path)
        mounts = self._mounts
        prefixes = self._prefixes
        best = mounts.get("")
        consumed = 0
        prefix = ""
        for index, segment in enumerate(segments):
            prefix = f"{prefix}/{segment}"
            if prefix not in prefixes:
                break
            controller = mounts.get(prefix)
            if controller is not None:
                best = controller
                consumed = index + 1
        if best is None:
            return None
        return best, segments[consumed:]


class Routes(BaseComponent):
    """A :class:`Dispatcher`'s ``request`` handler, registered under it while something
    is mounted (see Listening in the theory of operation)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        super().__init__(channel=dispatcher.channel)
        self._dispatcher = dispatcher

    @handler("request", priority=Priority.FALLBACK)
    def _on_request(self, event: Event, request: Request, response: Response) -> Any:
        dispatcher = self._dispatcher
        if not dispatcher._mounts:  # an unregistration not dispatched yet
            return None
        # The path as VirtualHosts & co. may have rewritten it.
        found = dispatcher.resolve(request.raw_path)
        if found is None:
            return None
        controller, segments = found
        answer = controller.find(request.method, segments)
        if type(answer) is not tuple:
            if answer is not None:
                event.stop()
                if controller._renders and isinstance(answer, HTTPError):
                    return controller._render_error(answer)
            return answer
        page: Page = answer[0]
        segments = answer[1]
        if page.is_async or request.content_type in FORM_TYPES:
            event.stop()
            return controller.fire(_Call(page, request, response, segments), controller)
        fields = query_fields(request)
        bound = page.signature.bind(segments, fields)
        if bound is None:
            explain_mismatch(controller, page, request, segments, fields)
            return None
        event.stop()
        return controller.run_page(page, request, response, bound[0], bound[1])


#: The ``request.context`` key of the reason no page fitted (see Explaining).
MISMATCH_KEY = "relays_http.mismatch"


def explain_mismatch(
    controller: BaseController,
    page: Page,
    request: Request,
    segments: list[str],
    fields: dict[str, list[Any]] | None,
) -> str:
    """Log why *page* does not take *request*'s arguments, and keep the reason for the
    debug-mode 404 page (see Explaining)."""
    reason = page.signature.explain(segments, fields)
    name = f"{type(controller).__name__}.{page.attribute}"
    logger.info("%s %s: not taken by %s: %s", request.method, request.target, name, reason)
    request.context[MISMATCH_KEY] = f"{name} does not take this request: {reason}"
    return reason


class Explainer(BaseComponent):
    """In debug mode, a 404 for a page whose arguments did not fit says why.

    It runs after :class:`~relays_http.ErrorPages`, and leaves alone a 404 page that
    one made (in the server's response, or as a response of its own, which is sent
    first anyway).
    """

    @handler("before_response", priority=ERROR_PAGES_PRIORITY - 10)
    def _on_before_response(self, request: Request, response: Response, result: Any) -> Any:
        if result is not None and not isinstance(result, NotFound):
            return None
        if response.body is not None:
            return None  # an error page of the application's
        reason = request.context.get(MISMATCH_KEY)
        if reason is None:
            return None
        return NotFound(reason)
