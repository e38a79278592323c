"""The session's cookie jar: the standard library's ``http.cookiejar`` rules, our messages.

``http.cookiejar.CookieJar`` already knows which cookie goes to which host, path and
scheme, and when one expires (RFC 6265's predecessors, as browsers apply them); it speaks
to ``urllib`` objects. The two small adapters here let it read our requests and
responses, so the rules are the standard library's, not a second copy of them.
"""

from __future__ import annotations

import email.message
import urllib.request
from http.cookiejar import CookieJar

from .._protocol._client import ResponseHead

__all__ = ["cookie_header", "store_cookies"]


class _SetCookies:
    """A response as ``CookieJar.extract_cookies`` reads one: ``info()`` and its fields."""

    def __init__(self, head: ResponseHead) -> None:
        self._message = email.message.Message()
        for name, value in head.headers:
            if name in (b"set-cookie", b"set-cookie2"):
                self._message[name.decode("ascii")] = value.decode("latin-1")

    def info(self) -> email.message.Message:
        return self._message


def cookie_header(jar: CookieJar, url: str) -> str | None:
    """The ``Cookie`` value the jar holds for ``url``, or None."""
    if not len(jar):
        return None  # the usual case, without building a urllib request
    request = urllib.request.Request(url)
    jar.add_cookie_header(request)
    return request.get_header("Cookie")


def store_cookies(jar: CookieJar, url: str, head: ResponseHead) -> None:
    """Keep the cookies ``head`` sets, as the jar's policy allows for ``url``."""
    if head.get(b"set-cookie") is None and head.get(b"set-cookie2") is None:
        return
    jar.extract_cookies(_SetCookies(head), urllib.request.Request(url))  # type: ignore[arg-type]
