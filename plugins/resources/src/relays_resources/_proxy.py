"""``ReverseProxyResource``: a subtree answered by another HTTP server.

Theory of operation
-------------------
As in Twisted, a :class:`ReverseProxyResource` for ``(host, port, b"/base")`` put at
``/proxy`` answers ``/proxy/a/b?x=1`` by asking ``host:port`` for ``/base/a/b?x=1``:
each segment walked below it makes a child whose path has the (quoted) segment added.

Rendering is asynchronous (the site awaits it). The request goes out on relays-http's
client (:class:`relays_http.client.Session`, one per resource tree, keeping its
connections to the upstream alive between requests) with the client's method, the
query, and the client's header fields less the hop-by-hop ones (``Connection`` and
the fields it names, ``Keep-Alive``, ``TE``, ``Upgrade``...). ``Host`` is rewritten
to the upstream's, as Twisted does (``host``, or ``host:port`` off port 80), and the
client's address is added to ``X-Forwarded-For``. (The client session writes
``Host`` from the URL; a client that sent no ``User-Agent`` or ``Accept`` gets the
session's, ``relays-http`` and ``*/*``.)

Bodies stream both ways with backpressure. The request body is read with
``request.stream()``: for a path whose bodies the server streams
(``server.http.stream_bodies("/proxy")``) each chunk goes upstream as the client
sends it, and the client is held back while the upstream does not take it; other
bodies were received whole by relays-http first. The answer's body is an async
iterator over the upstream's raw bytes (still content-encoded): relays-http pulls the
next chunk only once the client took the last one, and while it does not, the
upstream connection is not read, so TCP holds the upstream back in turn.

Failures. An upstream that cannot be reached, or that answers something that is not
HTTP, is a ``502 Bad Gateway`` whose reason names the upstream and what went wrong;
one that sends nothing for ``timeout`` seconds (connecting, or waiting for the answer
or its next bytes) is a ``504 Gateway Timeout``. Once the answer's head has gone to
the client its status cannot change: a failure in the body cuts the client's
connection, so a cut-short body is never taken for a whole one.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import quote

from relays_http import HTTPError, Response
from relays_http.client import (
    ClientError,
    PoolLimits,
    Session,
    Timeout,
    Timeouts,
)
from relays_http.client import Response as UpstreamResponse

from ._request import ResourceRequest, as_bytes
from ._resource import Resource

__all__ = [
    "DEFAULT_PROXY_TIMEOUT",
    "HOP_BY_HOP_FIELDS",
    "ReverseProxyResource",
    "close_proxy_sessions",
]

#: Seconds the upstream may stay silent (connecting, before its answer, between two
#: pieces of its body) before the client gets a 504.
DEFAULT_PROXY_TIMEOUT = 60.0

#: Fields that belong to one connection (RFC 9110 7.6.1), never forwarded either way;
#: the fields named in ``Connection`` are dropped too.
HOP_BY_HOP_FIELDS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Not forwarded upstream: the client sets these itself (framing, the upstream's Host).
_REQUEST_FIELDS_SET_BY_CLIENT = frozenset({"host", "content-length", "expect"})
# Not copied from the upstream's answer: relays-http writes its own Date and Server.
_RESPONSE_FIELDS_WRITTEN_BY_SERVER = frozenset({"date", "server"})


def _forwarded_fields(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """*pairs* less the hop-by-hop fields and those ``Connection`` names."""
    named = {
        token.strip().lower()
        for name, value in pairs
        if name.lower() == "connection"
        for token in value.split(",")
    }
    return [
        (name, value)
        for name, value in pairs
        if (lower := name.lower()) not in HOP_BY_HOP_FIELDS and lower not in named
    ]


class ReverseProxyResource(Resource):
    """Answer this subtree from ``host:port``, below *path*:
    ``root.putChild(b"api", ReverseProxyResource("127.0.0.1", 8081, b"/v1"))``.

    *timeout* is the seconds the upstream may stay silent before a 504
    (:data:`DEFAULT_PROXY_TIMEOUT`). See the module's theory of operation.
    """

    _needs_connection = True  # (see Resource._needs_connection)

    # Twisted's signature (host, port, path); the timeout is ours.

    def __init__(
        self,
        host: str,
        port: int,
        path: str | bytes,
        *,
        timeout: float = DEFAULT_PROXY_TIMEOUT,
    ) -> None:
        super().__init__()
        if not timeout > 0:
            raise ValueError(f"timeout must be positive seconds, not {timeout!r}")
        self.host = host
        self.port = port
        self.path = as_bytes(path)
        self.timeout = timeout
        # One client session for the whole subtree: children share their root's.
        self._sessions: _Sessions = _Sessions(timeout)

    def __repr__(self) -> str:
        return f"<ReverseProxyResource {self.upstream_url()}>"

    def getChild(self, path: bytes, request: ResourceRequest) -> Resource:
        segment = quote(path, safe="").encode("ascii")
        child = ReverseProxyResource(
            self.host, self.port, self.path + b"/" + segment, timeout=self.timeout
        )
        child._sessions = self._sessions
        return child

    def upstream_url(self, query: str = "") -> str:
        """The URL asked of the upstream for this resource (with *query*, if any)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        url = f"http://{host}:{self.port}{self.path.decode('latin-1') or '/'}"
        return f"{url}?{query}" if query else url

    def render(self, request: ResourceRequest) -> Any:
        return self._forward(request)

    async def _forward(self, request: ResourceRequest) -> Any:
        http = request.http
        headers = _forwarded_fields(
            [
                (name, value)
                for name, value in http.headers.allitems()
                if name.lower() not in _REQUEST_FIELDS_SET_BY_CLIENT
            ]
        )
        remote = http.remote
        if isinstance(remote, tuple) and remote:
            earlier = http.headers.getall("X-Forwarded-For")
            chain = ", ".join([*earlier, str(remote[0])])
            headers = [(n, v) for n, v in headers if n.lower() != "x-forwarded-for"]
            headers.append(("X-Forwarded-For", chain))
        if http.header(b"accept-encoding") is None:
            # Else the client session would offer its codings for the client.
            headers.append(("Accept-Encoding", "identity"))
        url = self.upstream_url(http.query_string)
        session = self._sessions.get()
        body = _request_body(request)
        opened = session.stream(http.method, url, headers=headers, content=body)
        try:
            upstream = await opened.__aenter__()
        except Timeout as error:
            return HTTPError(504, f"the upstream {self.upstream_url()} timed out: {error}")
        except ClientError as error:
            return HTTPError(502, f"the upstream {self.upstream_url()} failed: {error}")
        return self._answer(request.response, upstream, opened)

    def _answer(self, response: Response, upstream: UpstreamResponse, opened: Any) -> Response:
        response.status = upstream.status_code
        response.reason = upstream.reason
        pairs = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in upstream.headers.raw
            if name.decode("latin-1") not in _RESPONSE_FIELDS_WRITTEN_BY_SERVER
        ]
        for name, value in _forwarded_fields(pairs):
            response.headers.add(name, value)
        response.body = _relay_body(upstream, opened, self.upstream_url())
        return response


async def _relay_body(upstream: UpstreamResponse, opened: Any, where: str) -> AsyncIterator[bytes]:
    """The upstream's body as it arrives; its connection is given back at the end."""
    try:
        async for chunk in upstream.iter_raw():
            yield chunk
    except ClientError as error:
        # The head went out already: cut the client's connection (see the theory).
        raise ConnectionError(f"the upstream {where} failed in the body: {error}") from None
    finally:
        await opened.__aexit__(None, None, None)


def _request_body(request: ResourceRequest) -> Any:
    """What goes upstream as the body: nothing, the buffered bytes or file, or the
    client's stream (see the theory)."""
    http = request.http
    if http.streamed:
        return http.stream()
    if http.expected_length is None and http.header(b"transfer-encoding") is None:
        return None
    return http.body


class _Sessions:
    """The client session of one proxied subtree, one per event loop, made on first use.

    A session's connections belong to the loop it first ran on; the tests run many
    loops in one process, each with the same tree.
    """

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._by_loop: dict[asyncio.AbstractEventLoop, Session] = {}

    def get(self) -> Session:
        loop = asyncio.get_running_loop()
        session = self._by_loop.get(loop)
        if session is None:
            for old in [each for each in self._by_loop if each.is_closed()]:
                del self._by_loop[old]
            timeout = self._timeout
            session = self._by_loop[loop] = Session(
                timeouts=Timeouts(connect=timeout, read=timeout, write=timeout, pool=timeout),
                pool_limits=PoolLimits(),
                follow_redirects=False,  # the client follows them, or not
                trust_env=False,  # HTTP_PROXY is for this process's own requests
                # Cookies are the client's: never kept here and sent to another user.
                cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
            )
            _LIVE.add(self)
        return session

    async def close(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close the session of *loop* (its kept-alive connections to the upstream)."""
        session = self._by_loop.pop(loop, None)
        if session is not None:
            await session.close()


#: Every subtree's sessions, to close those of a loop when its site stops.
_LIVE: weakref.WeakSet[_Sessions] = weakref.WeakSet()


async def close_proxy_sessions() -> None:
    """Close the upstream connections kept on the running loop (the site's stop)."""
    loop = asyncio.get_running_loop()
    for sessions in list(_LIVE):
        await sessions.close(loop)
