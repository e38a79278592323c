"""Dynamic compression of response bodies: gzip, deflate, and brotli and zstd when
their packages are installed.

Theory of operation
-------------------
:class:`Compression` is a component, as CherryPy's ``gzip`` and circuits'
``gzip`` are tools: registered on the server's channel, it handles
``before_response(request, response, result)`` after the application's own
``before_response`` handlers (at :data:`COMPRESSION_PRIORITY`, just above
relays-sessions' cookie writer) and rewrites the answer in place. A server
without it pays nothing.

For each answer it decides, in this order:

1. Is the answer a body at all? Errors, ``None`` (a 404), protocol switches,
   1xx/204/304 answers and partial content (206, or a ``Content-Range``) are left
   alone, and so is a body that already has a ``Content-Encoding`` or a response
   that says ``Cache-Control: no-transform``.
2. Is the content type worth compressing (text, JSON, JavaScript, XML, SVG...:
   :data:`COMPRESSIBLE_TYPES`)? If not, nothing changes. If so, the response
   varies with ``Accept-Encoding`` whether or not this one is compressed, so
   ``Vary: Accept-Encoding`` is added (a cache must not give the gzip variant to
   a client that cannot decode it, nor the plain one to every client).
3. Which coding does the client accept (:func:`~relays_http.choose_encoding`,
   with q-values, among the codings available here in our order of preference)?
   None: nothing more.
4. A body known in full (bytes, str, JSON) under :attr:`Compression.minimum_size`
   bytes is sent as it is: the coding's header would eat the gain. A larger one
   is compressed at once, on the loop, unless it is at least
   :attr:`Compression.thread_threshold` bytes: then it is compressed in a worker
   thread (zlib, brotli and zstd release the GIL while they work), so a big page
   does not stall every other client for the milliseconds it takes, and goes out
   as one chunk once it is ready. A streamed body (an iterator or async iterator) is
   wrapped: each chunk is compressed and *flushed* as it comes, so a client sees
   every chunk when the application yields it (server-sent events, progress
   pages), at some cost in ratio. A :class:`~relays_http.FileRegion` in a stream
   is read and compressed like bytes: in a worker thread for an async iterator,
   where the iterator runs for a sync one.

A compressed response loses its ``Content-Length`` (the server frames the new
body) and ``Accept-Ranges`` (ranges of the compressed form are not offered), and
a strong ``ETag`` becomes weak (``W/"..."``): the compressed bytes are a
different representation, but equivalent, and ``If-None-Match`` compares weakly,
so a client revalidating with it still gets its 304.
"""

from __future__ import annotations

import asyncio
import json
import os
import zlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Protocol

from relays import BaseComponent, Priority, handler

from ._bodies import chunk_bytes
from ._files import FileRegion
from ._limits import KiB
from ._negotiation import choose_encoding
from ._request import Request
from ._response import Response
from ._streaming import aclose_iterator, close_iterator
from ._upgrade import SwitchProtocols

__all__ = [
    "COMPRESSIBLE_TYPES",
    "COMPRESSION_PRIORITY",
    "DEFAULT_MINIMUM_SIZE",
    "DEFAULT_THREAD_THRESHOLD",
    "Compression",
    "ContentEncoder",
    "available_encodings",
    "compress_response",
    "new_encoder",
]

#: The ``before_response`` priority of :class:`Compression`: after the application's
#: handlers (which may still change the body) and page validators
#: (:data:`~relays_http.CONDITIONAL_PRIORITY`), before relays-sessions' cookie writer
#: (:attr:`relays.Priority.LAST`).
COMPRESSION_PRIORITY = Priority.CLEANUP
#: Bodies known in full below this many bytes are not compressed.
DEFAULT_MINIMUM_SIZE = 256
#: Bodies known in full of at least this many bytes are compressed in a worker thread,
#: off the loop: gzip at level 6 takes about 1.3 ms for 64 KiB of HTML on one core, the
#: point where holding the loop starts to cost other clients more than a thread hop
#: (tens of microseconds) costs this one.
DEFAULT_THREAD_THRESHOLD = 64 * KiB
#: Media types compressed by default: ``type/*`` patterns or exact types, plus any
#: ``+json`` or ``+xml`` structured suffix.
COMPRESSIBLE_TYPES: tuple[str, ...] = (
    "text/*",
    "application/json",
    "application/javascript",
    "application/ecmascript",
    "application/x-javascript",
    "application/xml",
    "application/wasm",
    "application/x-ndjson",
    "image/svg+xml",
    "image/x-icon",
    "font/ttf",
    "font/otf",
)
#: Bytes read from a file region per step when compressing it.
_REGION_STEP = 256 * KiB
_HTML = "text/html; charset=utf-8"
_JSON = "application/json"


class ContentEncoder(Protocol):
    """What compresses one body: feed it chunks, then finish it."""

    def compress(self, data: bytes) -> bytes:
        """Compress *data*; returns what is ready (maybe nothing)."""
        ...

    def flush(self) -> bytes:
        """Everything fed so far, in a form the client can decode now."""
        ...

    def finish(self) -> bytes:
        """The end of the compressed body."""
        ...


class _ZlibEncoder:
    __slots__ = ("_compressor",)

    def __init__(self, window_bits: int, level: int) -> None:
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, window_bits)

    def compress(self, data: bytes) -> bytes:
        return self._compressor.compress(data)

    def flush(self) -> bytes:
        return self._compressor.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._compressor.flush(zlib.Z_FINISH)


class _BrotliEncoder:
    __slots__ = ("_compressor",)

    def __init__(self, level: int) -> None:
        import brotli  # type: ignore[import-untyped]

        self._compressor = brotli.Compressor(quality=level)

    def compress(self, data: bytes) -> bytes:
        return bytes(self._compressor.process(data))

    def flush(self) -> bytes:
        return bytes(self._compressor.flush())

    def finish(self) -> bytes:
        return bytes(self._compressor.finish())


class _ZstdEncoder:
    __slots__ = ("_compressor", "_flush_block")

    def __init__(self, level: int) -> None:
        import zstandard

        self._compressor = zstandard.ZstdCompressor(level=level).compressobj()
        self._flush_block = zstandard.COMPRESSOBJ_FLUSH_BLOCK

    def compress(self, data: bytes) -> bytes:
        return self._compressor.compress(data)

    def flush(self) -> bytes:
        return self._compressor.flush(self._flush_block)

    def finish(self) -> bytes:
        return self._compressor.flush()


def _installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


#: The default level of each coding: fast ones, as dynamic pages are compressed on
#: every request (gzip 6 is zlib's default; brotli 4 and zstd 3 are their fast
#: levels, which beat gzip 6 in both size and time).
DEFAULT_LEVELS = {"zstd": 3, "br": 4, "gzip": 6, "deflate": 6}
_EXTRAS = {"br": ("brotli", "relays-http[brotli]"), "zstd": ("zstandard", "relays-http[zstd]")}


def available_encodings() -> tuple[str, ...]:
    """The codings this process can produce, in the default order of preference:
    ``zstd`` and ``br`` when their packages are installed, then ``gzip``, ``deflate``."""
    found = [coding for coding in ("zstd", "br") if _installed(_EXTRAS[coding][0])]
    return (*found, "gzip", "deflate")


def new_encoder(coding: str, level: int | None = None) -> ContentEncoder:
    """A :class:`ContentEncoder` for *coding* (``gzip``, ``deflate``, ``br``, ``zstd``)
    at *level* (None: :data:`DEFAULT_LEVELS`)."""
    if level is None:
        level = DEFAULT_LEVELS.get(coding, 6)
    if coding == "gzip":
        return _ZlibEncoder(16 + zlib.MAX_WBITS, level)
    if coding == "deflate":  # HTTP's "deflate" is the zlib format (RFC 9110 8.4.1.2)
        return _ZlibEncoder(zlib.MAX_WBITS, level)
    if coding == "br":
        return _BrotliEncoder(level)
    if coding == "zstd":
        return _ZstdEncoder(level)
    raise ValueError(f"no content coding {coding!r}: use gzip, deflate, br or zstd")


def _compressible(content_type: str, patterns: Sequence[str]) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type.endswith(("+json", "+xml")):
        return True
    kind = media_type.partition("/")[0]
    for pattern in patterns:
        if pattern == media_type or (pattern.endswith("/*") and pattern[:-2] == kind):
            return True
    return False


def _add_vary(response: Response) -> None:
    headers = response.headers
    vary = headers.get("vary")
    if vary is None:
        headers["vary"] = "Accept-Encoding"
        return
    names = [name.strip().lower() for name in vary.split(",")]
    if "*" not in names and "accept-encoding" not in names:
        headers["vary"] = f"{vary}, Accept-Encoding"


def _whole_body(body: Any) -> tuple[bytes, str | None] | None:
    """*body* as bytes with the content type the server would give it; None for a
    stream."""
    if isinstance(body, str):
        return body.encode("utf-8"), _HTML
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body), None
    if isinstance(body, dict | list):
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8"), _JSON
    return None


def _is_stream(body: Any) -> bool:
    return hasattr(body, "__aiter__") or hasattr(body, "__iter__")


def compress_response(
    request: Request,
    response: Response,
    *,
    encodings: Sequence[str] | None = None,
    minimum_size: int = DEFAULT_MINIMUM_SIZE,
    content_types: Sequence[str] = COMPRESSIBLE_TYPES,
    levels: dict[str, int] | None = None,
    thread_threshold: int | None = None,
) -> bool:
    """Compress *response*'s body in place for *request*, when worth it; True if it did.

    The decisions of :class:`Compression` (see the module's theory of operation),
    for code that holds a response of its own (a resource wrapper, a handler). A
    whole body of at least *thread_threshold* bytes becomes a one-chunk stream
    compressed in a worker thread (None: always compress on the spot).
    """
    status = response.status
    if status < 200 or status in (204, 206, 304):
        return False
    body = response.body
    if body is None or isinstance(body, SwitchProtocols | BaseException):
        return False
    headers = response.headers
    if "content-encoding" in headers or "content-range" in headers:
        return False
    cache_control = headers.get("cache-control")
    if cache_control is not None and "no-transform" in cache_control.lower():
        return False
    whole = _whole_body(body)
    if whole is None and not _is_stream(body):
        return False
    content_type = headers.get("content-type") or (whole[1] if whole is not None else None)
    if content_type is None or not _compressible(content_type, content_types):
        return False
    _add_vary(response)
    field = request.header(b"accept-encoding")
    coding = choose_encoding(
        field.decode("latin-1") if field is not None else None,
        available_encodings() if encodings is None else encodings,
    )
    if coding is None:
        return False
    level = (levels or {}).get(coding)
    if whole is not None:
        data, default_type = whole
        if len(data) < minimum_size:
            return False
        encoder = new_encoder(coding, level)
        if thread_threshold is not None and len(data) >= thread_threshold:
            response.body = _compress_in_thread(encoder, data)
        else:
            response.body = _compress_whole(encoder, data)
        if "content-type" not in headers and default_type is not None:
            headers["content-type"] = default_type
    else:
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) < minimum_size:
            return False
        encoder = new_encoder(coding, level)
        if hasattr(body, "__aiter__"):
            response.body = _compress_async(body, encoder)
        else:
            response.body = _compress_sync(iter(body), encoder)
    headers["content-encoding"] = coding
    for name in ("content-length", "accept-ranges"):
        if name in headers:
            del headers[name]
    etag = headers.get("etag")
    if etag is not None and etag.startswith('"'):
        headers["etag"] = "W/" + etag
    return True


def _compress_whole(encoder: ContentEncoder, data: bytes) -> bytes:
    return encoder.compress(data) + encoder.finish()


async def _compress_in_thread(encoder: ContentEncoder, data: bytes) -> AsyncIterator[bytes]:
    """*data* compressed in the loop's default executor, as a one-chunk stream."""
    yield await asyncio.get_running_loop().run_in_executor(None, _compress_whole, encoder, data)


def _compress_sync(body: Iterator[Any], encoder: ContentEncoder) -> Iterator[bytes]:
    """*body*'s chunks compressed and flushed one by one; closes *body* when closed."""
    try:
        for chunk in body:
            if isinstance(chunk, FileRegion):
                # Read where the iterator runs: a sync body is iterated where its
                # code may block anyway.
                offset, remaining = chunk.offset, chunk.count
                while remaining:
                    step = min(remaining, _REGION_STEP)
                    data = encoder.compress(_read_region(chunk, offset, step))
                    if data:
                        yield data
                    offset += step
                    remaining -= step
                data = encoder.flush()
            else:
                data = encoder.compress(chunk_bytes(chunk)) + encoder.flush()
            if data:
                yield data
        yield encoder.finish()
    finally:
        close_iterator(body)


def _read_region(region: FileRegion, offset: int, size: int) -> bytes:
    file = region.file
    descriptor = file if isinstance(file, int) else file.fileno()
    data = os.pread(descriptor, size, offset)
    if len(data) != size:
        raise EOFError(f"{region!r} ends after the end of its file")
    return data


async def _compress_async(body: Any, encoder: ContentEncoder) -> AsyncIterator[bytes]:
    """Like :func:`_compress_sync` for an async iterator; its file regions are read
    in a worker thread."""
    try:
        async for chunk in body:
            async for data in _encode_chunk(chunk, encoder):
                yield data
        yield encoder.finish()
    finally:
        await aclose_iterator(body)


async def _encode_chunk(chunk: Any, encoder: ContentEncoder) -> AsyncIterator[bytes]:
    if isinstance(chunk, FileRegion):
        offset, remaining = chunk.offset, chunk.count
        while remaining:
            step = min(remaining, _REGION_STEP)
            data = await asyncio.to_thread(_read_region, chunk, offset, step)
            compressed = encoder.compress(data)
            if compressed:
                yield compressed
            offset += step
            remaining -= step
        flushed = encoder.flush()
        if flushed:
            yield flushed
        return
    data = encoder.compress(chunk_bytes(chunk)) + encoder.flush()
    if data:
        yield data


class Compression(BaseComponent):
    """Compress the responses of the server on *channel* for clients that accept it.

    *encodings* are the codings offered, in our order of preference (default:
    :func:`available_encodings`); a coding whose package is missing raises
    :class:`ImportError` naming the extra to install. *minimum_size* is the
    smallest body known in full worth compressing; *content_types* the media types
    compressed (``type/*`` patterns allowed; ``+json``/``+xml`` always are);
    *levels* maps a coding to its compression level; *exclude* lists path prefixes
    never compressed (a download area of already compressed files, say);
    *thread_threshold* is the smallest body known in full compressed in a worker
    thread rather than on the loop (None: never).
    """

    channel = "web"

    def __init__(
        self,
        *,
        encodings: Sequence[str] | None = None,
        minimum_size: int = DEFAULT_MINIMUM_SIZE,
        content_types: Sequence[str] = COMPRESSIBLE_TYPES,
        levels: dict[str, int] | None = None,
        exclude: Sequence[str] = (),
        thread_threshold: int | None = DEFAULT_THREAD_THRESHOLD,
        channel: Any = "web",
    ) -> None:
        super().__init__(channel=channel)
        if encodings is not None:
            for coding in encodings:
                if coding in _EXTRAS and not _installed(_EXTRAS[coding][0]):
                    package, extra = _EXTRAS[coding]
                    raise ImportError(
                        f"the {coding!r} coding needs the {package} package: pip install '{extra}'"
                    )
                new_encoder(coding)  # refuses unknown codings now, not per request
        if minimum_size < 0:
            raise ValueError(f"minimum_size must be >= 0, not {minimum_size}")
        if thread_threshold is not None and thread_threshold < 0:
            raise ValueError(f"thread_threshold must be >= 0 or None, not {thread_threshold}")
        #: The codings offered, in our order of preference.
        self.encodings: tuple[str, ...] = (
            available_encodings() if encodings is None else tuple(encodings)
        )
        self.minimum_size = minimum_size
        self.thread_threshold = thread_threshold
        self.content_types = tuple(content_types)
        self.levels = dict(levels or {})
        self.exclude = tuple(exclude)

    @handler("before_response", priority=COMPRESSION_PRIORITY)
    def _on_before_response(self, request: Request, response: Response, result: Any) -> Any:
        if self.exclude and request.path.startswith(self.exclude):
            return None
        if isinstance(result, Response):
            target = result
        elif response.body is not None:
            # An earlier before_response handler (ConditionalGet's 412, an error page of
            # ErrorPages) answered with the server's own response, filled in: that is
            # the answer now.
            target = result = response
        elif isinstance(result, BaseException) or result is None:
            return None
        else:
            # Compress into the server's own response object, and answer with it: the
            # handlers after this one (a session's cookie) still find it as *response*.
            target = response
            target.body = result
        if compress_response(
            request,
            target,
            encodings=self.encodings,
            minimum_size=self.minimum_size,
            content_types=self.content_types,
            levels=self.levels,
            thread_threshold=self.thread_threshold,
        ):
            return None if target is result else target
        if target is not result:
            target.body = None
        return None
