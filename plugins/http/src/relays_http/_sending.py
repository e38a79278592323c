"""Answering: a request handler's result becomes a response on the wire.

Theory of operation
-------------------
The ``request`` event's value is watched (:meth:`Session.answered
<relays_http._server.Session.answered>` calls :func:`answer`). Its first result
(see :class:`~relays_http.events.RequestEvent`) becomes the response.

Hook. While something listens for it, ``before_response(request, response,
result)`` is fired after the handlers' value is done and before anything is
written; a value from it replaces the answer.

Bodies. bytes, str and JSON bodies are framed with Content-Length and written
with a single ``sock.write``. Iterators and async iterators get their head
written here and are streamed by :mod:`relays_http._streaming`. ``None`` is a
404, an :class:`~relays_http.HTTPError` its error page, and any exception (a
handler's, or a body we cannot encode) a 500 page, with the traceback only in
debug mode. The protocol core validates every header the app set (no CR/LF
injection): a head it refuses is logged and replaced by a plain 500. After the
response the component's ``_sent`` starts the next cycle or closes the
connection.

Every function here takes the :class:`~relays_http.HTTP` component whose
connection it answers, for its settings and its flags.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Iterator
from email.utils import formatdate
from functools import partial
from typing import TYPE_CHECKING, Any

from relays import Value

from . import _protocol as protocol
from ._errors import HTTPError, InternalServerError, NotFound, prefers_json, render_error_body
from ._request import Request
from ._response import Response
from ._streaming import close_iterator, start_stream
from ._upgrade import SwitchProtocols
from .events import BeforeResponseEvent

if TYPE_CHECKING:
    from ._server import HTTP, Session

__all__ = ["answer"]

logger = logging.getLogger("relays.http")

_wall_clock = time.time

_ProtocolResponse = protocol.Response

_HTML = b"text/html; charset=utf-8"
_JSON = b"application/json"
_OCTETS = b"application/octet-stream"
_INTERNAL_ERROR = b"500 Internal Server Error\n"


def _date_line(now: int) -> bytes:
    """The ``Date`` field line for the second *now*."""
    return b"date: %s\r\n" % formatdate(now, usegmt=True).encode("ascii")


def answer(session: Session, value: Value) -> None:
    """The ``request`` (or an answering ``before_request``) *value* is done: respond.

    It is :meth:`Session.answered <relays_http._server.Session.answered>` itself, so
    the done callback costs one call.
    """
    http = session.http
    request, response = value.event.args
    if session.closed:
        request.close()
        return
    failed = value.errors
    result = value.result
    if type(result) is list and not failed:  # one handler's list, or several answers
        results = value.results
        result = results[0] if results else None
    if http._watch_before_response:
        _before_response(http, session, request, response, result, failed)
        return
    # The usual answers, bytes and str, as _respond sends them, one call sooner.
    kind = type(result)
    if failed or (kind is not bytes and kind is not str):
        _respond(http, session, request, response, result, failed)
        return
    try:
        if kind is bytes:
            _send_whole(http, session, response, result, _OCTETS)
        else:
            _send_whole(http, session, response, result.encode("utf-8"), _HTML)
    except Exception as error:  # as in _respond
        _send_error(http, session, request, response, error)


def _before_response(
    http: HTTP, session: Session, request: Request, response: Response, result: Any, failed: bool
) -> None:
    """Fire ``before_response``; respond when it is done.

    (A function of its own: a closure in :func:`answer` would make its cells on every
    call, hook or not.)
    """
    hook = http.fire(BeforeResponseEvent(request, response, result))
    hook.add_done_callback(partial(_hooked, http, session, request, response, result, failed))


def _hooked(
    http: HTTP,
    session: Session,
    request: Request,
    response: Response,
    result: Any,
    failed: bool,
    value: Value,
) -> None:
    """``before_response`` is done: send what it left, or what it replaced."""
    if session.closed:
        request.close()
    elif value.errors:
        _respond(http, session, request, response, value.result, True)
    else:
        results = value.results
        if results:
            result, failed = results[0], False
        _respond(http, session, request, response, result, failed)


def _respond(
    http: HTTP,
    session: Session,
    request: Request,
    response: Response,
    result: Any,
    failed: bool,
) -> None:
    if failed:  # a handler raised: the kernel reported it (exception event)
        _send_error(http, session, request, response, result, reported=True)
        return
    try:
        kind = type(result)
        if kind is bytes:
            _send_whole(http, session, response, result, _OCTETS)
        elif kind is str:
            _send_whole(http, session, response, result.encode("utf-8"), _HTML)
        elif result is None:
            _send_error(http, session, request, response, NotFound())
        elif isinstance(result, Response):
            _send_body(http, session, request, result, result.body)
        elif isinstance(result, HTTPError):
            _send_error(http, session, request, response, result)
        else:
            _send_body(http, session, request, response, result)
    except Exception as error:  # a body we cannot encode: the app's bug, a 500
        _send_error(http, session, request, response, error)


def _send_body(
    http: HTTP, session: Session, request: Request, response: Response, body: Any
) -> None:
    """Send a body of any type a handler may give (``None`` is empty here)."""
    if body is None:
        _send_whole(http, session, response, b"", None)
    elif isinstance(body, str):
        _send_whole(http, session, response, body.encode("utf-8"), _HTML)
    elif isinstance(body, bytes | bytearray | memoryview):
        _send_whole(http, session, response, bytes(body), _OCTETS)
    elif isinstance(body, dict | list):
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        _send_whole(http, session, response, data, _JSON)
    elif isinstance(body, HTTPError):
        _send_error(http, session, request, response, body)
    elif isinstance(body, SwitchProtocols):
        _switch_protocols(http, session, request, body)
    elif hasattr(body, "__aiter__") or isinstance(body, Iterator) or hasattr(body, "__iter__"):
        _send_stream(http, session, response, body)
    else:
        raise TypeError(
            f"a request handler returned {type(body).__name__}; return str, bytes, a dict "
            "or list (JSON), an iterator or async iterator, a Response, an HTTPError or "
            "SwitchProtocols"
        )


def _fields(
    http: HTTP, response: Response, content_type: bytes | None
) -> list[tuple[bytes | str, bytes | str]]:
    fields: list[tuple[bytes | str, bytes | str]] = []
    headers = response._headers
    if headers is not None:
        for key, name, value in headers._pairs:
            if key == "content-type":
                content_type = None
            fields.append((name, value))
    if content_type is not None:
        fields.append((b"content-type", content_type))
    if http._stopping:  # tell keep-alive clients not to send another request
        fields.append((b"connection", b"close"))
    cookies = response._cookies
    if cookies:
        for cookie in cookies.values():
            fields.append((b"set-cookie", cookie.render()))
    return fields


def _stock_fields(http: HTTP) -> bytes:
    """``Server`` and ``Date`` lines, one bytes object per second (the core
    checks a rendered value once, and the object keeps its hash).

    The second is the clock floored as a float: ``int()`` would cost more than the
    rest of this function. Any change renews the lines, backwards too (the clock
    was set back)."""
    second = _wall_clock() // 1.0
    stock = http._stock
    if stock[0] != second:
        stock = http._stock = (second, http._server_line + _date_line(int(second)))
    return stock[1]


def _send_whole(
    http: HTTP, session: Session, response: Response, body: bytes, content_type: bytes | None
) -> None:
    """Write a response with a body known in full, in one write.

    A head the core refuses (the app set a bad field) is logged and replaced by a
    plain 500.
    """
    status = response.status
    if status == 204 or status == 304:
        body = b""
    stock = http._stock  # this second's, else _stock_fields renders them
    rendered = stock[1] if stock[0] == _wall_clock() // 1.0 else _stock_fields(http)
    try:
        data = session.send_whole_parts(
            status,
            _fields(http, response, content_type),
            body,
            response.reason.encode("latin-1") if response.reason else b"",
            rendered,
        )
    except (protocol.LocalProtocolError, UnicodeEncodeError, TypeError) as error:
        logger.error("cannot send %r: %s", response, error)
        _send_internal_error(http, session)
        return
    session.sock.write(data)
    http._sent(session, response, len(body))


def _send_internal_error(http: HTTP, session: Session) -> None:
    """The app's response head was invalid (logged): a plain 500, no app fields.

    Its own fields are constants the core always accepts, so this cannot fail.
    """
    page = Response(status=500)
    fields = _fields(http, page, b"text/plain; charset=utf-8")
    head = _ProtocolResponse(500, fields, b"", _stock_fields(http))
    session.sock.write(session.send_whole(head, _INTERNAL_ERROR))
    http._sent(session, page, len(_INTERNAL_ERROR))


def _send_stream(http: HTTP, session: Session, response: Response, body: Any) -> None:
    """Write the head of a streamed response, then start streaming *body*."""
    fields = _fields(http, response, _OCTETS)
    try:
        head = session.send(
            _ProtocolResponse(
                response.status,
                fields,
                response.reason.encode("latin-1"),
                _stock_fields(http),
            )
        )
    except (protocol.LocalProtocolError, UnicodeEncodeError, TypeError) as error:
        logger.error("cannot send %r: %s", response, error)
        close_iterator(body)
        _send_internal_error(http, session)
        return
    session.sock.write(head)
    start_stream(http, session, response, body)


def _switch_protocols(
    http: HTTP, session: Session, request: Request, switch: SwitchProtocols
) -> None:
    """Write the ``101`` the core renders, then hand the connection over.

    A switch the core refuses (the request did not offer the protocol, HTTP/1.0, a
    bad field) is the app's mistake: logged, and a plain 500 goes out instead.
    """
    try:
        head = session.switch_protocols(switch.protocol.encode("latin-1"), switch.headers)
    except (protocol.LocalProtocolError, UnicodeEncodeError, TypeError, AttributeError) as error:
        logger.error(
            "cannot switch %s %s to %r: %s", request.method, request.target, switch, error
        )
        _send_internal_error(http, session)
        return
    session.sock.write(head)
    http._switched(session, switch.handler)


def _send_error(
    http: HTTP,
    session: Session,
    request: Request,
    response: Response,
    error: BaseException,
    *,
    reported: bool = False,
) -> None:
    trace = None
    if isinstance(error, HTTPError):
        http_error = error
    else:
        lines = traceback.format_exception(type(error), error, error.__traceback__)
        if not reported:
            logger.error(
                "request handler failed for %s %s:\n%s",
                request.method,
                request.target,
                "".join(lines),
            )
        http_error = InternalServerError()
        if http.debug:
            trace = "".join(lines)
    accept = request.header(b"accept")
    as_json = accept is not None and prefers_json(accept.decode("latin-1"))
    body, content_type = render_error_body(http_error, as_json=as_json, traceback=trace)
    page = Response(status=http_error.code, headers=http_error.headers)
    page.headers["Content-Type"] = content_type
    page.headers["X-Content-Type-Options"] = "nosniff"
    if response._cookies and http_error.code < 500:
        page._cookies = response._cookies  # a login's cookie survives its Redirect
    _send_whole(http, session, page, body, None)
