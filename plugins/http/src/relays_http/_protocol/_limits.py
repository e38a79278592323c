"""Every size and time limit of the HTTP/1.1 server, in one frozen value.

The protocol core enforces the size limits itself; the timeouts and the
connection cap are enforced by the I/O glue, but live here so that a whole
server is configured (and documented) in one place. Defaults are safe for a
server exposed to the internet; raise them deliberately, not by accident.
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["Limits"]

KiB = 1024
MiB = 1024 * KiB


def _positive(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Refuse zero, negative and non-numeric limits: a limit of 0 is never meant."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"Limits.{attribute.name} must be a positive number, not {value!r}")


@attrs.frozen
class Limits:
    """Size and time limits; exceeding one yields the status code in brackets.

    Size limits are in bytes and are enforced by :class:`Connection` as soon as
    the offending bytes are buffered, so memory per connection stays bounded
    even when the peer never finishes a line.
    """

    #: Longest request line (method, target and version) [414 URI Too Long].
    max_request_line: int = attrs.field(default=8 * KiB, validator=_positive)
    #: Longest single header line, name and value together [431].
    max_header_size: int = attrs.field(default=8 * KiB, validator=_positive)
    #: Most header fields in one request head [431].
    max_header_count: int = attrs.field(default=100, validator=_positive)
    #: Longest request head, request line and all fields together [431].
    max_head_size: int = attrs.field(default=64 * KiB, validator=_positive)
    #: Largest request body; checked from Content-Length before any body byte is
    #: read, and against the running total of a chunked body [413].
    max_body_size: int = attrs.field(default=16 * MiB, validator=_positive)
    #: Longest chunk-size line including chunk extensions [400].
    max_chunk_line: int = attrs.field(default=4 * KiB, validator=_positive)
    #: Largest trailer section of a chunked body [431].
    max_trailer_size: int = attrs.field(default=8 * KiB, validator=_positive)
    #: Seconds allowed to receive a whole request head [408]; enforced by the glue.
    header_timeout: float = attrs.field(default=10.0, validator=_positive)
    #: Seconds an idle keep-alive connection is kept open; enforced by the glue.
    keep_alive_timeout: float = attrs.field(default=5.0, validator=_positive)
    #: Seconds allowed between two reads of a request body [408]; enforced by the glue.
    body_timeout: float = attrs.field(default=30.0, validator=_positive)
    #: Simultaneous connections per server before new ones get a 503; enforced by the glue.
    max_connections: int = attrs.field(default=1000, validator=_positive)
