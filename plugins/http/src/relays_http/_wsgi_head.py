"""``WSGIResponseHead``: PEP 3333's ``start_response`` rules, kept in one place.

Theory of operation
-------------------
A WSGI application states its response head by calling ``start_response(status,
headers, exc_info=None)``, and the server sends that head later, with the first
non-empty chunk of the body (or at the end, for an empty one): until then the
application may change its mind. PEP 3333 fixes what may happen in between:

- ``status`` is three digits, a space and a reason phrase (``"200 OK"``); ``headers``
  is a list of ``(name, value)`` strings, a name being an HTTP token and a value
  holding no control character (no CR or LF: a header is never split in two).
- A second call is an error unless it passes ``exc_info`` (the application is
  answering an error it caught): then it replaces the head while the head has not
  been sent, and re-raises the error once it has (the server can only cut the
  response short).
- ``start_response`` returns the ``write`` callable, for applications written before
  iterables were the way to answer.

A :class:`WSGIResponseHead` keeps one response's head through those rules, on the
application's thread: the server hands :meth:`~WSGIResponseHead.start_response` to
the application and calls :meth:`~WSGIResponseHead.take` when the first chunk (or the
end) is there, which gives the head exactly once. What differs between servers is
given to it: the ``write`` the application gets, and whether an informational
(``1xx``) status may be the answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["WSGIHeadError", "WSGIResponseHead"]

#: Text a reason phrase or a field value may hold: Latin-1 (PEP 3333's "native
#: strings" stand for bytes) without control characters, horizontal tab allowed.
_TEXT = r"[^\x00-\x08\x0a-\x1f\x7f\u0100-\U0010ffff]*"
#: Three digits, a space, a reason phrase.
_FINAL_STATUS = re.compile(r"[2-5][0-9]{2} " + _TEXT)
_ANY_STATUS = re.compile(r"[1-5][0-9]{2} " + _TEXT)
#: RFC 9110's token: the characters a field name is made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(_TEXT)


class WSGIHeadError(ValueError):
    """A WSGI application broke PEP 3333's rules for the response head: a malformed
    status or header, or ``start_response`` called twice without ``exc_info``. The
    application's bug: the server answers 500 (or cuts a response already started)."""


class WSGIResponseHead:
    """One WSGI response's head, kept by PEP 3333's ``start_response`` rules.

    Give :meth:`start_response` to the application; it returns *write* to it. Call
    :meth:`take` when the first non-empty chunk of the body, or its end, is there: it
    gives ``(status, headers)`` the first time and ``None`` after. With
    *informational*, a ``1xx`` status is taken as the answer too (relays-resources
    lets it through, as Twisted's ``WSGIResource`` does); otherwise only ``200`` to
    ``599``. See the theory of operation of :mod:`relays_http._wsgi_head`.
    """

    __slots__ = ("_head", "_sent", "_status", "_write")

    def __init__(self, write: Callable[[bytes], Any], *, informational: bool = False) -> None:
        self._write = write
        self._status = _ANY_STATUS if informational else _FINAL_STATUS
        self._head: tuple[str, list[tuple[str, str]]] | None = None
        self._sent = False

    @property
    def started(self) -> bool:
        """Whether the application has called :meth:`start_response`."""
        return self._head is not None

    @property
    def sent(self) -> bool:
        """Whether :meth:`take` has given the head out: it can no longer change."""
        return self._sent

    def start_response(
        self, status: str, headers: Iterable[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], Any]:
        """PEP 3333's ``start_response``: keep *status* and *headers*; *write*."""
        if exc_info is not None:
            try:
                if self._sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through this frame
        elif self._head is not None:
            raise WSGIHeadError(
                "start_response was called twice without exc_info: pass sys.exc_info() "
                "to replace the head while answering an error"
            )
        if type(status) is not str or self._status.fullmatch(status) is None:
            lowest = "100" if self._status is _ANY_STATUS else "200"
            raise WSGIHeadError(
                f"a WSGI status is three digits from {lowest} to 599, a space and a "
                f"reason ('200 OK'), not {status!r}"
            )
        self._head = (status, _checked(headers))
        return self._write

    def take(self) -> tuple[str, list[tuple[str, str]]] | None:
        """The head, the first time (the body's first chunk or its end is there), then
        ``None``. :class:`RuntimeError` if the application never called
        ``start_response``."""
        if self._sent:
            return None
        head = self._head
        if head is None:
            raise RuntimeError("the WSGI application returned without calling start_response")
        self._sent = True
        return head


def _checked(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """*headers* as a list of their own, every pair checked."""
    fields = []
    for pair in headers:
        try:
            name, value = pair
        except (TypeError, ValueError):
            raise WSGIHeadError(
                f"a WSGI header is a (name, value) pair of strings, not {pair!r}"
            ) from None
        if type(name) is not str or _TOKEN.fullmatch(name) is None:
            raise WSGIHeadError(f"a WSGI header name is an HTTP token, not {name!r}")
        if type(value) is not str or _FIELD_VALUE.fullmatch(value) is None:
            raise WSGIHeadError(
                f"the value of WSGI header {name!r} must be a Latin-1 string without "
                f"control characters (no CR or LF), not {value!r}"
            )
        fields.append((name, value))
    return fields
