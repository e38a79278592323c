"""Form bodies: ``application/x-www-form-urlencoded`` and ``multipart/form-data``.

Both parsers hold to one rule: any input either parses or raises an error the
server answers with a 4xx (:class:`FormError`, a 400 that is also a
:class:`ValueError`, or :class:`~relays_http.PayloadTooLarge`), and the message
names the field at fault. Never another exception, never a 500 for a bad form.

The multipart parser reads the body through a file object in blocks, so a body
spooled to disk is never loaded whole; file parts go to temporary files that
stay in memory up to ``spool_threshold`` bytes. Non-file fields are bounded by
``max_form_field_size``, the number of parts by ``max_form_fields``, and a part's
header section by ``max_part_head_size``.
"""

from __future__ import annotations

import asyncio
import io
import re
import tempfile
from typing import IO, TYPE_CHECKING
from urllib.parse import unquote, unquote_to_bytes

from ._errors import BadRequest, PayloadTooLarge
from ._headers import Headers, MultiDict
from ._limits import Limits

if TYPE_CHECKING:
    from ._request import Request

__all__ = [
    "FormData",
    "FormError",
    "UploadedFile",
    "parse_form",
    "parse_multipart",
    "parse_urlencoded",
]

_BLOCK = 64 * 1024
# RFC 2046 5.1.1: bchars, 1 to 70 of them, not ending with a space.
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
_PARAMETER = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


class FormError(BadRequest, ValueError):
    """A form body that cannot be read (400); the message names the field."""


class UploadedFile:
    """A file part of a multipart form: its data is in :attr:`file`, at position 0."""

    def __init__(
        self,
        name: str,
        filename: str,
        content_type: str,
        file: IO[bytes],
        size: int,
        headers: Headers,
    ) -> None:
        #: The form field's name.
        self.name = name
        #: The file name the client gave (never trust it as a path).
        self.filename = filename
        #: The part's ``Content-Type`` (``application/octet-stream`` when missing).
        self.content_type = content_type
        #: The data, in memory or in a temporary file.
        self.file = file
        #: The size in bytes.
        self.size = size
        #: All the part's header fields.
        self.headers = headers

    def read(self) -> bytes:
        """The whole content (blocking when it was spooled to disk)."""
        self.file.seek(0)
        return self.file.read()

    def close(self) -> None:
        self.file.close()

    def __repr__(self) -> str:
        return f"<UploadedFile {self.name}={self.filename!r} {self.size} bytes>"


class FormData:
    """The fields and files of a form. ``form["name"]`` is a field's first value."""

    def __init__(self) -> None:
        #: Text fields, multi-valued.
        self.fields = MultiDict()
        #: File parts by field name, in order.
        self.files: dict[str, list[UploadedFile]] = {}

    def __getitem__(self, name: str) -> str:
        return self.fields[name]

    def __contains__(self, name: object) -> bool:
        return name in self.fields or name in self.files

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of text field *name*, or *default*."""
        return self.fields.get(name, default)

    def getall(self, name: str) -> list[str]:
        """Every value of text field *name*."""
        return self.fields.getall(name)

    def file(self, name: str) -> UploadedFile | None:
        """The first file uploaded as *name*, or None."""
        files = self.files.get(name)
        return files[0] if files else None

    def close(self) -> None:
        """Delete the uploaded files' temporary data."""
        for files in self.files.values():
            for upload in files:
                upload.close()

    def __repr__(self) -> str:
        return f"<FormData fields={self.fields.allitems()!r} files={list(self.files)!r}>"


async def parse_form(request: Request, limits: Limits | None) -> FormData:
    """Parse *request*'s body by its Content-Type; an empty form for other types."""
    limits = limits if limits is not None else Limits()
    media = request.content_type
    if media == "application/x-www-form-urlencoded":
        return parse_urlencoded(await request.read(), limits)
    if media == "multipart/form-data":
        boundary = _boundary(request.header(b"content-type") or b"")
        body = request.body
        body.seek(0)
        if isinstance(body, io.BytesIO):
            return parse_multipart(body, boundary, limits)
        return await asyncio.to_thread(parse_multipart, body, boundary, limits)
    return FormData()


def _boundary(content_type: bytes) -> str:
    text = content_type.decode("latin-1")
    for key, value in _PARAMETER.findall(text):
        if key.lower() == "boundary":
            return _unquote(value.strip())
    raise FormError("multipart/form-data without a boundary parameter")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _too_many(limits: Limits) -> PayloadTooLarge:
    return PayloadTooLarge(f"the form has more than {limits.max_form_fields} fields")


def _too_large(name: str, limits: Limits) -> PayloadTooLarge:
    return PayloadTooLarge(f"form field {name!r} is over {limits.max_form_field_size} bytes")


def parse_urlencoded(data: bytes, limits: Limits | None = None) -> FormData:
    """``a=1&b=x+y`` -> fields; values are UTF-8 after percent-decoding."""
    limits = limits if limits is not None else Limits()
    form = FormData()
    if not data:
        return form
    if data.count(b"&") + 1 > limits.max_form_fields:
        raise _too_many(limits)
    for part in data.split(b"&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition(b"=")
        name = _decode_component(raw_name, None)
        if len(raw_value) > 3 * limits.max_form_field_size:
            raise _too_large(name, limits)
        value = _decode_component(raw_value, name)
        if len(value) > limits.max_form_field_size:
            raise _too_large(name, limits)
        form.fields.add(name, value)
    return form


def _decode_component(raw: bytes, field: str | None) -> str:
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        what = "a form field name" if field is None else f"form field {field!r}"
        raise FormError(f"{what} is not valid UTF-8") from None


class _Buffer:
    """Block reads from a file object, with the unread rest kept in a bytearray."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.data = bytearray()
        self.eof = False

    def fill(self) -> None:
        block = self.stream.read(_BLOCK)
        if block:
            self.data += block
        else:
            self.eof = True

    def need(self, size: int) -> bool:
        """Read until *size* bytes are buffered; False at EOF before that."""
        while len(self.data) < size and not self.eof:
            self.fill()
        return len(self.data) >= size


def parse_multipart(stream: IO[bytes], boundary: str, limits: Limits | None = None) -> FormData:
    """Parse a ``multipart/form-data`` body read from *stream* (RFC 7578)."""
    limits = limits if limits is not None else Limits()
    if _BOUNDARY.fullmatch(boundary) is None:
        raise FormError("invalid multipart boundary")
    delimiter = b"--" + boundary.encode("ascii")
    marker = b"\r\n" + delimiter
    buffer = _Buffer(stream)
    form = FormData()
    try:
        _skip_preamble(buffer, delimiter, marker)
        parts = 0
        while True:
            if not buffer.need(2):
                raise FormError("multipart body ends after a boundary line")
            if buffer.data[:2] == b"--":
                return form  # the close delimiter; the epilogue is ignored
            _end_of_boundary_line(buffer)
            parts += 1
            if parts > limits.max_form_fields:
                raise _too_many(limits)
            _read_part(buffer, marker, limits, form)
    except BaseException:
        form.close()
        raise


def _skip_preamble(buffer: _Buffer, delimiter: bytes, marker: bytes) -> None:
    buffer.need(len(delimiter))
    data = buffer.data
    if data.startswith(delimiter):
        del data[: len(delimiter)]
        return
    while True:
        index = data.find(marker)
        if index >= 0:
            del data[: index + len(marker)]
            return
        if buffer.eof:
            raise FormError("the multipart body holds no boundary line")
        if len(data) > len(marker):
            del data[: len(data) - len(marker)]
        buffer.fill()


def _end_of_boundary_line(buffer: _Buffer) -> None:
    data = buffer.data
    while True:  # transport padding (RFC 2046 5.1.1): spaces and tabs before the CRLF
        stripped = data.lstrip(b" \t")
        if stripped or buffer.eof:
            break
        data.clear()
        buffer.fill()
    del data[: len(data) - len(stripped)]
    if not buffer.need(2) or data[:2] != b"\r\n":
        raise FormError("malformed multipart boundary line")
    del data[:2]


def _read_part(buffer: _Buffer, marker: bytes, limits: Limits, form: FormData) -> None:
    headers = _read_part_head(buffer, limits)
    disposition = headers.get("content-disposition") or ""
    kind, _, parameters = disposition.partition(";")
    if kind.strip().lower() != "form-data":
        raise FormError("a multipart part has no 'Content-Disposition: form-data'")
    values = {
        key.lower(): _unquote(value.strip()) for key, value in _PARAMETER.findall(";" + parameters)
    }
    name = values.get("name")
    if name is None:
        raise FormError("a multipart part has no field name")
    filename = values.get("filename")
    if "filename*" in values:
        filename = _extended_value(values["filename*"], name)
    if filename is None:
        form.fields.add(name, _read_field(buffer, marker, limits, name))
        return
    sink = tempfile.SpooledTemporaryFile(max_size=limits.spool_threshold)  # noqa: SIM115
    try:
        size = _copy_until(buffer, marker, sink, None, name)
    except BaseException:
        sink.close()
        raise
    sink.seek(0)
    content_type = headers.get("content-type") or "application/octet-stream"
    upload = UploadedFile(name, filename, content_type, sink, size, headers)
    form.files.setdefault(name, []).append(upload)


def _extended_value(value: str, field: str) -> str:
    """RFC 8187 ``UTF-8''%e2%82%ac.txt``."""
    charset, _, rest = value.partition("'")
    _, _, encoded = rest.partition("'")
    try:
        return unquote(encoded, encoding=charset or "utf-8", errors="strict")
    except (LookupError, UnicodeDecodeError):
        raise FormError(f"form field {field!r} has an undecodable file name") from None


def _read_part_head(buffer: _Buffer, limits: Limits) -> Headers:
    data = buffer.data
    if buffer.need(2) and data[:2] == b"\r\n":
        del data[:2]
        return Headers()
    while True:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(data) > limits.max_part_head_size:
            raise FormError("multipart part headers are too large")
        if buffer.eof:
            raise FormError("the multipart body ends inside a part's headers")
        buffer.fill()
    if end > limits.max_part_head_size:
        raise FormError("multipart part headers are too large")
    try:
        text = bytes(data[:end]).decode("utf-8")
    except UnicodeDecodeError:
        raise FormError("multipart part headers are not valid UTF-8") from None
    del data[: end + 4]
    headers = Headers()
    for line in text.split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or "\n" in line or "\r" in line:
            raise FormError("malformed header line in a multipart part")
        headers.add(name, value.strip())
    return headers


def _read_field(buffer: _Buffer, marker: bytes, limits: Limits, name: str) -> str:
    sink = io.BytesIO()
    _copy_until(buffer, marker, sink, limits, name)
    try:
        return sink.getvalue().decode("utf-8")
    except UnicodeDecodeError:
        raise FormError(f"form field {name!r} is not valid UTF-8") from None


def _copy_until(
    buffer: _Buffer, marker: bytes, sink: IO[bytes], limits: Limits | None, name: str
) -> int:
    """Copy part data up to the next boundary into *sink*; return its size."""
    data = buffer.data
    size = 0
    keep = len(marker) - 1
    while True:
        index = data.find(marker)
        if index >= 0:
            size += index
            if limits is not None and size > limits.max_form_field_size:
                raise _too_large(name, limits)
            sink.write(data[:index])
            del data[: index + len(marker)]
            return size
        if buffer.eof:
            raise FormError(f"form field {name!r} is not ended by a boundary line")
        if len(data) > keep:
            chunk = len(data) - keep
            size += chunk
            if limits is not None and size > limits.max_form_field_size:
                raise _too_large(name, limits)
            sink.write(data[:chunk])
            del data[:chunk]
        buffer.fill()
