"""The events that cross the protocol boundary, and the two flow signals.

Events are slotted attrs classes rather than frozen ones: a frozen attrs
``__init__`` costs about three times as much, and one :class:`Request` plus one
:class:`EndOfMessage` are built for every request on the hot path. Treat them as
immutable values all the same.

Header lists hold ``(name, value)`` pairs of bytes. Names in received events are
lower-cased (comparisons are then plain ``==``); values are kept as sent, minus
surrounding whitespace. Events you send may use ``str`` or ``bytes``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Literal, TypeAlias

import attrs

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "Headers",
    "HeadersInput",
    "InformationalResponse",
    "Request",
    "Response",
    "Signal",
]

#: Received headers: lower-cased names, values without surrounding whitespace.
Headers: TypeAlias = list[tuple[bytes, bytes]]
#: Headers given to :meth:`Connection.send`: str is encoded as Latin-1.
HeadersInput: TypeAlias = Sequence[tuple[bytes | str, bytes | str]]


class Signal(enum.Enum):
    """What :meth:`Connection.next_event` returns when it has no event yet."""

    #: Feed more bytes with :meth:`Connection.receive_data`, or EOF as ``b""``.
    NEED_DATA = "NEED_DATA"
    #: The next (pipelined) request is buffered, but the current cycle is not
    #: over: finish the response, then call :meth:`Connection.start_next_cycle`.
    #: Stop reading from the socket meanwhile; that is the back-pressure.
    PAUSED = "PAUSED"


NEED_DATA: Literal[Signal.NEED_DATA] = Signal.NEED_DATA
PAUSED: Literal[Signal.PAUSED] = Signal.PAUSED


def _find(headers: Headers, name: bytes) -> bytes | None:
    for field_name, value in headers:
        if field_name == name:
            return value
    return None


@attrs.define(slots=True)
class Request:
    """A request head. The body follows as :class:`Data` and :class:`EndOfMessage`."""

    #: The method token, case preserved (methods are case-sensitive): ``b"GET"``.
    method: bytes
    #: The request-target exactly as sent: ``b"/path?query"``, ``b"*"``, an absolute URI...
    target: bytes
    #: ``b"1.1"`` or ``b"1.0"``; anything else was refused with a 505.
    http_version: bytes
    #: Lower-cased names, stripped values, in the order received.
    headers: Headers
    #: Whether the client asked to keep the connection open after this exchange
    #: (the response may still close it; see :attr:`Connection.must_close`).
    keep_alive: bool = True
    #: Whether an HTTP/1.1 client sent ``Expect: 100-continue``.
    expects_continue: bool = False
    #: The ``Upgrade`` field's value (the protocols offered, comma-separated) when an
    #: HTTP/1.1 client listed ``upgrade`` in ``Connection``; ``None`` otherwise. See
    #: :meth:`Connection.switch_protocols`.
    upgrade: bytes | None = None
    #: The ``Upgrade`` field's value as sent, whatever ``Connection`` says (``None``
    #: without one): found while the head is parsed, for a server that hands every
    #: upgrade request (even one :attr:`upgrade` does not count) to another handler.
    upgrade_field: bytes | None = None

    def get(self, name: bytes, default: bytes | None = None) -> bytes | None:
        """Return the first value of header ``name`` (lower-case bytes), or ``default``."""
        value = _find(self.headers, name)
        return default if value is None else value

    def get_all(self, name: bytes) -> list[bytes]:
        """Return every value of header ``name`` (lower-case bytes), in order."""
        return [value for field_name, value in self.headers if field_name == name]


@attrs.define(slots=True)
class InformationalResponse:
    """A 1xx interim response; use :meth:`Connection.send_continue` for 100 Continue."""

    status_code: int
    headers: HeadersInput = attrs.field(factory=list)
    #: Reason phrase; empty means the standard phrase for ``status_code``.
    reason: bytes = b""


@attrs.define(slots=True)
class Response:
    """A final (status >= 200) response head to send.

    Framing headers are added for you: keep ``Content-Length`` if you know it,
    otherwise the body is chunked (HTTP/1.1 clients) or delimited by closing
    the connection (HTTP/1.0 clients). ``Connection: close`` is added whenever
    the connection will close after this response.
    """

    status_code: int
    headers: HeadersInput = attrs.field(factory=list)
    #: Reason phrase; empty means the standard phrase for ``status_code``.
    reason: bytes = b""
    #: Header lines already rendered (``b"name: value\r\n"`` each), written right
    #: after the status line: for fields a server sends on every response, such as
    #: ``Server`` and a ``Date`` that changes once a second, rendered once instead
    #: of per response. Checked like any field (once per distinct value); framing
    #: fields (Content-Length, Transfer-Encoding, Connection) are refused here.
    rendered_fields: bytes = b""


@attrs.define(slots=True)
class Data:
    """A piece of a message body. How the body is split carries no meaning."""

    data: bytes


@attrs.define(slots=True)
class EndOfMessage:
    """The end of a message body, with the trailer fields of a chunked body."""

    #: Empty (a tuple) when there are none: every received body without trailers
    #: ends with one shared instance, so this one must never change.
    trailers: HeadersInput = ()


@attrs.define(slots=True)
class ConnectionClosed:
    """The client closed its side (received), or we will close ours (sent)."""


Event: TypeAlias = (
    Request | InformationalResponse | Response | Data | EndOfMessage | ConnectionClosed
)
