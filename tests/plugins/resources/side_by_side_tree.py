"""One resource tree, written once, built on Twisted Web or on relays-resources.

``build(Resource, NOT_DONE_YET, later)`` takes the framework's base class, its
``NOT_DONE_YET`` and a ``later(delay, function, *args)`` timer, so the very same
code answers on both; ``python3 side_by_side_tree.py twisted`` serves it on Twisted
and prints its port; ``... proxy PORT`` serves Twisted's ReverseProxyResource in front
of it.
"""

from __future__ import annotations

import sys
from typing import Any


def build(base: Any, not_done_yet: Any, later: Any) -> Any:
    class Hello(base):  # type: ignore[misc, valid-type]
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            return b"Hello, " + b"/".join(request.postpath)

    class Form(base):  # type: ignore[misc, valid-type]
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            names = sorted(request.args)
            return b";".join(name + b"=" + b",".join(request.args[name]) for name in names)

        def render_POST(self, request: Any) -> bytes:
            return b"posted " + request.args[b"name"][0]

    class Code(base):  # type: ignore[misc, valid-type]
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            request.setResponseCode(402)
            request.setHeader(b"X-Reason", b"pay")
            return b"pay first"

    class Slow(base):  # type: ignore[misc, valid-type]
        isLeaf = True

        def render_GET(self, request: Any) -> Any:
            request.setHeader(b"Content-Type", b"text/plain")
            request.write(b"one,")
            later(0.01, self.more, request)
            return not_done_yet

        def more(self, request: Any) -> None:
            request.write(b"two")
            request.finish()

    class Numbers(base):  # type: ignore[misc, valid-type]
        def getChild(self, name: bytes, request: Any) -> Any:
            child = base()
            child.isLeaf = True
            child.render_GET = lambda request: b"number " + name
            return child

    root = base()
    root.putChild(b"hello", Hello())
    root.putChild(b"form", Form())
    root.putChild(b"code", Code())
    root.putChild(b"slow", Slow())
    root.putChild(b"numbers", Numbers())
    return root


def serve_on_twisted() -> None:
    from twisted.internet import reactor
    from twisted.web import resource, server

    root = build(resource.Resource, server.NOT_DONE_YET, reactor.callLater)  # type: ignore[attr-defined]
    port = reactor.listenTCP(0, server.Site(root), interface="127.0.0.1")  # type: ignore[attr-defined]
    print(port.getHost().port, flush=True)
    reactor.run()  # type: ignore[attr-defined]


def proxy_on_twisted(upstream_port: int) -> None:
    """Twisted's own ReverseProxyResource at /proxy, in front of *upstream_port*."""
    from twisted.internet import reactor
    from twisted.web import proxy, resource, server

    root = resource.Resource()
    root.putChild(b"proxy", proxy.ReverseProxyResource("127.0.0.1", upstream_port, b""))
    port = reactor.listenTCP(0, server.Site(root), interface="127.0.0.1")  # type: ignore[attr-defined]
    print(port.getHost().port, flush=True)
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__" and sys.argv[1:] == ["twisted"]:
    serve_on_twisted()
elif __name__ == "__main__" and sys.argv[1:2] == ["proxy"]:
    proxy_on_twisted(int(sys.argv[2]))
