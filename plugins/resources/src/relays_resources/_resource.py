"""``Resource`` and the usual leaves, in Twisted Web's model.

A URL is answered by walking a tree: the site takes the path's segments one by
one (``postpath``), and each resource names the child for the next segment
(``getChildWithDefault``: a child put with ``putChild``, else ``getChild``) until
the segments run out or a resource says it is a leaf (``isLeaf``); the segments
walked are ``prepath``. The resource reached renders: ``render`` calls
``render_<METHOD>`` and answers a method it has no such method for with 405 and
the ``Allow`` it can do (501 for a method outside :data:`KNOWN_METHODS`, as
Twisted does); HEAD is GET without the body.
"""

from __future__ import annotations

import html
import os
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Final

from relays_http import HTTPError, MethodNotAllowed
from relays_static import serve_file

from ._request import ResourceRequest, as_bytes

__all__ = [
    "KNOWN_METHODS",
    "NOT_DONE_YET",
    "ErrorPage",
    "File",
    "ForbiddenResource",
    "NameVirtualHost",
    "NoResource",
    "Redirect",
    "Rendered",
    "Resource",
]


#: Methods answered 405 (with ``Allow``) when a resource has no ``render_`` method for
#: them; any other method without one is a 501, as in Twisted.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST"})


class _NotDoneYet:
    """The answer of a render that writes its body later (``request.write``/``finish``)."""

    _instance: ClassVar[_NotDoneYet | None] = None

    def __new__(cls) -> _NotDoneYet:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_DONE_YET"


#: Returned by ``render`` when the body comes later through ``request.write()``.
NOT_DONE_YET: Final = _NotDoneYet()

#: What a render may return: the body, ``NOT_DONE_YET``, an awaitable of either, or
#: any answer relays-http takes (a :class:`~relays_http.Response`, an
#: :class:`~relays_http.HTTPError`).
Rendered = Any


#: The ``render_`` method names of the usual methods: most renders build no name (a
#: decode and a concatenation).
_RENDERER_NAMES = {
    method.encode("ascii"): "render_" + method
    for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
}


class Resource:
    """A node of the URL tree; subclass it and write ``render_GET`` and friends.

    ``root.putChild(b"about", About())`` serves ``/about``. A resource with
    ``isLeaf = True`` takes every path below it (read the rest in
    ``request.postpath``).
    """

    # Twisted's names, kept so that resource code ports unchanged.

    #: True: this resource answers every path below it itself.
    isLeaf: bool = False
    #: The methods named in ``Allow`` on a 405; None: worked out from ``render_*``.
    allowedMethods: tuple[bytes, ...] | None = None
    #: True for a leaf that needs the connection behind its request (a file sent with
    #: ``sendfile``, a proxied or WSGI body): the site renders it on relays-http's
    #: usual path, never from a request taken at its head (see ``relays_resources._site``).
    _needs_connection: ClassVar[bool] = False

    def __init__(self) -> None:
        self.children: dict[bytes, Resource] = {}

    def putChild(self, path: str | bytes, child: Resource) -> None:
        """Serve *child* at segment *path* below this resource."""
        self.children[as_bytes(path)] = child

    def getChild(self, path: bytes, request: ResourceRequest) -> Resource:
        """The child for segment *path* when none was put there: a 404 by default."""
        return NoResource()

    def getChildWithDefault(self, path: bytes, request: ResourceRequest) -> Resource:
        child = self.children.get(path)
        if child is not None:
            return child
        return self.getChild(path, request)

    def render(self, request: ResourceRequest) -> Rendered:
        """Call ``render_<METHOD>``; 405 with ``Allow`` when there is none."""
        name = _RENDERER_NAMES.get(request.method)
        if name is None:
            name = "render_" + request.method.decode("ascii")
        renderer: Callable[[ResourceRequest], Rendered] | None = getattr(self, name, None)
        if renderer is None:
            method = request.method.decode("ascii")
            if method == "HEAD":
                renderer = getattr(self, "render_GET", None)
            if renderer is None:
                if method not in KNOWN_METHODS:
                    raise HTTPError(501, f"{method} is not a method this server knows")
                raise MethodNotAllowed(self.allowed_methods())
        return renderer(request)

    def allowed_methods(self) -> list[str]:
        if self.allowedMethods is not None:
            return [each.decode("ascii") for each in self.allowedMethods]
        methods = {name[len("render_") :] for name in dir(self) if name.startswith("render_")}
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods)


class ErrorPage(Resource):
    """An HTML error page with *status*, a *brief* title and a *detail* text."""

    isLeaf = True

    def __init__(self, status: int, brief: str, detail: str) -> None:
        super().__init__()
        self.status = status
        self.brief = brief
        self.detail = detail

    def render(self, request: ResourceRequest) -> bytes:
        request.setResponseCode(self.status)
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        title = html.escape(f"{self.status} - {self.brief}")
        page = (
            f"<html>\n  <head><title>{title}</title></head>\n  <body>\n"
            f"    <h1>{html.escape(self.brief)}</h1>\n    <p>{html.escape(self.detail)}</p>\n"
            "  </body>\n</html>\n"
        )
        return page.encode("utf-8")


class NoResource(ErrorPage):
    """404: nothing here."""

    def __init__(self, message: str = "Sorry. No luck finding that resource.") -> None:
        super().__init__(404, "No Such Resource", message)


class ForbiddenResource(ErrorPage):
    """403: not for you."""

    def __init__(self, message: str = "Sorry, resource is forbidden.") -> None:
        super().__init__(403, "Forbidden Resource", message)


class Redirect(Resource):
    """A ``302 Found`` to *url*, for every path below it."""

    isLeaf = True

    def __init__(self, url: str | bytes) -> None:
        super().__init__()
        self.url = as_bytes(url)

    def render(self, request: ResourceRequest) -> bytes:
        request.redirect(self.url)
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        target = html.escape(self.url.decode("latin-1"))
        return f'<html><body>Moved to <a href="{target}">{target}</a>.</body></html>'.encode()


class NameVirtualHost(Resource):
    """Different trees per ``Host``: ``addHost(b"example.org", tree)``, else *default*."""

    _needs_connection = True  # its hosts' trees may hold files

    def __init__(self, default: Resource | None = None) -> None:
        super().__init__()
        self.hosts: dict[bytes, Resource] = {}
        self.default = default

    def addHost(self, name: str | bytes, resource: Resource) -> None:
        self.hosts[as_bytes(name).lower()] = resource

    def removeHost(self, name: str | bytes) -> None:
        del self.hosts[as_bytes(name).lower()]

    def _host_resource(self, request: ResourceRequest) -> Resource:
        host = (request.getHeader(b"host") or b"").lower()
        name = host.rpartition(b":")[0] if b":" in host and not host.endswith(b"]") else host
        resource = self.hosts.get(name, self.default)
        return resource if resource is not None else NoResource("No such host.")

    def render(self, request: ResourceRequest) -> Rendered:
        return self._host_resource(request).render(request)

    def getChild(self, path: bytes, request: ResourceRequest) -> Resource:
        return self._host_resource(request).getChildWithDefault(path, request)


class File(Resource):
    """A file, or a directory whose files are served below it, through relays-static.

    A file gets relays-static's validators (``ETag``, ``Last-Modified``,
    conditional requests) and byte ranges. A directory serves its ``index.html``
    (a 403 without one), and a directory URL without its trailing slash is
    redirected to the slash form. Segments that could leave the directory
    (``..``, hidden names) are a 404.
    """

    _needs_connection = True  # (see Resource._needs_connection)

    def __init__(self, path: str | os.PathLike[str], content_type: str | None = None) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.content_type = content_type

    def getChild(self, path: bytes, request: ResourceRequest) -> Resource:
        if not os.path.isdir(self.path):
            return NoResource()
        if path == b"":
            return self
        name = path.decode("utf-8", "replace")
        if name.startswith(".") or "/" in name or "\\" in name or "\x00" in name:
            return NoResource()
        return File(os.path.join(self.path, name))

    def render(self, request: ResourceRequest) -> Rendered:
        if request.method not in (b"GET", b"HEAD"):
            raise MethodNotAllowed(["GET", "HEAD"])
        if os.path.isdir(self.path):
            if not request.path.endswith(b"/"):
                request.redirect(request.path + b"/")
                return b""
            index = os.path.join(self.path, "index.html")
            if not os.path.isfile(index):
                return ForbiddenResource().render(request)
            return serve_file(request.http, request.response, index)
        return serve_file(request.http, request.response, self.path, self.content_type)


#: A render method: what ``render_GET`` and friends look like.
Renderer = Callable[[ResourceRequest], "Rendered | Awaitable[Rendered]"]
