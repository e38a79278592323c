"""The response a handler fills in or returns.

The server makes one :class:`Response` per request and hands it to the handlers
with the request; a handler sets the status, headers and cookies on it and
returns the body, or returns a :class:`Response` of its own. How a body is put on
the wire (Content-Length or chunked, the Date and Server fields, header
validation) is the server's job, not the handler's.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from ._cookies import Cookie, SameSite
from ._headers import Headers, Pairs

__all__ = ["Response"]


class Response:
    """Status, headers, cookies and body of one response.

    *body* may be ``str`` (sent as UTF-8), ``bytes``, a ``dict`` or ``list`` (sent
    as JSON), an iterator or async iterator of ``bytes``/``str`` (streamed), or
    ``None`` (empty). A ``Content-Type`` is chosen from the body's type unless
    *content_type* or a header says otherwise.
    """

    __slots__ = ("_cookies", "_headers", "body", "bytes_sent", "reason", "status")

    def __init__(
        self,
        body: Any = None,
        status: int = 200,
        *,
        headers: Mapping[str, str] | Pairs | None = None,
        content_type: str | None = None,
        reason: str = "",
    ) -> None:
        #: The body; see the class description for what it may be.
        self.body = body
        #: The status code.
        self.status = status
        #: The reason phrase; empty means the standard one for :attr:`status`.
        self.reason = reason
        #: The body bytes the server wrote, set when it has written this response (so
        #: in ``response`` event handlers): the encoded length of a whole body, the
        #: sum of a streamed body's chunks, the error page's length, 0 for ``HEAD``,
        #: 204 and 304. ``None`` before that, and for a streamed body sent while no
        #: handler listened for ``response`` (it is only counted for them).
        self.bytes_sent: int | None = None
        self._headers: Headers | None = None
        self._cookies: dict[str, Cookie] | None = None
        if headers is not None:
            self._headers = Headers(headers)
        if content_type is not None:
            self.headers["content-type"] = content_type

    @property
    def headers(self) -> Headers:
        """The header fields the handler sets (Date, Server and framing are added)."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers()
        return headers

    @property
    def cookies(self) -> dict[str, Cookie]:
        """The cookies this response sets, by name (never the client's own)."""
        cookies = self._cookies
        if cookies is None:
            cookies = self._cookies = {}
        return cookies

    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` field, if set."""
        return None if self._headers is None else self._headers.get("content-type")

    @content_type.setter
    def content_type(self, value: str) -> None:
        self.headers["content-type"] = value

    def set_cookie(
        self,
        name: str,
        value: str = "",
        *,
        path: str | None = "/",
        domain: str | None = None,
        max_age: int | None = None,
        expires: datetime.datetime | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: SameSite | None = None,
    ) -> Cookie:
        """Set a cookie (replacing one of the same name); raises :class:`ValueError`
        for a name or value that cannot be sent safely."""
        cookie = Cookie(
            name,
            value,
            path=path,
            domain=domain,
            max_age=max_age,
            expires=expires,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )
        self.cookies[name] = cookie
        return cookie

    def delete_cookie(
        self, name: str, *, path: str | None = "/", domain: str | None = None
    ) -> None:
        """Tell the client to drop cookie *name* (same *path* and *domain* as set)."""
        self.cookies[name] = Cookie(
            name,
            "",
            path=path,
            domain=domain,
            max_age=0,
            expires=datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC),
        )

    def __repr__(self) -> str:
        return f"<Response {self.status} body={type(self.body).__name__}>"
