"""The events of an HTTP server, fired on the server's channel (``"web"`` by default).

The event classes are called ``...Event`` so that they never clash with the
:class:`~relays_http.Request` and :class:`~relays_http.Response` objects they carry;
their *names*, which handlers listen to, are circuits.web's: ``request`` and
``response``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from relays import Event

from ._cancellation import is_shielded

if TYPE_CHECKING:
    from relays import Handler

__all__ = [
    "BadRequestEvent",
    "BeforeRequestEvent",
    "BeforeResponseEvent",
    "RequestEvent",
    "ResponseEvent",
]


class BeforeRequestEvent(Event):
    """``before_request(request, response)``: a complete request arrived; prepare it.

    Fired before ``request``, only while some handler listens for it, and *waited
    for*: the ``request`` event is fired once every ``before_request`` handler has
    finished, async ones included. So an async handler can load what the request
    handlers need (a session from its store) and put it on the request.

    A handler that returns something (anything a ``request`` handler may return)
    or raises answers the request instead: ``request`` is not fired at all, and the
    first value returned, or the error, is sent (after ``before_response``).
    """

    name = "before_request"


class BeforeResponseEvent(Event):
    """``before_response(request, response, result)``: the request is answered; the
    answer is not written yet.

    Fired after every ``request`` handler has finished (async ones included), only
    while some handler listens for it, and *waited for*: the response is written
    once every ``before_response`` handler has finished. *result* is what will be
    sent: the first value a ``request`` handler returned (``None`` if none did: a
    404), or the exception one raised.

    What a handler may do:

    * change *response* (status, headers, cookies); when *result* is a
      :class:`~relays_http.Response` of its own, that is the one written, so change
      it instead. Cookies set on *response* are sent with *result* when that is a
      body, and survive onto the page of an :class:`~relays_http.HTTPError` below
      500 (a :class:`~relays_http.Redirect` after a login), never onto a 5xx page;
    * return a value, which replaces *result* (the first non-``None`` value
      returned wins), or raise, which answers with the error's page (any exception
      other than an :class:`~relays_http.HTTPError` is a 500, reported once).
    """

    name = "before_response"


class RequestEvent(Event):
    """``request(request, response)``: a complete request arrived; answer it.

    A handler returns the body (``str``, ``bytes``, ``dict``/``list`` as JSON, an
    iterator or async iterator to stream), a :class:`~relays_http.Response`, or
    raises (or returns) an :class:`~relays_http.HTTPError`. ``None`` means "not
    mine": when no handler returns anything the client gets a 404. When several
    return something, the first one (highest priority, then registration order)
    wins; a dispatcher that answers should call ``event.stop()``.

    For a request whose body the server streams (see
    :meth:`~relays_http.HTTP.stream_bodies`) it fires as soon as the head is in.
    It is *cancellable*: async handlers still running when the client goes away are
    cancelled, unless :func:`~relays_http.shielded` (see
    :mod:`relays_http._cancellation`).
    """

    name = "request"
    cancellable = True

    def shields(self, handler: Handler) -> bool:
        """Whether *handler*'s task is spared when the client goes away."""
        return is_shielded(handler.callback)


class ResponseEvent(Event):
    """``response(request, response)``: the response was handed to the transport.

    Fired only while some handler listens for it (an access log, metrics), so a
    server nobody watches pays nothing for it.
    """

    name = "response"


class BadRequestEvent(Event):
    """``bad_request(sock, status, reason, request_line)``: a request was refused
    before any handler saw it.

    The server answers malformed request heads and every broken limit (400, 408,
    413, 414, 431, 501, 505) itself, and a connection beyond ``max_connections``
    gets a 503; then it closes the connection. This event says so, for an error
    log or metrics: *sock* is the connection handle (``sock.peer`` is the client),
    *status* the status code sent, *reason* the short sentence sent with it, and
    *request_line* the request line (``b"GET /x HTTP/1.1"``) whenever it had arrived
    whole and was valid: for a body too large or too slow, and for a head refused
    further down (a missing Host, a field too large, a bad Content-Length); ``None``
    when the request line itself was missing or bad, and for a timeout or a refused
    connection.

    Fired only while some handler listens for it, so a server nobody watches pays
    nothing; the value is not waited for (the connection is closed already).
    """

    name = "bad_request"
