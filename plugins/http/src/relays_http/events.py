"""The events of an HTTP server, fired on the server's channel (``"web"`` by default).

The event classes are called ``...Event`` so that they never clash with the
:class:`~relays_http.Request` and :class:`~relays_http.Response` objects they carry;
their *names*, which handlers listen to, are circuits.web's: ``request`` and
``response``.
"""

from __future__ import annotations

from relays import Event

__all__ = ["RequestEvent", "ResponseEvent"]


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
