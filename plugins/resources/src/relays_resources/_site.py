"""``Site``: a resource tree answering relays-http's requests, as a dispatcher.

The site listens for ``request`` on the server's channel, walks the tree from its
root (see :mod:`relays_resources._resource`) and renders the resource it reaches.
It answers every request it sees (a path with no resource is the tree's 404, as
in Twisted), so mount other dispatchers above it, at a higher priority.

Taken at the head. relays-http's ``request`` event, with its ``Request`` and
``Response``, is most of what a request costs over the bytes it reads and writes. So
while relays-http offers requests at their parsed head (nothing in the tree watches
every request: :meth:`relays_http.HTTP.take_heads`) and the site's ``request``
handler would be the first to see them (no other ``request`` handler on its channel
at its priority or above), the site takes each request without a body from its
:class:`~relays_http.Exchange`: it walks the tree and renders there, and a render
that returns bytes is answered in one write, with the status, fields and cookies it
set. Whatever else happens (a render that fails, returns ``NOT_DONE_YET``, an
awaitable or a relays-http answer, an encoding wrapper's answer) the site hands the
request back (:meth:`relays_http.Exchange.dispatch`): relays-http fires ``request``
for it and the site's handler carries on from the outcome it kept, so the answer is
the usual path's, to the byte. A leaf that needs the connection behind the request
(:class:`~relays_resources.File` sends with ``sendfile``; a proxy, a WSGI app, an
encoding wrapper, virtual hosts) is handed back before it renders. Nothing is walked
or rendered twice.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Coroutine
from typing import Any

from relays import BaseComponent, Event, findtype, handler
from relays_http import HTTP, Exchange, Request, Response

from ._encoding import encode_answer
from ._proxy import close_proxy_sessions
from ._request import (
    DEFAULT_CONTENT_TYPE,
    DEFAULT_HIGH_WATER,
    DEFAULT_LOW_WATER,
    ResourceRequest,
)
from ._resource import NOT_DONE_YET, Resource

__all__ = ["PRIORITY", "Site"]

#: The priority of the site's ``request`` handler: relays-http's Dispatcher's (10).
PRIORITY = 10

#: ``ResourceRequest.taken``, bound once: CPython 3.11 cannot specialise loading a class
#: method from its class (about 250 instructions a request).
_taken_request = ResourceRequest.taken

#: The outcome of a request handed back before its resource rendered.
_NOT_RENDERED: Any = object()
#: Where a handed-back request keeps what the site did with it (``request.context``).
_HANDED_BACK = "relays_resources.handed_back"


def find_resource(root: Resource, request: ResourceRequest) -> Resource:
    """Walk ``request.postpath`` from *root*, moving segments onto ``prepath``."""
    resource = root
    postpath = request.postpath
    prepath = request.prepath
    while postpath and not resource.isLeaf:
        segment = postpath.pop(0)
        prepath.append(segment)
        resource = resource.getChildWithDefault(segment, request)
    return resource


class Site(BaseComponent):
    """Serve the tree under *root* (kept as :attr:`resource`): ``Server(...) + Site(root)``.

    *high_water* and *low_water* bound the bytes a streamed response keeps waiting
    for the client before its producer is paused, and below which it is resumed.
    """

    channel = "web"

    def __init__(
        self,
        root: Resource,
        *,
        channel: Any = "web",
        high_water: int = DEFAULT_HIGH_WATER,
        low_water: int = DEFAULT_LOW_WATER,
    ) -> None:
        super().__init__(channel=channel)
        if not 0 <= low_water <= high_water:
            raise ValueError(f"need 0 <= low_water <= high_water, got {low_water}, {high_water}")
        self.resource = root
        self.high_water = high_water
        self.low_water = low_water
        # The request streaming on each connection (HTTP/1.1 answers one at a time).
        self._streaming: dict[Any, ResourceRequest] = {}
        self._watcher: _ClientWatcher | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # Whether the site's ``request`` handler is the first on its channel (so a
        # request may be taken at its head), and what removes its head takers.
        self._first = False
        self._untake: list[Any] = []
        self._handed_back = 0  # requests handed back whose handler has not run yet

    def __repr__(self) -> str:
        return f"<Site {self.resource!r}>"

    def _track(self, wrapped: ResourceRequest) -> None:
        """Remember *wrapped* under its connection until its body has ended."""
        sock = wrapped.http.sock
        if sock is not None:
            if self._watcher is None:
                # Listening for disconnect makes the server fire it for every
                # connection: a site that never streams does not pay for it.
                self._watcher = _ClientWatcher(self, channel=self.channel)
                self += self._watcher
            self._streaming[sock] = wrapped

            def untrack() -> None:
                self._streaming.pop(sock, None)

            wrapped.on_end(untrack)

    def client_left(self, sock: Any) -> None:
        """The client of *sock* left (its ``disconnect`` or ``eof`` transport event):
        end the response streaming to it, if any."""
        wrapped = self._streaming.pop(sock, None)
        if wrapped is not None:
            wrapped.connection_lost()

    # -- taken at the head (see the theory of operation) -----------------------------

    @handler("registered", "unregistered", "started", channel="*")
    def _on_tree_changed(self, *args: Any) -> None:
        self._first = all(
            h.owner is self or h.priority < PRIORITY
            for h in self.handlers("request", self.channel)
        )

    @handler("started", channel="*")
    def _on_started(self, component: BaseComponent) -> None:
        if component is self.root and not self._untake:
            for server in findtype(self.root, HTTP, all=True):
                if server.channel == self.channel:
                    self._untake.append(server.take_heads(self._take))

    def _take(self, exchange: Exchange) -> bool:
        """relays-http's head taker: serve a request without a body from its head."""
        target = exchange.target
        if (
            not self._first
            or exchange.has_body
            or exchange.upgrade is not None
            or target[:1] != b"/"  # absolute-form: the usual path works its path out
        ):
            return False
        wrapped = _taken_request(
            exchange,
            target.partition(b"?")[0],
            site=self,
            high_water=self.high_water,
            low_water=self.low_water,
        )
        try:
            resource = find_resource(self.resource, wrapped)
            if resource._needs_connection:
                self._hand_back(wrapped, resource, _NOT_RENDERED)
                return True
            result = resource.render(wrapped)
        except (Exception, SystemExit) as error:
            self._hand_back(wrapped, None, error, failed=True)
            return True
        if type(result) is not bytes or wrapped.encoders or not wrapped.respond_taken(result):
            self._hand_back(wrapped, resource, result)
        return True

    def _hand_back(
        self,
        wrapped: ResourceRequest,
        resource: Resource | None,
        outcome: Any,
        *,
        failed: bool = False,
    ) -> None:
        """Give a taken request to relays-http's usual path, keeping what came of it
        for :meth:`_on_request` (in the request itself: it goes when the request does)."""
        request = wrapped.hand_back()
        request.context[_HANDED_BACK] = (wrapped, resource, outcome, failed)
        self._handed_back += 1

    # -- the usual path ------------------------------------------------------------------

    @handler("request", priority=PRIORITY)
    def _on_request(self, event: Event, request: Request, response: Response) -> Any:
        event.stop()
        if self._handed_back:
            handed = request.context.pop(_HANDED_BACK, None)
            if handed is not None:
                self._handed_back -= 1
                return self._carry_on(request, response, *handed)
        return self.answer(request, response)

    def _carry_on(
        self,
        request: Request,
        response: Response,
        wrapped: ResourceRequest,
        resource: Resource | None,
        outcome: Any,
        failed: bool,
    ) -> Any:
        """Answer a handed-back request from where the head taker left it."""
        wrapped.handed_back(request, response)
        if failed:
            raise outcome
        if outcome is _NOT_RENDERED:
            assert resource is not None
            return self._rendered(wrapped, resource.render(wrapped))
        return self._rendered(wrapped, outcome)

    def answer(self, request: Request, response: Response) -> Any:
        """Render the resource of *request*; what relays-http sends as the answer."""
        wrapped = ResourceRequest(
            request, response, site=self, high_water=self.high_water, low_water=self.low_water
        )
        resource = find_resource(self.resource, wrapped)
        return self._rendered(wrapped, resource.render(wrapped))

    def _rendered(self, wrapped: ResourceRequest, result: Any) -> Any:
        """The answer for what a render returned."""
        if type(result) is bytes:
            wrapped.sent()
            return self._with_body(wrapped, result)
        if inspect.isawaitable(result):
            return self.fire(_RenderWait(wrapped, result), self)
        return self._settle(wrapped, result)

    def _settle(self, wrapped: ResourceRequest, result: Any) -> Any:
        """The answer for what a render returned (other than bytes, the usual case)."""
        if result is NOT_DONE_YET:
            if not wrapped.finished:
                self._track(wrapped)
            if not wrapped.started():
                return self.fire(_HeadWait(wrapped), self)
            return self._respond_later(wrapped)
        if isinstance(result, bytes):
            wrapped.sent()
            return self._with_body(wrapped, result)
        return result  # a Response or an HTTPError, from File, a proxy or the app

    @handler("resource_render_wait")
    async def _render_wait(self, wrapped: ResourceRequest, rendering: Awaitable[Any]) -> Any:
        return self._settle(wrapped, await rendering)

    def start_task(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run *work* as a task the site owns, cancelled when the tree stops: the work
        of a render that returned ``NOT_DONE_YET`` (a :class:`WSGIResource` call)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)  # a task nobody holds may be collected before it ends
        task.add_done_callback(self._tasks.discard)
        return task

    @handler("stopped", channel="*")
    async def _on_stopped(self, component: BaseComponent) -> None:
        if component is self.root:
            for remove in self._untake:
                remove()
            self._untake.clear()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await close_proxy_sessions()  # their kept-alive upstream connections

    @handler("resource_head_wait")
    async def _head_wait(self, wrapped: ResourceRequest) -> Any:
        await wrapped.wait_started()
        return self._respond_later(wrapped)

    def _respond_later(self, wrapped: ResourceRequest) -> Response:
        whole = wrapped.written()
        if whole is None:
            return self._with_body(wrapped, wrapped.stream())
        wrapped.sent()
        return self._with_body(wrapped, whole)

    def _with_body(self, wrapped: ResourceRequest, body: Any) -> Response:
        response = wrapped.response
        headers = response.headers
        if "content-type" not in headers:
            headers["content-type"] = DEFAULT_CONTENT_TYPE
        response.body = body
        if wrapped.encoders:  # an EncodingResourceWrapper's answer
            encode_answer(wrapped.http, response, wrapped.encoders)
        return response


class _ClientWatcher(BaseComponent):
    """Hears clients leave for a site once it has streamed a response.

    relays-http's public way to hear that a client left is the transport events.
    ``eof`` counts as leaving, as in Twisted: a client that half-closes its side while
    a response streams is taken to be gone.
    """

    def __init__(self, site: Site, *, channel: Any) -> None:
        super().__init__(channel=channel)
        self.site = site

    @handler("disconnect", "eof")
    def _on_disconnect(self, sock: Any, *args: Any) -> None:
        self.site.client_left(sock)


class _RenderWait(Event):
    """``resource_render_wait(request, rendering)``, fired at the site: an ``async def``
    render (a proxied request, say) whose answer the site awaits."""

    name = "resource_render_wait"


class _HeadWait(Event):
    """``resource_head_wait(request)``, fired at the site: a ``NOT_DONE_YET`` render
    that has written nothing yet, whose head waits for its first write."""

    name = "resource_head_wait"
