"""A received response: status, headers, and a body read in full or streamed."""

from __future__ import annotations

import codecs
import json as _json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .._protocol import Data
from .._protocol._client import ResponseHead
from ._decoding import BodyDecoder
from ._errors import ClientError, HTTPStatusError

if TYPE_CHECKING:
    from ._connection import HTTPConnection
    from ._pool import ConnectionPool

__all__ = ["Headers", "Response", "ResponseNotRead"]


class ResponseNotRead(ClientError):
    """``content``, ``text`` or ``json()`` of a streamed response before ``read()``."""


class Headers(Mapping[str, str]):
    """Response header fields: case-insensitive, the first value of a repeated name.

    :meth:`get_all` returns every value of a name; :attr:`raw` the fields as received
    (lower-cased names, bytes).
    """

    __slots__ = ("_first", "raw")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        #: The fields as received: ``(lower-cased name, value)`` bytes pairs, in order.
        self.raw = raw
        self._first: dict[str, str] | None = None

    def _fields(self) -> dict[str, str]:
        first = self._first
        if first is None:
            first = {}
            for name, value in self.raw:
                first.setdefault(name.decode("latin-1"), value.decode("latin-1"))
            self._first = first
        return first

    def __getitem__(self, name: str) -> str:
        return self._fields()[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields())

    def __len__(self) -> int:
        return len(self._fields())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields()

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in the order received."""
        wanted = name.lower().encode("latin-1")
        return [value.decode("latin-1") for field, value in self.raw if field == wanted]

    def __repr__(self) -> str:
        return f"Headers({self.raw!r})"


class Response:
    """The answer to a request.

    :meth:`Session.request` and its shortcuts return it with the body read, so
    :attr:`content`, :attr:`text` and :meth:`json` work at once. :meth:`Session.stream`
    returns it before the body: iterate :meth:`iter_bytes` (or call :meth:`read`)
    inside its ``async with`` block, which gives the connection back at the end.
    """

    def __init__(
        self,
        head: ResponseHead,
        *,
        method: str,
        url: str,
        connection: HTTPConnection | None,
        pool: ConnectionPool | None,
        decoder: BodyDecoder | None,
        read_timeout: float | None,
    ) -> None:
        #: The status code, ``200``.
        self.status_code = head.status_code
        #: The reason phrase as sent, ``"OK"`` (it carries no meaning).
        self.reason = head.reason.decode("latin-1")
        #: ``"1.1"`` or ``"1.0"``.
        self.http_version = head.http_version.decode("ascii")
        #: The header fields.
        self.headers = Headers(head.headers)
        #: The method of the request this answers.
        self.method = method
        #: The URL this response came from (the last one, after redirects).
        self.url = url
        #: The redirect responses that led here, oldest first.
        self.history: list[Response] = []
        #: The trailer fields of a chunked body, once it was read to its end.
        self.trailers: list[tuple[bytes, bytes]] = []
        self._connection = connection
        self._pool = pool
        self._decoder = decoder
        self._read_timeout = read_timeout
        self._content: bytes | None = None
        self._consumed = False

    @property
    def status(self) -> int:
        """The status code under the name relays' server side and aiohttp give it.

        The same number as :attr:`status_code` (httpx's name), so code written for
        either client, or for a relays page's ``response.status``, reads it as it is.
        """
        return self.status_code

    def __repr__(self) -> str:
        return f"<Response {self.status_code} {self.reason} from {self.url}>"

    # -- body -----------------------------------------------------------------------------

    async def iter_raw(self) -> AsyncIterator[bytes]:
        """The body's pieces as they arrive, still content-encoded."""
        if self._consumed:
            raise ClientError("the body of this response was already read or closed")
        self._consumed = True
        connection = self._connection
        if connection is None:
            return
        try:
            while True:
                event = await connection.next_event(self._read_timeout)
                if type(event) is Data:
                    yield event.data
                else:
                    self.trailers = list(event.trailers)  # type: ignore[union-attr, arg-type]
                    break
        except BaseException:
            self._give_back(clean=False)
            raise
        self._give_back(clean=True)

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """The body's pieces as they arrive, decompressed (``gzip``, ``br``, ...)."""
        if self._content is not None:
            if self._content:
                yield self._content
            return
        decoder = self._decoder
        if decoder is None:
            async for chunk in self.iter_raw():
                yield chunk
            return
        async for chunk in self.iter_raw():
            decoded = decoder.decode(chunk)
            if decoded:
                yield decoded
        rest = decoder.flush()
        if rest:
            yield rest

    async def read(self) -> bytes:
        """Read the whole (decompressed) body and return it; later calls return it again."""
        if self._content is None:
            chunks = [chunk async for chunk in self.iter_bytes()]
            self._content = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self._content

    async def aclose(self) -> None:
        """Stop reading: an unread body closes its connection rather than block it."""
        if not self._consumed:
            self._consumed = True
            self._give_back(clean=False)

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _give_back(self, *, clean: bool) -> None:
        connection, pool = self._connection, self._pool
        self._connection = None
        if connection is None or pool is None:
            return
        if clean:
            pool.release(connection)
        else:
            pool.discard(connection)

    # -- the read body --------------------------------------------------------------------

    @property
    def content(self) -> bytes:
        """The whole body, decompressed; a streamed response must be :meth:`read` first."""
        if self._content is None:
            raise ResponseNotRead(
                "the body of a streamed response is not read yet: await response.read() first"
            )
        return self._content

    @property
    def encoding(self) -> str:
        """The charset the text is decoded with: ``Content-Type``'s, else UTF-8."""
        content_type = self.headers.get("content-type", "")
        for parameter in content_type.split(";")[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "charset":
                charset = value.strip().strip('"')
                try:
                    return codecs.lookup(charset).name
                except LookupError:
                    break
        return "utf-8"

    @property
    def text(self) -> str:
        """The body decoded with :attr:`encoding`; bytes it cannot decode become U+FFFD."""
        return self.content.decode(self.encoding, errors="replace")

    def json(self, **options: Any) -> Any:
        """The body parsed as JSON (UTF-8, -16 or -32, as RFC 8259 allows)."""
        return _json.loads(self.content, **options)

    # -- status -------------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        """Whether the status is below 400."""
        return self.status_code < 400

    @property
    def is_redirect(self) -> bool:
        """Whether this is a redirect with a ``Location`` to follow."""
        return self.status_code in (301, 302, 303, 307, 308) and "location" in self.headers

    def raise_for_status(self) -> Response:
        """Raise :class:`HTTPStatusError` for a 4xx or 5xx status; return self otherwise."""
        if self.status_code >= 400:
            kind = "client error" if self.status_code < 500 else "server error"
            raise HTTPStatusError(
                f"{self.status_code} {self.reason} ({kind}) from {self.method} {self.url}",
                response=self,
            )
        return self
