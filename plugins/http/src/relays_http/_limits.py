"""The server's limits: the protocol core's, plus those of forms and bodies.

One frozen value configures a whole server; see the limits table in
``docs/howto/http-server.rst``. Give your own with
``Server(bind, limits=Limits(max_body_size=100 * MiB))`` or change single fields
with :func:`attrs.evolve`.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._protocol import Limits as ProtocolLimits
from ._protocol._limits import KiB, MiB, _positive

__all__ = ["KiB", "Limits", "MiB"]


def _rate(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """A data rate in bytes per second; 0 turns its check off."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(
            f"Limits.{attribute.name} must be 0 (off) or a positive number of bytes per second,"
            f" not {value!r}"
        )


@attrs.frozen
class Limits(ProtocolLimits):
    """Every size and time limit of an HTTP server, with safe defaults.

    The request-line, header, body and timeout limits are enforced as the bytes
    arrive (status in brackets); the form limits when a handler reads a form.
    """

    #: Request bodies larger than this are spooled to a temporary file instead of
    #: being kept in memory; uploaded files likewise.
    spool_threshold: int = attrs.field(default=1 * MiB, validator=_positive)
    #: Most body bytes of a streamed request read ahead of the handler taking them;
    #: reading from the client pauses beyond (see ``Request.stream``).
    stream_read_ahead: int = attrs.field(default=64 * KiB, validator=_positive)
    #: Most fields (and files) in one form [413].
    max_form_fields: int = attrs.field(default=1000, validator=_positive)
    #: Largest value of one non-file form field [413].
    max_form_field_size: int = attrs.field(default=1 * MiB, validator=_positive)
    #: Largest header section of one multipart part [400].
    max_part_head_size: int = attrs.field(default=16 * KiB, validator=_positive)
    #: Slowest request body, in bytes per second on average from the request's first
    #: byte, once ``data_rate_grace_period`` has passed [408]; 0 turns it off. Kestrel's
    #: ``MinRequestBodyDataRate``: a client trickling a body cannot hold a connection
    #: for ``body_timeout`` per byte. A body streamed to its handler is measured over
    #: the time the handler waits on it only (a slow handler does not count).
    min_request_body_rate: float = attrs.field(default=240.0, validator=_rate)
    #: Slowest reader of a response, in bytes per second on average while output waits
    #: to be sent, once ``data_rate_grace_period`` has passed (the connection is then
    #: dropped); 0 turns it off. Kestrel's ``MinResponseDataRate``.
    min_response_rate: float = attrs.field(default=240.0, validator=_rate)
    #: Seconds a client gets before the data rates are checked, to get up to speed.
    data_rate_grace_period: float = attrs.field(default=5.0, validator=_positive)
    #: Seconds a request head in the making is safe from being shed when a connection
    #: arrives at ``max_connections`` (its bytes may be on the way); idle keep-alive
    #: connections are shed first, then heads older than this, longest waiting first.
    shed_after: float = attrs.field(default=1.0, validator=_positive)
