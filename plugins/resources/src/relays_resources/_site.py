"""``Site``: a resource tree answering relays-http's requests, as a dispatcher.

The site listens for ``request`` on the server's channel, walks the tree from its
root (see :mod:`relays_resources._resource`) and renders the resource it reaches.
It answers every request it sees (a path with no resource is the tree's 404, as
in Twisted), so mount other dispatchers above it, at a higher priority.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Coroutine
from typing import Any

from relays import BaseComponent, Event, handler
from relays_http import Request, Response

from ._encoding import encode_answer
from ._proxy import close_proxy_sessions
from ._request import DEFAULT_HIGH_WATER, DEFAULT_LOW_WATER, ResourceRequest
from ._resource import NOT_DONE_YET, Resource

__all__ = ["PRIORITY", "Site"]

#: The priority of the site's ``request`` handler: relays-http's Dispatcher's (10).
PRIORITY = 10

#: Twisted's default; set a charset yourself (``request.setHeader``) for text.
_DEFAULT_TYPE = "text/html"


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

    @handler("request", priority=PRIORITY)
    def _on_request(self, event: Event, request: Request, response: Response) -> Any:
        event.stop()
        return self.answer(request, response)

    def answer(self, request: Request, response: Response) -> Any:
        """Render the resource of *request*; what relays-http sends as the answer."""
        wrapped = ResourceRequest(
            request, response, site=self, high_water=self.high_water, low_water=self.low_water
        )
        resource = find_resource(self.resource, wrapped)
        result = resource.render(wrapped)
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
            headers["content-type"] = _DEFAULT_TYPE
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
