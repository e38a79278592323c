"""The request a handler receives: what the client asked for, decoded on demand.

A :class:`Request` is made for every request, so making one is cheap: it keeps
the protocol's raw head and decodes the path, the query, the headers and the
cookies the first time a handler asks for them. By default the body has been
received in full before the ``request`` event fires (the size limit bounds it);
small bodies stay in memory, larger ones are spooled to a temporary file. A
request the server streams (see :mod:`relays_http._body`) is fired at head time
and its body read with :meth:`Request.stream` (or :meth:`Request.read`, which
collects it).
"""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from ._body import BodyConsumed, BodyStream
from ._cookies import parse_cookie_header
from ._errors import BadRequest
from ._headers import Headers, MultiDict
from ._negotiation import best_media_type

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import relays.transports

    from ._forms import FormData
    from ._limits import Limits

__all__ = ["Request", "target_parts"]

_EMPTY = b""


def target_parts(target: str) -> tuple[str, str, str]:
    """A request target's raw path, its percent-decoded path and its query:
    ``("/a%20b", "/a b", "x=1")`` for ``/a%20b?x=1``.

    The one rule for every way a request is served: :class:`Request` (its
    :attr:`~Request.raw_path`, :attr:`~Request.path` and
    :attr:`~Request.query_string`) and head takers (relays-asgi's scope) alike. The
    query is what follows the first ``?``. Before it, a target in absolute-form
    (``http://example.com/x``, RFC 9112 3.2.2, as a client sends to a proxy) has its
    path after the authority, ``/`` when it has none; any other form (``/x``, ``*``,
    ``CONNECT``'s authority) is its own path. The path is percent-decoded as UTF-8
    (:func:`urllib.parse.unquote`, invalid sequences replaced); the raw path is as
    sent. A taker with the target as bytes decodes it as Latin-1 first, which keeps
    every byte.
    """
    raw, _, query = target.partition("?")
    if raw[:1] != "/" and "://" in raw:
        rest = raw.partition("://")[2]
        slash = rest.find("/")
        raw = rest[slash:] if slash >= 0 else "/"
    return raw, unquote(raw) if "%" in raw else raw, query


class _FromConnection:
    """``remote`` or ``local`` not given: asked of the connection on first use (None is a
    UNIX peer's address, so it cannot mean "not known yet")."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<asked of sock>"


_ASK: Any = _FromConnection()
#: Bytes read from a spooled body per step of :meth:`Request.stream` (off the loop).
_READ_BLOCK = 64 * 1024
#: ``Limits.spool_threshold``'s default, for a request made by hand without limits.
_SPOOL = 1024 * 1024
_new = object.__new__  # (see Request._received)


class Request:
    """One HTTP request, as the ``request(request, response)`` event carries it.

    Attributes are plain values; :attr:`path`, :attr:`query`, :attr:`headers` and
    :attr:`cookies` are decoded on first use.
    """

    __slots__ = (
        "_body",
        "_content",
        "_context",
        "_cookies",
        "_disconnected",
        "_form",
        "_headers",
        "_limits",
        "_local",
        "_path",
        "_query",
        "_raw_headers",
        "_remote",
        "_route",
        "_scheme",
        "_stream",
        "_target",
        "http_version",
        "method",
        "received_at",
        "session",
        "sock",
    )

    def __init__(
        self,
        method: str,
        target: str,
        *,
        http_version: str = "1.1",
        headers: Headers | list[tuple[bytes, bytes]] | None = None,
        body: bytes | bytearray | IO[bytes] = b"",
        sock: relays.transports.Connection | None = None,
        remote: Any = _ASK,
        local: Any = _ASK,
        scheme: str | None = None,
        limits: Limits | None = None,
        received_at: float | None = None,
    ) -> None:
        # The server makes its requests with _received, which sets the same slots.
        #: The method, case preserved: ``"GET"``.
        self.method = method
        self._target = target
        #: ``"1.1"`` or ``"1.0"``.
        self.http_version = http_version
        if type(headers) is list:  # the protocol's lower-cased byte pairs, decoded on use
            self._headers: Headers | None = None
            self._raw_headers: list[tuple[bytes, bytes]] = headers
        elif headers is None:
            self._headers = None
            self._raw_headers = []
        else:
            self._headers = headers  # type: ignore[assignment]
            self._raw_headers = []
        if type(body) is bytes:
            self._content: bytes | None = body
            self._body: IO[bytes] | None = None
        elif isinstance(body, bytearray):
            self._content = bytes(body)
            self._body = None
        else:
            self._content = None
            self._body = body  # type: ignore[assignment]
        #: The connection handle (:class:`relays.transports.Connection`), or None.
        self.sock = sock
        # remote, local and scheme are asked of *sock* on first use when not given:
        # most handlers never look at them, and a transport may work them out only
        # when asked.
        self._remote = remote
        self._local = local
        self._scheme = scheme
        self._context: dict[str, Any] | None = None  # made on first use
        #: The request's session, set by a sessions component (``relays-sessions``)
        #: before the handlers run; ``None`` when no such component serves this path.
        self.session: Any = None
        #: When the first byte of the request head was read, in the event loop's clock
        #: (``asyncio.get_running_loop().time()``, monotonic seconds): so
        #: ``loop.time() - request.received_at`` is how long the request has taken,
        #: receiving its body included. ``None`` for a request made by hand.
        self.received_at = received_at
        self._limits = limits
        self._route: str | None = None
        self._path: str | None = None
        self._query: MultiDict | None = None
        self._cookies: dict[str, str] | None = None
        self._form: FormData | None = None
        self._stream: BodyStream | None = None
        # False, True (gone before anyone asked) or the Event made on first use.
        self._disconnected: asyncio.Event | bool = False

    @classmethod
    def _received(
        cls,
        method: str,
        target: str,
        http_version: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes | IO[bytes],
        sock: relays.transports.Connection,
        limits: Limits,
        received_at: float,
    ) -> Request:
        """``Request(method, target, http_version=..., headers=..., ...)`` as the server
        makes one per request, without the class call's machinery.

        Kept because it is measured: calling the class with keywords goes through
        ``type.__call__`` and a keyword dict, about 2,900 machine instructions more per
        request, 3.4% of the pipelined row of ``benchmarks/http_dispatch.py
        --instructions``. It sets every slot to what ``__init__`` sets for the same
        arguments; ``test_request.py`` compares the two slot by slot.
        """
        request = _new(cls)
        request.method = method
        request._target = target
        request.http_version = http_version
        request._headers = None
        request._raw_headers = headers
        if type(body) is bytes:
            request._content = body
            request._body = None
        else:
            request._content = None
            request._body = body  # type: ignore[assignment]
        request.sock = sock
        request._remote = _ASK
        request._local = _ASK
        request._scheme = None
        request._context = None
        request.session = None
        request.received_at = received_at
        request._limits = limits
        request._route = None
        request._path = None
        request._query = None
        request._cookies = None
        request._form = None
        request._stream = None
        request._disconnected = False
        return request

    def _stream_from(self, stream: BodyStream) -> None:
        """The server streams this request's body: it comes from *stream*."""
        self._stream = stream
        self._content = None
        self._body = None

    # -- the connection --------------------------------------------------------------

    @property
    def remote(self) -> Any:
        """The peer's address: ``(host, port)`` for IP, a path or None for UNIX."""
        remote = self._remote
        if remote is _ASK:  # not given: ask the connection, once
            sock = self.sock
            remote = self._remote = None if sock is None else sock.peer
        return remote

    @remote.setter
    def remote(self, value: Any) -> None:
        self._remote = value

    @property
    def local(self) -> Any:
        """Our own address for this connection."""
        local = self._local
        if local is _ASK:
            sock = self.sock
            local = self._local = None if sock is None else sock.local
        return local

    @local.setter
    def local(self, value: Any) -> None:
        self._local = value

    @property
    def scheme(self) -> str:
        """``"http"`` or ``"https"``."""
        scheme = self._scheme
        if scheme is None:
            sock = self.sock
            scheme = self._scheme = "https" if sock is not None and sock.secure else "http"
        return scheme

    @scheme.setter
    def scheme(self, value: str) -> None:
        self._scheme = value

    @property
    def context(self) -> dict[str, Any]:
        """Free for handlers and dispatchers to share data about this request."""
        context = self._context
        if context is None:
            context = self._context = {}
        return context

    @context.setter
    def context(self, value: dict[str, Any]) -> None:
        self._context = value

    @property
    def disconnected(self) -> asyncio.Event:
        """Set when the client goes away before its request is answered.

        ``await request.disconnected.wait()`` to learn it, ``is_set()`` to ask: async
        handlers are cancelled then anyway, unless :func:`~relays_http.shielded`. Never
        set for a request made by hand.
        """
        disconnected = self._disconnected
        if type(disconnected) is bool:  # made on first use: most handlers never ask
            event = asyncio.Event()
            if disconnected:
                event.set()
            self._disconnected = event
            return event
        return disconnected

    def _client_gone(self) -> None:
        """The connection closed before this request was answered."""
        disconnected = self._disconnected
        if type(disconnected) is bool:
            self._disconnected = True
        else:
            disconnected.set()

    # -- the target ------------------------------------------------------------------

    @property
    def target(self) -> str:
        """The request-target exactly as sent: ``"/a%20b?x=1"``."""
        return self._target

    @property
    def raw_path(self) -> str:
        """The path, still percent-encoded, without the query (as :meth:`rewrite` left it)."""
        route = self._route
        if route is not None:
            return route
        return target_parts(self._target)[0]

    @property
    def path(self) -> str:
        """The path, percent-decoded: ``"/a b"`` for ``/a%20b?x=1`` (see
        :func:`~relays_http.target_parts`)."""
        path = self._path
        if path is None:
            route = self._route  # a rewritten path: no query, no absolute-form
            path = self._path = target_parts(self._target if route is None else route)[1]
        return path

    @property
    def original_path(self) -> str:
        """The path the client sent, percent-decoded, even after :meth:`rewrite`."""
        return target_parts(self._target)[1]

    def rewrite(self, *, path: str | None = None, host: str | None = None) -> None:
        """Change where the request goes: its *path* and the *host* it is for.

        For the components that route a request before its handlers see it:
        :class:`~relays_http.VirtualHosts` puts a site's prefix before the path,
        :class:`~relays_http.TrustedProxies` sets the host a proxy reports, and a
        rewrite rule of yours may do either. *path* is percent-encoded, starts with
        ``/`` and has no query (the query is kept); afterwards :attr:`raw_path` and
        :attr:`path` are the new path (what the dispatcher and the WSGI gateway
        route), while :attr:`target`, :attr:`original_path` and :attr:`url` stay
        what the client asked for. *host* (``"example.com:8080"``) replaces the
        ``Host`` field, and so :attr:`host` and :attr:`url`. Raises
        :class:`ValueError` for a path or host that could not have been sent.
        """
        if path is not None:
            if (
                not path.startswith("/")
                or not path.isascii()
                or any(char in path for char in "?# \t\r\n\x00\x7f")
            ):
                raise ValueError(
                    f"a rewritten path is percent-encoded ASCII starting with '/', with no "
                    f"query, spaces or control characters: {path!r}"
                )
            self._route = path
            self._path = None
        if host is not None:
            if not host or not host.isascii() or any(char in host for char in "/?#@ \t\r\n\x00"):
                raise ValueError(f"a host is like 'example.com' or '[::1]:8080', not {host!r}")
            encoded = host.encode("ascii")
            if self._raw_headers:
                raw = [pair for pair in self._raw_headers if pair[0] != b"host"]
                raw.insert(0, (b"host", encoded))
                self._raw_headers = raw
                self._headers = None
                self._cookies = None
            else:
                self.headers["Host"] = host

    @property
    def query_string(self) -> str:
        """The query as sent, without ``?``: ``"x=1&x=2"``."""
        return self._target.partition("?")[2]  # target_parts' query, without the path

    @property
    def query(self) -> MultiDict:
        """The query fields; repeated names keep every value (``getall``)."""
        query = self._query
        if query is None:
            text = self.query_string
            query = self._query = MultiDict(
                parse_qsl(text, keep_blank_values=True) if text else None
            )
        return query

    # -- the head --------------------------------------------------------------------

    @property
    def headers(self) -> Headers:
        """The header fields, case-insensitive and multi-valued."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers._from_received(self._raw_headers)
        return headers

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The header fields as ``(lower-case name, value)`` bytes pairs, in order.

        What gateways hand on (an ASGI scope's ``headers``) without making
        :attr:`headers` first; a change made through :attr:`headers` is included.
        A new list each time: changing it changes nothing.
        """
        headers = self._headers
        if headers is None:
            return list(self._raw_headers)
        return [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.allitems()
        ]

    def header(self, name: bytes) -> bytes | None:
        """The first raw value of field *name* (lower-case bytes): fast, no decoding."""
        for field_name, value in self._raw_headers:
            if field_name == name:
                return value
        if self._headers is not None and not self._raw_headers:
            text = self._headers.get(name.decode("latin-1"))
            return None if text is None else text.encode("latin-1")
        return None

    @property
    def cookies(self) -> dict[str, str]:
        """The client's cookies (``Cookie`` fields), name to value; read-only by intent."""
        cookies = self._cookies
        if cookies is None:
            cookies = {}
            for value in self.headers.getall("cookie"):
                for name, cookie in parse_cookie_header(value).items():
                    cookies.setdefault(name, cookie)
            self._cookies = cookies
        return cookies

    @property
    def host(self) -> str:
        """The ``Host`` field (``"example.com:8080"``), else our own address.

        For a target in absolute-form (``GET http://example.com/x``, as sent to
        proxies) it is the target's authority, whatever ``Host`` says: RFC 9112 3.2.2
        makes the target win, and :attr:`url` agrees.
        """
        authority = self._target_authority()
        if authority is not None:
            return authority
        raw = self.header(b"host")
        if raw:
            return raw.decode("latin-1")
        local = self.local
        if isinstance(local, tuple):
            host, port = str(local[0]), local[1]
            if ":" in host:
                host = f"[{host}]"
            return f"{host}:{port}"
        return "localhost"

    def _target_authority(self) -> str | None:
        """The authority of an absolute-form target (no user info), else None."""
        target = self._target
        if target[:1] == "/" or "://" not in target:
            return None
        rest = target.partition("://")[2]
        end = len(rest)
        for delimiter in "/?#":
            found = rest.find(delimiter)
            if 0 <= found < end:
                end = found
        return rest[:end].rpartition("@")[2]

    @property
    def url(self) -> str:
        """The full URL: ``"https://example.com/a%20b?x=1"``."""
        target = self._target
        if target[:1] != "/":
            return target if "://" in target else f"{self.scheme}://{self.host}"
        return f"{self.scheme}://{self.host}{target}"

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-cased, without parameters: ``"text/plain"``."""
        value = self.header(b"content-type")
        if not value:
            return ""
        return value.decode("latin-1").partition(";")[0].strip().lower()

    def accepts(self, *media_types: str) -> str | None:
        """The one of *media_types* (yours, in your order of preference) that the
        client's ``Accept`` weighs highest, with q-values; None when it accepts none
        (answer 406, or your default). Without ``Accept``, the first."""
        value = self.header(b"accept")
        return best_media_type(None if value is None else value.decode("latin-1"), media_types)

    @property
    def keep_alive(self) -> bool:
        """Whether the client asked to keep the connection open."""
        connection = (self.header(b"connection") or b"").lower()
        if self.http_version == "1.0":
            return b"keep-alive" in connection
        return b"close" not in connection

    # -- the body --------------------------------------------------------------------

    @property
    def streamed(self) -> bool:
        """Whether the body arrives after the ``request`` event (the server streams it:
        see :meth:`stream`); False once :meth:`read` has collected it."""
        return self._stream is not None

    @property
    def expected_length(self) -> int | None:
        """The body size the client announced (``Content-Length``), or None (chunked,
        or no field): what a streaming handler checks before it reads anything."""
        value = self.header(b"content-length")
        if value is None or not value.isdigit():
            return None
        return int(value)

    def stream(self) -> AsyncIterator[bytes]:
        """The body as an async iterator of bytes: ``async for chunk in request.stream()``.

        For a streamed request (:attr:`streamed`) the chunks come as the client
        sends them, and nothing is asked of the client before the first one is
        awaited (a ``100 Continue`` goes out then): a handler that answers without
        reading (a 413 for an :attr:`expected_length` it will not take) never
        receives the body. Reading slowly holds the client back. It can be taken
        once (:class:`~relays_http.BodyConsumed` otherwise); a client that goes away
        raises :class:`~relays_http.ClientDisconnected`, a body that breaks a limit
        the :class:`~relays_http.HTTPError` it was answered with. For a buffered
        request it yields the received body (nothing for an empty one).
        """
        stream = self._stream
        if stream is not None:
            return stream.take()
        return self._buffered_chunks()

    async def _buffered_chunks(self) -> AsyncIterator[bytes]:
        content = self._content
        if content is not None:
            if content:
                yield content
            return
        body = self.body
        body.seek(0)
        while True:
            block = await asyncio.to_thread(body.read, _READ_BLOCK)
            if not block:
                return
            yield block

    def _unread(self) -> BodyConsumed:
        return BodyConsumed(
            f"the body of {self!r} is streamed: take it with 'async for chunk in "
            "request.stream()', or 'await request.read()' before using request.content, "
            "request.body or request.content_length"
        )

    @property
    def body(self) -> IO[bytes]:
        """The body as a binary file positioned at its start (may be on disk)."""
        body = self._body
        if body is None:
            if self._stream is not None:
                raise self._unread()
            body = self._body = io.BytesIO(self._content or _EMPTY)
        return body

    @property
    def content(self) -> bytes:
        """The whole body as bytes (reads the spooled file when there is one)."""
        content = self._content
        if content is None:
            body = self.body
            position = body.tell()
            body.seek(0)
            content = self._content = body.read()
            body.seek(position)
        return content

    @property
    def content_length(self) -> int:
        """The size of the body in bytes."""
        if self._content is not None:
            return len(self._content)
        body = self.body
        position = body.tell()
        size = body.seek(0, io.SEEK_END)
        body.seek(position)
        return size

    async def read(self) -> bytes:
        """The whole body as bytes; a spooled body is read off the event loop.

        A streamed request's body is received here, in full (spooled to a temporary
        file past ``Limits.spool_threshold``, as the server does for buffered ones);
        afterwards the request is like a buffered one.
        """
        if self._stream is not None:
            await self._collect_stream()
        if (
            self._content is None
            and self._body is not None
            and not isinstance(self._body, io.BytesIO)
        ):
            return await asyncio.to_thread(lambda: self.content)
        return self.content

    async def _collect_stream(self) -> None:
        """Receive a streamed body in full, as the server would have before the event."""
        stream = self._stream
        assert stream is not None
        threshold = self._limits.spool_threshold if self._limits is not None else _SPOOL
        chunks: list[bytes] = []
        size = 0
        spool: IO[bytes] | None = None
        try:
            async for chunk in stream.take():
                size += len(chunk)
                if spool is not None:
                    await asyncio.to_thread(spool.write, chunk)
                elif size > threshold:
                    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the request
                    chunks.append(chunk)
                    await asyncio.to_thread(spool.writelines, chunks)
                    chunks = []
                else:
                    chunks.append(chunk)
        except BaseException:
            if spool is not None:
                spool.close()
            raise
        self._stream = None
        if spool is not None:
            spool.seek(0)
            self._body = spool
        else:
            self._content = b"".join(chunks)

    async def text(self, encoding: str | None = None) -> str:
        """The body decoded with *encoding*, else the ``charset`` parameter, else UTF-8.

        Raises :class:`BadRequest` when the body does not decode.
        """
        data = await self.read()
        charset = encoding or self._charset() or "utf-8"
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, LookupError):
            raise BadRequest(f"the request body is not valid {charset} text") from None

    async def json(self) -> Any:
        """The body parsed as JSON; :class:`BadRequest` when it is not JSON."""
        data = await self.read()
        try:
            return json.loads(data)
        except (ValueError, RecursionError) as error:
            raise BadRequest(f"the request body is not valid JSON: {error}") from None

    async def form(self) -> FormData:
        """The fields and files of a urlencoded or multipart form body.

        Raises :class:`BadRequest` (also a :class:`ValueError`) naming the field
        that was wrong, :class:`~relays_http.PayloadTooLarge` when a form limit is
        exceeded. An empty :class:`FormData` when the body is not a form.

        A streamed request's body is received first (spooled to a temporary file
        past ``Limits.spool_threshold``); its file parts then go to temporary
        files of their own past the same threshold.
        """
        form = self._form
        if form is None:
            from ._forms import parse_form

            if self._stream is not None:
                await self._collect_stream()
            form = self._form = await parse_form(self, self._limits)
        return form

    def _charset(self) -> str | None:
        value = self.header(b"content-type")
        if not value:
            return None
        for parameter in value.decode("latin-1").split(";")[1:]:
            key, _, charset = parameter.partition("=")
            if key.strip().lower() == "charset":
                return charset.strip().strip('"') or None
        return None

    def close(self) -> None:
        """Release the spooled body and uploaded files (the server calls it when done)."""
        if self._form is not None:
            self._form.close()
        if self._body is not None:
            self._body.close()

    def __repr__(self) -> str:
        return f"<Request {self.method} {self._target} HTTP/{self.http_version}>"
