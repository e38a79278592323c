"""The limits of static file serving: named, documented, with safe defaults."""

from __future__ import annotations

import attrs

from relays_http import KiB

__all__ = ["StaticLimits"]


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or value < 1:
        raise ValueError(f"{attribute.name} must be a positive int, not {value!r}")


@attrs.define(frozen=True)
class StaticLimits:
    """How much one request may ask of the static file server.

    Pass one to :class:`~relays_static.Static` or :func:`~relays_static.serve_file`.
    """

    #: Most ranges one ``Range`` field may ask for; beyond, the whole file is sent
    #: (200), as nginx's ``max_ranges`` does. Overlapping ranges are merged first.
    max_ranges: int = attrs.field(default=16, validator=_positive)
    #: Files (and single ranges) up to this size are read at once, on the event
    #: loop, and sent in one write; larger ones are streamed.
    small_file_size: int = attrs.field(default=64 * KiB, validator=_positive)
    #: Bytes read (off the event loop) and written per step when streaming over a
    #: transport without ``sendfile`` (on sockets the kernel sends the file); the
    #: server waits for the socket to drain between steps.
    chunk_size: int = attrs.field(default=512 * KiB, validator=_positive)
    #: Most entries a directory listing shows; the rest are left out (and counted).
    max_listing_entries: int = attrs.field(default=5000, validator=_positive)
