"""The header fields a :class:`~relays_http.Response` stands for, for gateways.

relays' own server writes a response's fields itself; a gateway that hands the
response to another server (the WSGI :class:`~relays_http.Application`, relays-asgi's
``application(tree)``) needs them as a list instead, with the same two additions the
server makes: a ``Content-Type`` when the handler set none, and its cookies.
"""

from __future__ import annotations

from ._response import Response

__all__ = ["response_fields"]


def response_fields(
    response: Response, default_content_type: str | None = None
) -> list[tuple[str, str]]:
    """*response*'s header fields as ``(name, value)`` pairs, names as they were set.

    *default_content_type* is added as ``content-type`` when the response has none
    (what its body's kind implies: ``text/html; charset=utf-8`` for text, say), and
    each cookie it set is a ``set-cookie`` field. Framing fields (``Content-Length``)
    are the caller's to add: only it knows how the body goes out.
    """
    headers = response._headers  # (not made for a response that set none)
    fields = list(headers.allitems()) if headers is not None else []
    if default_content_type is not None and (headers is None or "content-type" not in headers):
        fields.append(("content-type", default_content_type))
    cookies = response._cookies
    if cookies:
        for cookie in cookies.values():
            fields.append(("set-cookie", cookie.render()))
    return fields
