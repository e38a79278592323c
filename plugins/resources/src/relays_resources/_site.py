"""``Site``: a resource tree answering relays-http's requests, as a dispatcher.

The site listens for ``request`` on the server's channel, walks the tree from its
root (see :mod:`relays_resources._resource`) and renders the resource it reaches.
It answers every request it sees (a path with no resource is the tree's 404, as
in Twisted), so mount other dispatchers above it, at a higher priority.
"""

from __future__ import annotations

from typing import Any

from relays import BaseComponent, Event, handler
from relays_http import Request, Response

from ._request import DEFAULT_HIGH_WATER, DEFAULT_LOW_WATER, ResourceRequest
from ._resource import NOT_DONE_YET, Resource

__all__ = ["PRIORITY", "Site"]

#: The priority of the site's ``request`` handler: relays-http's Dispatcher's (10).
PRIORITY = 10

_DEFAULT_TYPE = "text/html; charset=utf-8"


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

    def __repr__(self) -> str:
        return f"<Site {self.resource!r}>"

    @handler("request", priority=PRIORITY)
    def _on_request(self, event: Event, request: Request, response: Response) -> Any:
        event.stop()
        return self.answer(request, response)

    def answer(self, request: Request, response: Response) -> Any:
        """Render the resource of *request*; what relays-http sends as the answer."""
        wrapped = ResourceRequest(
            request, response, high_water=self.high_water, low_water=self.low_water
        )
        resource = find_resource(self.resource, wrapped)
        result = resource.render(wrapped)
        if result is NOT_DONE_YET:
            whole = wrapped.written()
            if whole is None:
                body: Any = wrapped.stream()
            else:
                body = whole
                wrapped.sent()
        elif isinstance(result, bytes):
            body = result
            wrapped.sent()
        else:
            return result  # a Response or an HTTPError, from File or the app
        headers = response.headers
        if "Content-Type" not in headers:
            headers["Content-Type"] = _DEFAULT_TYPE
        response.body = body
        return response
