"""The async API: a :class:`Session` sends requests through its pool and follows redirects.

Theory of operation
===================

``request()`` is a loop over hops. Each hop acquires a connection for the URL's
origin, writes the request (a body known in full goes out with the head in one
write; a streamed one chunk by chunk, waiting for the socket to drain), and waits
for the final response head, skipping 1xx interim ones. A redirect's body is read
(up to a small bound, so the connection can be reused) and the next hop is built as
RFC 9110 15.4 says: 303 turns any method but HEAD into a bodiless GET, 301 and 302
turn POST into GET (what every browser does), 307 and 308 repeat the method and body;
``Authorization``, ``Cookie`` and ``Proxy-Authorization`` are dropped when the origin
changes, so credentials never follow a redirect to another host.

Retrying. A keep-alive connection can be closed by the server at the very moment a
request goes out on it (RFC 9112 9.3.1). When the server closed a *reused*
connection before sending any byte of the answer, and the request is idempotent
(RFC 9110 9.2.2) with a body that can be sent again, the hop is repeated once on a
new connection. Anything else is raised: a POST may have been acted on.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json as _json
import os
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from http.cookiejar import CookieJar
from types import TracebackType
from typing import IO, Any, TypeAlias
from urllib.parse import urlencode, urljoin
from urllib.request import getproxies_environment

import attrs

from .._protocol import EndOfMessage
from .._protocol._client import ResponseHead, ResponseLimits
from ._connection import HTTPConnection, open_connection
from ._cookies import cookie_header, store_cookies
from ._decoding import ACCEPT_ENCODING, make_decoder
from ._errors import (
    ClientError,
    InvalidURL,
    ReadTimeout,
    ServerDisconnected,
    TooManyRedirects,
    TotalTimeout,
)
from ._pool import ConnectionPool, PoolLimits
from ._response import Response
from ._url import Origin, ProxyRoute, QueryParams, RequestURL, Route, parse_url

__all__ = ["Session", "Timeouts"]

HeadersArgument: TypeAlias = Mapping[str, str] | Sequence[tuple[str, str]]
#: A request body to stream: async iterables of bytes, or a binary file opened for reading.
StreamedBody: TypeAlias = AsyncIterable[bytes] | IO[bytes]
Content: TypeAlias = bytes | str | StreamedBody

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIAL_FIELDS = frozenset({"authorization", "cookie", "proxy-authorization"})
_BODY_FIELDS = frozenset({"content-type", "content-encoding", "content-language"})
#: A redirect body longer than this closes the connection instead of being read.
_REDIRECT_BODY_TO_READ = 64 * 1024
_FILE_CHUNK = 64 * 1024
_USER_AGENT = "relays-http"
_MISSING: Any = object()


def _non_negative_or_none(
    instance: object, attribute: attrs.Attribute[Any], value: object
) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"Timeouts.{attribute.name} must be positive seconds or None")


@attrs.frozen
class Timeouts:
    """Seconds allowed for each part of a request; None waits for ever.

    ``read`` and ``write`` bound each wait for the socket, not the whole body: a
    large download that keeps moving never times out, a stalled one does.
    ``total`` bounds the whole of :meth:`Session.request`, redirects and body
    included (for :meth:`Session.stream`, until the head arrives).
    """

    #: Opening a connection: TCP, then the TLS handshake.
    connect: float | None = attrs.field(default=10.0, validator=_non_negative_or_none)
    #: Waiting for the next bytes of the response.
    read: float | None = attrs.field(default=30.0, validator=_non_negative_or_none)
    #: Waiting for the server to take more of the request.
    write: float | None = attrs.field(default=30.0, validator=_non_negative_or_none)
    #: Waiting for a free connection when the pool is at its limits.
    pool: float | None = attrs.field(default=10.0, validator=_non_negative_or_none)
    #: The whole request, redirects included.
    total: float | None = attrs.field(default=None, validator=_non_negative_or_none)
    #: Waiting for ``100 Continue`` before sending a large body anyway (RFC 9110 10.1.1:
    #: a server may not know ``Expect``); see ``Session(expect_continue_size=)``.
    expect_continue: float = attrs.field(default=1.0, validator=_non_negative_or_none)


@attrs.define
class _Body:
    """A request body ready to send."""

    #: The whole body, or None when it is streamed.
    whole: bytes | None = b""
    stream: StreamedBody | None = None
    #: The length to announce; None: chunked.
    length: int | None = 0
    content_type: str | None = None

    @property
    def replayable(self) -> bool:
        return self.stream is None


def _encode_body(json: Any, data: Any, content: Content | None) -> _Body:
    given = [
        name
        for name, value in (("json", json), ("data", data), ("content", content))
        if value is not _MISSING and value is not None
    ]
    if len(given) > 1:
        raise ClientError(f"give at most one of json=, data= and content=, not {given}")
    if json is not _MISSING:
        whole = _json.dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
        return _Body(whole, None, len(whole), "application/json")
    if data is not None:
        if isinstance(data, Mapping) or (
            isinstance(data, Sequence) and not isinstance(data, (bytes, str))
        ):
            items = data.items() if isinstance(data, Mapping) else data
            whole = urlencode(list(items), doseq=True).encode("ascii")
            return _Body(whole, None, len(whole), "application/x-www-form-urlencoded")
        content = data
    if content is None:
        return _Body()
    if isinstance(content, str):
        content = content.encode("utf-8")
    if isinstance(content, (bytes, bytearray, memoryview)):
        whole = bytes(content)
        return _Body(whole, None, len(whole))
    if isinstance(content, AsyncIterable):
        return _Body(None, content, None)
    if hasattr(content, "read"):
        length: int | None = None
        try:
            length = os.fstat(content.fileno()).st_size - content.tell()
        except (AttributeError, OSError, ValueError):
            length = None  # not a regular file: sent chunked
        return _Body(None, content, length)
    raise ClientError(
        f"cannot send a body of type {type(content).__name__}: give bytes, str, an async "
        "iterable of bytes or a binary file"
    )


async def _chunks_of(stream: StreamedBody) -> AsyncIterator[bytes]:
    """The pieces of a streamed body; a file is read in a worker thread."""
    if isinstance(stream, AsyncIterable):
        async for chunk in stream:
            yield bytes(chunk)
        return
    read = functools.partial(stream.read, _FILE_CHUNK)
    while True:
        chunk = await asyncio.to_thread(read)
        if not chunk:
            return
        yield chunk


def _ssl_context(
    verify: bool | str | ssl.SSLContext, cert: str | tuple[str, str] | None
) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        context = verify
    elif verify is True:
        context = ssl.create_default_context()
    elif verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=verify)
    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        context.load_cert_chain(certfile, keyfile)
    context.set_alpn_protocols(["http/1.1"])
    return context


def _bypasses_proxy(origin: Origin, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` lists ``origin``: ``*``, its host, a domain it is in
    (``example.com`` and ``.example.com`` both cover ``www.example.com``), with or without
    its port."""
    host = origin.host.lower()
    for entry in no_proxy.replace(" ", "").lower().split(","):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if port and port != str(origin.port):
            continue
        name = name.strip("[]").lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def _proxy_headers(route: ProxyRoute) -> list[tuple[str, str]]:
    """``Proxy-Authorization`` for the proxy's credentials, if its URL had any."""
    if route.credentials is None:
        return []
    token = base64.b64encode(":".join(route.credentials).encode()).decode("ascii")
    return [("Proxy-Authorization", f"Basic {token}")]


def _merge_headers(
    base: dict[str, tuple[str, str]], extra: HeadersArgument | None
) -> dict[str, tuple[str, str]]:
    """``base`` (lower-cased name -> (name as given, value)) with ``extra`` over it."""
    merged = dict(base)
    if extra:
        items = extra.items() if isinstance(extra, Mapping) else extra
        for name, value in items:
            merged[name.lower()] = (name, value)
    return merged


class Session:
    """An HTTP/1.1 client session: a keep-alive pool, default headers and settings.

    Use it as ``async with Session() as session:``; leaving the block closes every
    connection. ``verify`` is True (the system's trust store), False (no verification:
    for tests only), a CA file's path, or your own ``ssl.SSLContext``; ``cert`` is a
    client certificate: a file holding certificate and key, or ``(certfile, keyfile)``.
    ``proxy`` is an ``http://`` proxy for every request; without it, ``HTTP_PROXY``,
    ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` are read unless ``trust_env`` is False.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        headers: HeadersArgument | None = None,
        timeouts: Timeouts | None = None,
        pool_limits: PoolLimits | None = None,
        response_limits: ResponseLimits | None = None,
        verify: bool | str | ssl.SSLContext = True,
        cert: str | tuple[str, str] | None = None,
        follow_redirects: bool = True,
        max_redirects: int = 10,
        expect_continue_size: int | None = 1024 * 1024,
        proxy: str | None = None,
        trust_env: bool = True,
        happy_eyeballs_delay: float | None = 0.25,
        cookies: CookieJar | None = None,
    ) -> None:
        self.base_url = base_url
        self._headers = _merge_headers(
            {
                "user-agent": ("User-Agent", _USER_AGENT),
                "accept": ("Accept", "*/*"),
                "accept-encoding": ("Accept-Encoding", ACCEPT_ENCODING),
            },
            headers,
        )
        self.timeouts = timeouts or Timeouts()
        self.response_limits = response_limits or ResponseLimits()
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        #: Bodies of at least this many bytes, and streamed bodies of unknown length, are
        #: sent with ``Expect: 100-continue``; None never sends it.
        self.expect_continue_size = expect_continue_size
        self._verify = verify
        self._cert = cert
        self._ssl: ssl.SSLContext | None = None
        self._pool = ConnectionPool(pool_limits or PoolLimits(), self._connect)
        self._proxy = proxy
        #: The cookie jar: cookies servers set are sent back where they belong
        #: (``http.cookiejar`` rules). Give your own jar to share or keep it.
        self.cookies = CookieJar() if cookies is None else cookies
        #: Seconds between connection attempts to a host's addresses (RFC 8305, "happy
        #: eyeballs"); None tries them one after the other.
        self.happy_eyeballs_delay = happy_eyeballs_delay
        # HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY (either case), read once.
        self._environment_proxies = getproxies_environment() if trust_env else {}

    @property
    def pool(self) -> ConnectionPool:
        """The connection pool (to look at; the session owns it)."""
        return self._pool

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every connection; the session cannot be used afterwards."""
        self._pool.close()

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = _ssl_context(self._verify, self._cert)
        return self._ssl

    async def _connect(self, route: Route) -> HTTPConnection:
        timeout = self.timeouts.connect
        if isinstance(route, ProxyRoute):
            connection = await open_connection(
                route.proxy,
                limits=self.response_limits,
                ssl_context=None,
                timeout=timeout,
                happy_eyeballs_delay=self.happy_eyeballs_delay,
            )
            if route.target is not None:
                try:
                    await connection.open_tunnel(
                        route.target, _proxy_headers(route), self._ssl_context(), timeout
                    )
                except BaseException:
                    connection.close()
                    raise
        else:
            context = self._ssl_context() if route.is_tls else None
            connection = await open_connection(
                route,
                limits=self.response_limits,
                ssl_context=context,
                timeout=timeout,
                happy_eyeballs_delay=self.happy_eyeballs_delay,
            )
        connection.route = route
        return connection

    def _route_for(self, origin: Origin) -> Route:
        """The way to ``origin``: straight, or through the proxy configured for it."""
        proxy_url = self._proxy
        if proxy_url is None:
            environment = self._environment_proxies
            proxy_url = environment.get(origin.scheme) or environment.get("all")
            if proxy_url is None or _bypasses_proxy(origin, environment.get("no", "")):
                return origin
        if "://" not in proxy_url:
            proxy_url = "http://" + proxy_url  # "proxy:3128", as curl reads it
        if not proxy_url.lower().startswith("http://"):
            raise InvalidURL(f"cannot use the proxy {proxy_url!r}: only http:// proxies are")
        proxy = parse_url(proxy_url)
        target = origin if origin.is_tls else None
        return ProxyRoute(proxy.origin, target, proxy.credentials)

    # -- the shortcuts ------------------------------------------------------------------

    async def get(self, url: str, **options: Any) -> Response:
        """``GET url``; see :meth:`request` for the options."""
        return await self.request("GET", url, **options)

    async def head(self, url: str, **options: Any) -> Response:
        """``HEAD url``."""
        return await self.request("HEAD", url, **options)

    async def options(self, url: str, **options: Any) -> Response:
        """``OPTIONS url``."""
        return await self.request("OPTIONS", url, **options)

    async def post(self, url: str, **options: Any) -> Response:
        """``POST url``; give the body as ``json=``, ``data=`` or ``content=``."""
        return await self.request("POST", url, **options)

    async def put(self, url: str, **options: Any) -> Response:
        """``PUT url``."""
        return await self.request("PUT", url, **options)

    async def patch(self, url: str, **options: Any) -> Response:
        """``PATCH url``."""
        return await self.request("PATCH", url, **options)

    async def delete(self, url: str, **options: Any) -> Response:
        """``DELETE url``."""
        return await self.request("DELETE", url, **options)

    # -- requests -----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: QueryParams | None = None,
        headers: HeadersArgument | None = None,
        json: Any = _MISSING,
        data: Any = None,
        content: Content | None = None,
        timeouts: Timeouts | None = None,
        follow_redirects: bool | None = None,
    ) -> Response:
        """Send a request and read the whole response body.

        ``params`` are added to the URL's query; the body is one of ``json=`` (sent as
        JSON), ``data=`` (a mapping or pairs: a form, ``application/x-www-form-urlencoded``;
        bytes or str: sent as they are) or ``content=`` (bytes, str, an async iterable of
        bytes or a binary file, streamed). Raises a :class:`ClientError` subclass when
        no response could be had; a 4xx or 5xx is a response (see
        :meth:`Response.raise_for_status`).
        """
        timeouts = timeouts or self.timeouts
        if timeouts.total is None:
            response = await self._request(
                method, url, params, headers, json, data, content, timeouts, follow_redirects
            )
            await response.read()
            return response
        try:
            async with asyncio.timeout(timeouts.total) as scope:
                response = await self._request(
                    method, url, params, headers, json, data, content, timeouts, follow_redirects
                )
                await response.read()
                return response
        except TimeoutError:
            if scope.expired():
                raise TotalTimeout(
                    f"{method} {url} took longer than {timeouts.total} s (Timeouts.total)"
                ) from None
            raise

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        params: QueryParams | None = None,
        headers: HeadersArgument | None = None,
        json: Any = _MISSING,
        data: Any = None,
        content: Content | None = None,
        timeouts: Timeouts | None = None,
        follow_redirects: bool | None = None,
    ) -> AsyncIterator[Response]:
        """Send a request; the response comes before its body, which you stream.

        Use as ``async with session.stream("GET", url) as response:`` and iterate
        ``response.iter_bytes()`` inside; the connection goes back to the pool when the
        block ends (closed, if the body was not read to its end).
        """
        timeouts = timeouts or self.timeouts
        try:
            async with asyncio.timeout(timeouts.total) as scope:
                response = await self._request(
                    method, url, params, headers, json, data, content, timeouts, follow_redirects
                )
        except TimeoutError:
            if scope.expired():
                raise TotalTimeout(
                    f"{method} {url} took longer than {timeouts.total} s (Timeouts.total)"
                ) from None
            raise
        try:
            yield response
        finally:
            await response.aclose()

    async def _request(
        self,
        method: str,
        url: str,
        params: QueryParams | None,
        headers: HeadersArgument | None,
        json: Any,
        data: Any,
        content: Content | None,
        timeouts: Timeouts,
        follow_redirects: bool | None,
    ) -> Response:
        method = method.upper()
        if self.base_url is not None:
            url = urljoin(self.base_url, url)
        target = parse_url(url, params)
        body = _encode_body(json, data, content)
        fields = _merge_headers(self._headers, headers)
        if body.content_type is not None and "content-type" not in fields:
            fields["content-type"] = ("Content-Type", body.content_type)
        if target.credentials is not None and "authorization" not in fields:
            token = base64.b64encode(":".join(target.credentials).encode()).decode("ascii")
            fields["authorization"] = ("Authorization", f"Basic {token}")
        follow = self.follow_redirects if follow_redirects is None else follow_redirects
        history: list[Response] = []
        while True:
            response = await self._send(method, target, fields, body, timeouts)
            if not follow or response.status_code not in _REDIRECTS:
                break
            location = response.headers.get("location")
            if location is None:
                break
            if len(history) >= self.max_redirects:
                await response.aclose()
                raise TooManyRedirects(
                    f"more than {self.max_redirects} redirects, the last from {target.url} "
                    f"to {location}; raise max_redirects or give follow_redirects=False"
                )
            status = response.status_code
            if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
                method = "GET"  # RFC 9110 15.4.2-4: the body is not sent again
                body = _Body()
                for name in _BODY_FIELDS:
                    fields.pop(name, None)
            elif not body.replayable:
                break  # a streamed body is gone: hand the redirect to the caller
            await self._finish_redirect(response)
            history.append(response)
            next_target = parse_url(urljoin(target.url, location))
            if next_target.origin != target.origin:
                fields = {
                    name: value for name, value in fields.items() if name not in _CREDENTIAL_FIELDS
                }
            target = next_target
        response.history = history
        return response

    async def _finish_redirect(self, response: Response) -> None:
        """Read a redirect's (small) body so its connection can be reused."""
        length = response.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) <= _REDIRECT_BODY_TO_READ:
            await response.read()
        else:
            await response.aclose()

    async def _send(
        self,
        method: str,
        target: RequestURL,
        fields: dict[str, tuple[str, str]],
        body: _Body,
        timeouts: Timeouts,
    ) -> Response:
        origin = target.origin
        headers = [("Host", origin.host_header), *fields.values()]
        encoded_method = method.encode("ascii")
        cookie = cookie_header(self.cookies, target.url)
        if cookie is not None and "cookie" not in fields:
            headers.append(("Cookie", cookie))
        route = self._route_for(origin)
        request_target = target.target
        if isinstance(route, ProxyRoute) and route.target is None:
            # Forwarded by the proxy: the whole URL as target (absolute-form, RFC 9112 3.2.2).
            request_target = b"http://%s%s" % (origin.host_header.encode("ascii"), target.target)
            headers += _proxy_headers(route)
        while True:
            connection = await self._pool.acquire(route, timeouts.pool)
            reused = connection.exchanges > 0
            try:
                head = await self._exchange(
                    connection, encoded_method, request_target, headers, body, timeouts
                )
            except ServerDisconnected:
                self._pool.discard(connection)
                if reused and method in _IDEMPOTENT and body.replayable:
                    continue  # the server closed an idle connection as we sent: once more
                raise
            except BaseException:
                self._pool.discard(connection)
                raise
            store_cookies(self.cookies, target.url, head)
            decoder = None
            encoding = head.get(b"content-encoding")
            if encoding is not None:
                decoder = make_decoder(
                    encoding.decode("latin-1"), self.response_limits.max_body_size, origin.host
                )
            return Response(
                head,
                method=method,
                url=target.url,
                connection=connection,
                pool=self._pool,
                decoder=decoder,
                read_timeout=timeouts.read,
            )

    async def _exchange(
        self,
        connection: HTTPConnection,
        method: bytes,
        target: bytes,
        headers: list[tuple[str, str]],
        body: _Body,
        timeouts: Timeouts,
    ) -> ResponseHead:
        core = connection.core
        if self._expects_continue(body):
            head = core.start_request(
                method,
                target,
                [*headers, ("Expect", "100-continue")],
                content_length=body.length,
            )
            connection.write(head)
            await connection.drain(timeouts.write)
            refusal = await self._wait_for_continue(connection, timeouts)
            if refusal is not None:
                core.abandon_request()  # the body was never sent: no reuse
                return refusal
            head = b""
        else:
            head = core.start_request(method, target, headers, content_length=body.length)
        if body.whole is not None:
            if body.whole:
                head += core.send_data(body.whole)
            connection.write(head + core.end_request())
            await connection.drain(timeouts.write)
        else:
            if head:
                connection.write(head)
            assert body.stream is not None
            async for chunk in _chunks_of(body.stream):
                connection.write(core.send_data(chunk))
                await connection.drain(timeouts.write)
            connection.write(core.end_request())
            await connection.drain(timeouts.write)
        while True:
            event = await connection.next_event(timeouts.read)
            if type(event) is ResponseHead and event.status_code >= 200:
                return event
            if type(event) is EndOfMessage:  # pragma: no cover - the core never does this
                raise AssertionError("a body ended before its head")

    def _expects_continue(self, body: _Body) -> bool:
        threshold = self.expect_continue_size
        if threshold is None or (body.whole is not None and not body.whole):
            return False
        return body.length is None or body.length >= threshold

    async def _wait_for_continue(
        self, connection: HTTPConnection, timeouts: Timeouts
    ) -> ResponseHead | None:
        """Wait for ``100 Continue``; return a final response that came instead, or None
        to send the body (on ``100``, or when the server said nothing in time)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeouts.expect_continue
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                event = await connection.next_event(remaining)
            except ReadTimeout:
                return None  # a server that ignores Expect: send the body anyway
            if type(event) is ResponseHead:
                if event.status_code == 100:
                    return None
                if event.status_code >= 200:
                    return event
