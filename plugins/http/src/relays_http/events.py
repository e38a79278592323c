"""The events of an HTTP server, fired on the server's channel (``"web"`` by default).

The event classes are called ``...Event`` so that they never clash with the
:class:`~relays_http.Request` and :class:`~relays_http.Response` objects they carry;
their *names*, which handlers listen to, are circuits.web's: ``request`` and
``response``.
"""

from __future__ import annotations

from relays import Event

__all__ = ["BadRequestEvent", "RequestEvent", "ResponseEvent"]


class RequestEvent(Event):
    """``request(request, response)``: a complete request arrived; answer it.

    A handler returns the body (``str``, ``bytes``, ``dict``/``list`` as JSON, an
    iterator or async iterator to stream), a :class:`~relays_http.Response`, or
    raises (or returns) an :class:`~relays_http.HTTPError`. ``None`` means "not
    mine": when no handler returns anything the client gets a 404. When several
    return something, the first one (highest priority, then registration order)
    wins; a dispatcher that answers should call ``event.stop()``.
    """

    name = "request"


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
    *request_line* the request line (``b"GET /x HTTP/1.1"``) when the head had been
    parsed (a body too large or too slow), else ``None``.

    Fired only while some handler listens for it, so a server nobody watches pays
    nothing; the value is not waited for (the connection is closed already).
    """

    name = "bad_request"
