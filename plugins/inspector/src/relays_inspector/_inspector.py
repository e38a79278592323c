"""The :class:`Inspector` component: the pages under ``/_relays/`` of an HTTP server.

Every request under the prefix passes :class:`~relays_inspector.Access` first (an
allowed peer, and the token). Then:

- ``/_relays/``: the page, with its script and stylesheet (served from the package:
  no CDN, no front-end framework), sent with a Content-Security-Policy that allows
  nothing but this server;
- ``/_relays/tree.svg``: the tree, drawn in a thread (Graphviz may take a while);
- ``/_relays/handlers?component=KEY``: a component's handler table, as JSON;
- ``/_relays/events?name=...&channel=...``: the live event stream and, once a
  second, the live figures (server-sent events, see :mod:`relays_inspector._stream`
  and :mod:`relays_inspector._figures`).

All of it is read-only: no page of the inspector fires an event into the app.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterable
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import attrs

from relays import BaseComponent, Event, Priority, handler
from relays_http import (
    BaseServer,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    Redirect,
    Request,
    Response,
    ServerSentEvent,
    event_stream,
)

from ._access import DEFAULT_ALLOW, Access, Verdict, new_token
from ._figures import FigureLimits
from ._stream import EventTap, StreamLimits, Subscription
from ._tree import describe_tree, draw_tree, find_component, handler_rows

__all__ = ["COOKIE_NAME", "DEFAULT_PATH", "Inspector"]

#: Where the inspector's pages are unless told otherwise.
DEFAULT_PATH = "/_relays"
#: The cookie that holds the token after the first visit.
COOKIE_NAME = "relays_inspector"
#: Pages only this server's own files may script or style; no framing, no referrer.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_ASSETS = {
    "": ("index.html", "text/html; charset=utf-8"),
    "inspector.js": ("inspector.js", "text/javascript; charset=utf-8"),
    "inspector.css": ("inspector.css", "text/css; charset=utf-8"),
}


class _DrawTree(Event):
    """Internal: draw the tree for one request (fired at the inspector itself)."""

    name = "inspector_draw_tree"


def _asset(name: str) -> bytes:
    return resources.files("relays_inspector").joinpath("_assets", name).read_bytes()


def _split(values: Iterable[str]) -> frozenset[str]:
    return frozenset(part.strip() for value in values for part in value.split(",") if part.strip())


class Inspector(BaseComponent):
    """A read-only view of the running app at *path* (``/_relays/``) of the server it joins.

    ``Server(8000) + Root() + Inspector()``. The page shows the component tree, the
    handler table of a clicked component and the live event stream. Only peers in
    *allow* (loopback by default; ``("*",)`` for anyone) holding *token* get in: by
    default a random one, printed with the page's address when the server is ready
    (``announce=False`` prints nothing; read :attr:`url` or :attr:`token` instead).
    *graphviz* ``None`` draws the tree with Graphviz when installed, ``False`` never.
    *limits* bounds each page's event stream, *figures* the live figures.
    """

    channel = "web"

    def __init__(
        self,
        path: str = DEFAULT_PATH,
        *,
        token: str | None = None,
        allow: Iterable[str] = DEFAULT_ALLOW,
        channel: Any = "web",
        announce: bool = True,
        graphviz: bool | None = None,
        limits: StreamLimits | None = None,
        figures: FigureLimits | None = None,
    ) -> None:
        super().__init__(channel=channel)
        if not path.startswith("/") or path.endswith("/"):
            raise ValueError(
                f"the inspector's path is a prefix such as '/_relays': it starts with '/' and"
                f" does not end with one, unlike {path!r}"
            )
        #: The URL prefix of the pages, without its trailing slash.
        self.path = path
        self.access = Access(token if token is not None else new_token(), allow)
        self.announce = announce
        self.graphviz = graphviz
        self.limits = limits if limits is not None else StreamLimits()
        self.tap = EventTap(
            figure_limits=figures, queue_depth=self._queue_depth, connections=self._connections
        )
        #: The page's address with the token, once the server listens (None before).
        self.url: str | None = None

    def _server(self) -> BaseServer | None:
        owner = self.parent
        while owner is not None and not isinstance(owner, BaseServer):
            owner = owner.parent
        return owner

    def _queue_depth(self) -> int:
        return len(self.root)  # events fired and not yet dispatched, as in circuits

    def _connections(self) -> int | None:
        server = self._server()
        return None if server is None else server.http.connections

    @property
    def token(self) -> str:
        """The token that opens the pages."""
        return self.access.token

    def __repr__(self) -> str:
        return f"<Inspector {self.path}/>"

    # Before the server's own handler, which wakes wait_ready(): url is set by then.
    @handler("ready", priority=Priority.DEFAULT + 1)
    def _on_ready(self, server: Any, address: Any) -> None:
        owner = self._server()
        if owner is None or server is not owner.transport or self.url is not None:
            return
        link = f"{self.path}/?token={self.token}"
        if not isinstance(address, tuple):  # a UNIX socket: no host to name
            self.url = f"{link} (on the UNIX socket {address})"
        else:
            scheme = "https" if getattr(server, "secure", False) else "http"
            host = str(address[0])
            host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
            host = f"[{host}]" if ":" in host else host
            self.url = f"{scheme}://{host}:{address[1]}{link}"
        if self.announce:
            print(f"relays: inspector at {self.url}", file=sys.stderr, flush=True)

    # Before HTTP finishes its responses: an open page must not hold the stop up.
    @handler("stopped", channel="*", priority=Priority.STOP_PROTOCOLS + 1)
    def _on_stopped(self, component: BaseComponent) -> None:
        if component is self.root:
            self.tap.end_all()

    @handler("request", priority=Priority.DISPATCH + 1)
    def _on_request(self, event: Event, request: Request, response: Response) -> Any:
        raw_path = request.raw_path
        prefix = self.path
        if not raw_path.startswith(prefix):
            return None
        rest = raw_path[len(prefix) :]
        if rest and rest[0] != "/":
            return None  # "/_relaysfoo" is not ours
        event.stop()
        if not rest:
            query = request.query_string
            return Redirect(f"{prefix}/" + (f"?{query}" if query else ""), 303)
        answer = self._answer(request, response, rest[1:])
        if isinstance(answer, Response | Forbidden):
            response.headers.update(_SECURITY_HEADERS)
        return answer

    def _answer(self, request: Request, response: Response, page: str) -> Any:
        query_token = request.query.get("token")
        verdict = self.access.check(request.remote, query_token, request.cookies.get(COOKIE_NAME))
        if verdict in (Verdict.PEER_REFUSED, Verdict.TOKEN_REFUSED):
            return Forbidden(verdict.value)
        if request.method not in ("GET", "HEAD"):
            return MethodNotAllowed(["GET", "HEAD"], "the inspector is read-only")
        if verdict is Verdict.ALLOWED_SET_COOKIE:
            response.set_cookie(
                COOKIE_NAME,
                self.token,
                path=f"{self.path}/",
                httponly=True,
                samesite="Strict",
            )
            query = urlencode([(k, v) for k, v in request.query.allitems() if k != "token"])
            return Redirect(f"{self.path}/{page}" + (f"?{query}" if query else ""), 303)
        if page in _ASSETS:
            name, content_type = _ASSETS[page]
            return Response(_asset(name), content_type=content_type, headers=_SECURITY_HEADERS)
        if page == "tree.svg":
            return self.fire(_DrawTree(request, response), self)
        if page == "handlers":
            return self._handlers(request)
        if page == "events":
            return self._events(request, response)
        return NotFound("the inspector has no such page")

    @handler("inspector_draw_tree")
    async def _on_draw_tree(self, request: Request, response: Response) -> Response:
        root = self.root
        looks = describe_tree(root)
        svg = await asyncio.to_thread(draw_tree, root, looks, graphviz=self.graphviz)
        return Response(svg, content_type="image/svg+xml", headers=_SECURITY_HEADERS)

    def _handlers(self, request: Request) -> Any:
        key = request.query.get("component", "")
        component = find_component(self.root, key)
        if component is None:
            return NotFound("no such component: the tree changed, reload the page")
        rows = [attrs.asdict(row) for row in handler_rows(component)]
        body = {"component": component.name, "repr": repr(component), "handlers": rows}
        return Response(
            json.dumps(body).encode(),
            content_type="application/json",
            headers=_SECURITY_HEADERS,
        )

    def _events(self, request: Request, response: Response) -> Any:
        subscription = Subscription(
            self.limits,
            names=_split(request.query.getall("name")),
            channels=_split(request.query.getall("channel")),
        )
        response.headers.update(_SECURITY_HEADERS)
        return event_stream(
            response, self._feed(subscription), keep_alive=self.limits.keep_alive, retry=2000
        )

    async def _feed(self, subscription: Subscription) -> AsyncIterator[ServerSentEvent]:
        self.tap.subscribe(subscription, self)
        try:
            async for batch in subscription.batches():
                yield ServerSentEvent(json.dumps(batch, default=str), event="events")
        finally:
            self.tap.unsubscribe(subscription)
