"""Twisted's ``EncodingResourceWrapper``: a resource whose answers are compressed.

Theory of operation
-------------------
:class:`EncodingResourceWrapper` stands in for the resource it wraps: children are
looked up on the original (so they are not compressed unless wrapped themselves,
as in Twisted), and rendering is the original's. Before rendering, the wrapper
marks the request with the codings its encoder factories offer; when the
:class:`~relays_resources.Site` hands the rendered answer to relays-http, a marked
answer goes through :func:`relays_http.compress_response`: negotiated from
``Accept-Encoding`` with q-values, ``Vary: Accept-Encoding``, streamed bodies
(``NOT_DONE_YET`` and ``request.write()``) compressed as they stream, and partial
or already encoded answers left alone. As in Twisted, any size is compressed; the
content types are relays-http's compressible ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from relays_http import COMPRESSIBLE_TYPES, Request, Response, compress_response

from ._resource import Rendered, Resource

if TYPE_CHECKING:
    from ._request import ResourceRequest

__all__ = ["EncoderFactory", "EncodingResourceWrapper", "GzipEncoderFactory"]


class EncoderFactory:
    """A content coding a wrapper may use: *coding* (``gzip``, ``deflate``, and ``br``
    or ``zstd`` when installed) at *level* (None: relays-http's default)."""

    def __init__(self, coding: str, level: int | None = None) -> None:
        self.coding = coding
        self.level = level


class GzipEncoderFactory(EncoderFactory):
    """gzip at *compressLevel* (9, Twisted's default)."""

    def __init__(self, compressLevel: int = 9) -> None:  # Twisted's name
        super().__init__("gzip", compressLevel)


class EncodingResourceWrapper(Resource):
    """Serve *original* compressed with the first of *encoders* the client accepts:
    ``EncodingResourceWrapper(page, [GzipEncoderFactory()])``."""

    _needs_connection = True  # (see Resource._needs_connection)

    def __init__(self, original: Resource, encoders: Sequence[EncoderFactory]) -> None:
        super().__init__()
        if not encoders:
            raise ValueError("give at least one encoder factory, such as GzipEncoderFactory()")
        self.original = original
        self.encoders = tuple(encoders)
        self.isLeaf = original.isLeaf

    def putChild(self, path: str | bytes, child: Resource) -> None:
        self.original.putChild(path, child)

    def getChild(self, path: bytes, request: ResourceRequest) -> Resource:
        return self.original.getChild(path, request)

    def getChildWithDefault(self, path: bytes, request: ResourceRequest) -> Resource:
        return self.original.getChildWithDefault(path, request)

    def render(self, request: ResourceRequest) -> Rendered:
        request.encoders = self.encoders
        return self.original.render(request)


def encode_answer(
    request: Request, response: Response, encoders: Sequence[EncoderFactory]
) -> None:
    """Compress *response* with one of *encoders*, which a wrapper marked the request
    with (see the theory)."""
    levels = {e.coding: e.level for e in encoders if e.level is not None}
    compress_response(
        request,
        response,
        encodings=[encoder.coding for encoder in encoders],
        minimum_size=0,
        content_types=COMPRESSIBLE_TYPES,
        levels=levels,
    )
