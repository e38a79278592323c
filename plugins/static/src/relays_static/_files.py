r"""Answering a request with a file: variants, validators, ranges and the body.

Theory of operation
-------------------
:func:`answer_with_file` is shared by :class:`~relays_static.Static` and the
:func:`~relays_static.serve_file` helper. Given a path that is allowed, it

1. chooses the representation: a pre-compressed sibling (``app.js.br``,
   ``app.js.gz``) when the client accepts its coding, else the file itself; when
   any sibling exists the response says ``Vary: Accept-Encoding``, whichever
   one is sent, so caches keep them apart;
2. opens it and takes its metadata from the open descriptor (``fstat``), so the
   validators describe the bytes that will be sent;
3. evaluates the preconditions (:mod:`relays_static._validators`): 304 or 412;
4. honours ``Range`` on GET when ``If-Range`` allows (:mod:`relays_static._ranges`);
5. sends the body: small files and ranges are read at once and returned as
   bytes (one write); larger ones are returned as an async iterator that opens
   the file again when it starts and refuses to go on if its size or mtime
   changed since the head was sent, which would make the promised
   ``Content-Length`` a lie. When the connection's handle has ``sendfile``
   (relays-sockets' has) the iterator yields :class:`~relays_http.FileRegion`\ s,
   one per range (multipart heads as bytes between them), and the server sends
   them with the kernel's ``sendfile`` on plain TCP: the file's bytes never
   enter Python, and the kernel only takes what the socket can hold
   (backpressure). Otherwise (the in-memory transport) it reads ``chunk_size``
   bytes at a time in a worker thread, and the server waits for the socket to
   drain between chunks.

HEAD gets the same head as GET and an empty body with the real
``Content-Length``, which the server does not write.
"""

from __future__ import annotations

import asyncio
import os
import stat as stat_module
from collections.abc import AsyncIterator, Iterable
from urllib.parse import quote

import attrs

from relays.transports import supports_sendfile
from relays_http import FileRegion, HTTPError, Request, Response

from ._limits import StaticLimits
from ._mime import MediaTypes
from ._ranges import Unsatisfiable, multipart_layout, parse_range
from ._validators import (
    NOT_MODIFIED,
    evaluate_preconditions,
    http_date,
    if_range_allows,
    make_etag,
)

__all__ = [
    "DEFAULT_PRECOMPRESSED",
    "FileChanged",
    "FileOptions",
    "accepted_codings",
    "answer_with_file",
    "content_disposition",
    "empty_body",
    "stream_file",
]

#: Content codings looked for next to a file, in order of preference, with the
#: suffix of their file.
DEFAULT_PRECOMPRESSED: tuple[tuple[str, str], ...] = (("br", ".br"), ("gzip", ".gz"))
_NO_CHUNKS: tuple[bytes, ...] = ()
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


class FileChanged(RuntimeError):
    """The file changed while it was being sent; the response is cut short."""


@attrs.define(frozen=True)
class FileOptions:
    """What :func:`answer_with_file` needs to know besides the request."""

    media_types: MediaTypes = attrs.field(factory=MediaTypes)
    limits: StaticLimits = attrs.field(factory=StaticLimits)
    nosniff: bool = True
    precompressed: tuple[tuple[str, str], ...] = DEFAULT_PRECOMPRESSED


def accepted_codings(value: str) -> dict[str, float]:
    """``Accept-Encoding`` as coding -> quality (``x-gzip`` counts as ``gzip``)."""
    qualities: dict[str, float] = {}
    for item in value.split(","):
        coding, _, parameters = item.partition(";")
        coding = coding.strip(" \t").lower()
        if not coding:
            continue
        quality = 1.0
        for parameter in parameters.split(";"):
            key, _, number = parameter.partition("=")
            if key.strip(" \t").lower() == "q":
                try:
                    quality = float(number.strip(" \t"))
                except ValueError:
                    quality = 0.0
                if not 0.0 <= quality <= 1.0:  # also NaN
                    quality = 0.0
        if coding == "x-gzip":
            coding = "gzip"
        qualities[coding] = max(qualities.get(coding, 0.0), quality)
    return qualities


def _quality(qualities: dict[str, float], coding: str) -> float:
    found = qualities.get(coding)
    return found if found is not None else qualities.get("*", 0.0)


def _choose_variant(
    request: Request, path: str, codings: Iterable[tuple[str, str]], root: str | None
) -> tuple[str, str, bool]:
    """``(path to send, content coding or "", whether any variant exists)``."""
    raw = request.header(b"accept-encoding")
    qualities = accepted_codings(raw.decode("latin-1")) if raw else {}
    exists = False
    for coding, suffix in codings:
        candidate = path + suffix
        try:
            candidate_stat = os.stat(candidate)
        except (OSError, ValueError):
            continue
        if not stat_module.S_ISREG(candidate_stat.st_mode):
            continue
        if root is not None:  # a variant may be a symlink too: same containment rule
            real = os.path.realpath(candidate)
            if not real.startswith(root + os.sep):
                continue
        exists = True
        if _quality(qualities, coding) > 0:
            return candidate, coding, True
    return path, "", exists


def content_disposition(kind: str, name: str) -> str:
    """``attachment; filename="a.txt"; filename*=UTF-8''a.txt`` (RFC 6266, 8187)."""
    fallback = "".join(
        char if 32 <= ord(char) < 127 and char not in '"\\%' else "_" for char in name
    )
    value = f'{kind}; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


async def empty_body() -> AsyncIterator[bytes]:
    """An empty body (HEAD): the server sends the head with our Content-Length."""
    for chunk in _NO_CHUNKS:  # pragma: no cover - there are none
        yield chunk


async def stream_file(
    path: str,
    expected: os.stat_result,
    parts: list[tuple[bytes, int, int]],
    closing: bytes,
    chunk_size: int,
    *,
    zero_copy: bool = False,
) -> AsyncIterator[bytes | FileRegion]:
    """Each part's prefix, then its bytes of the file: a :class:`FileRegion` when
    *zero_copy*, else read ``chunk_size`` bytes at a time in a worker thread."""
    loop = asyncio.get_running_loop()
    descriptor = os.open(path, _OPEN_FLAGS)
    try:
        now = os.fstat(descriptor)
        if (now.st_size, now.st_mtime_ns) != (expected.st_size, expected.st_mtime_ns):
            raise FileChanged(f"{path} changed after its response head was sent")
        for prefix, offset, count in parts:
            if prefix:
                yield prefix
            if zero_copy:  # the server has sent it all when we are resumed
                yield FileRegion(descriptor, offset, count)
                continue
            while count > 0:
                data = await loop.run_in_executor(
                    None, os.pread, descriptor, min(count, chunk_size), offset
                )
                if not data:
                    raise FileChanged(f"{path} shrank while it was being sent")
                offset += len(data)
                count -= len(data)
                yield data
        if closing:
            yield closing
    finally:
        os.close(descriptor)


def _read_at(descriptor: int, offset: int, count: int) -> bytes:
    chunks = []
    while count > 0:
        data = os.pread(descriptor, count, offset)
        if not data:
            raise FileChanged("the file shrank while it was read")
        chunks.append(data)
        offset += len(data)
        count -= len(data)
    return b"".join(chunks)


def answer_with_file(
    request: Request,
    response: Response,
    path: str,
    options: FileOptions,
    *,
    root: str | None = None,
    content_type: str | None = None,
    cache_control: str | None = None,
) -> Response | HTTPError | None:
    """Fill *response* from the file at *path* (see the theory of operation).

    Returns *response*, an :class:`~relays_http.HTTPError` (412, 416) or None when
    *path* is not a regular file. *root*, when given, is the real directory the
    pre-compressed variants must also resolve into.
    """
    sent_path, coding, has_variants = (
        _choose_variant(request, path, options.precompressed, root)
        if options.precompressed
        else (path, "", False)
    )
    try:
        descriptor = os.open(sent_path, _OPEN_FLAGS)
    except (OSError, ValueError):
        return None
    try:
        file_stat = os.fstat(descriptor)
        if not stat_module.S_ISREG(file_stat.st_mode):
            return None
        size = file_stat.st_size
        etag = make_etag(file_stat, coding)
        modified = int(file_stat.st_mtime)
        headers = response.headers
        # A fresh response (Static's) takes plain appends; one a page already set
        # fields on (serve_file's) needs them replaced.
        put = headers.add if not headers else headers.__setitem__
        put("etag", etag)
        put("last-modified", http_date(modified))
        if cache_control is not None:
            put("cache-control", cache_control)
        if has_variants:
            put("vary", "Accept-Encoding")
        outcome = evaluate_preconditions(request, etag, modified)
        if outcome is not None:
            if outcome == NOT_MODIFIED:
                response.status = NOT_MODIFIED
                response.body = None
                return response
            return HTTPError(
                outcome, "a precondition of this request does not hold", headers={"etag": etag}
            )
        media_type = content_type or options.media_types.content_type(path)
        put("content-type", media_type)
        put("accept-ranges", "bytes")
        if coding:
            put("content-encoding", coding)
        if options.nosniff:
            put("x-content-type-options", "nosniff")
        is_get = request.method == "GET"
        ranges = None
        range_field = request.header(b"range")
        if range_field is not None and is_get and if_range_allows(request, etag, modified):
            try:
                ranges = parse_range(
                    range_field.decode("latin-1"), size, options.limits.max_ranges
                )
            except Unsatisfiable:
                return HTTPError(
                    416,
                    "none of the requested ranges is within the file",
                    headers={"content-range": f"bytes */{size}"},
                )
        limits = options.limits
        if ranges is None:
            parts = [(b"", 0, size)]
            closing = b""
            length = size
            response.status = 200
        elif len(ranges) == 1:
            first, last = ranges[0]
            parts = [(b"", first, last - first + 1)]
            closing = b""
            length = last - first + 1
            response.status = 206
            headers["content-range"] = f"bytes {first}-{last}/{size}"
        else:
            boundary, heads, closing, length = multipart_layout(ranges, size, media_type)
            parts = [
                (head, first, last - first + 1)
                for head, (first, last) in zip(heads, ranges, strict=True)
            ]
            response.status = 206
            headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
        if request.method == "HEAD":
            headers["content-length"] = str(length)
            response.body = empty_body()
        elif length <= limits.small_file_size:
            chunks = []
            for prefix, offset, count in parts:
                chunks.append(prefix)
                chunks.append(_read_at(descriptor, offset, count))
            chunks.append(closing)
            response.body = b"".join(chunks)
        else:
            headers["content-length"] = str(length)
            response.body = stream_file(
                sent_path,
                file_stat,
                parts,
                closing,
                limits.chunk_size,
                zero_copy=supports_sendfile(request.sock),
            )
        return response
    finally:
        os.close(descriptor)
