"""XML-RPC documents: safe parsing, marshalling, gzip, and the fault codes.

Parsing goes through :class:`defusedxml.xmlrpc.DefusedExpatParser` with DTDs
forbidden outright (an XML-RPC call never needs one), so entity expansion
(billion laughs, quadratic blow-up) and external entities are refused before
anything is expanded or fetched; the standard library's ``Unmarshaller`` turns
the parse events into Python values (``datetime`` for ``dateTime.iso8601``,
``bytes`` for ``base64``). The document's size is bounded before parsing, and a
gzip body is decompressed in bounded steps, so a small bomb cannot become a large
document. Arrays and structs nest at most ``max_nesting`` deep, counted as the
parser opens them: a deeper value is refused before it is built, and a value
the server holds can always be encoded again (the encoder recurses once per
level, so a thousand levels would exhaust Python's stack).

Fault codes follow the "specification for fault code interoperability" that
most XML-RPC servers use, so clients can tell the client's mistakes (-32700 to
-32602) from the server's (-32603, -32500, -32400).
"""

from __future__ import annotations

import datetime
import xmlrpc.client
import zlib
from typing import Any
from xmlrpc.client import Unmarshaller, dumps

from defusedxml.xmlrpc import DefusedExpatParser

__all__ = [
    "APPLICATION_ERROR",
    "DEFAULT_MAX_NESTING",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "NOT_WELL_FORMED",
    "SYSTEM_ERROR",
    "DocumentTooLarge",
    "Fault",
    "decode_call",
    "encode_fault",
    "encode_result",
    "gunzip",
    "gzip_body",
]

#: The body is not well-formed XML (or not valid gzip, or refused as unsafe).
NOT_WELL_FORMED = -32700
#: Well-formed XML, but not an XML-RPC ``methodCall``.
INVALID_REQUEST = -32600
#: No such method.
METHOD_NOT_FOUND = -32601
#: The parameters do not fit the method.
INVALID_PARAMS = -32602
#: The method's result cannot be sent in XML-RPC (``None`` without ``allow_none``,
#: an integer over 32 bits, an object of another type).
INTERNAL_ERROR = -32603
#: The method raised an error other than :class:`~xmlrpc.client.Fault`.
APPLICATION_ERROR = -32500
#: A limit of this server was hit (a method took too long).
SYSTEM_ERROR = -32400


class Fault(xmlrpc.client.Fault):
    """An XML-RPC fault: ``raise Fault(4001, "no such user")`` in a method.

    The standard library's :class:`xmlrpc.client.Fault` (what clients raise), marked
    as an answer rather than a failure, so the kernel neither fires an ``exception``
    event nor logs it. Raising a plain :class:`xmlrpc.client.Fault` works as well,
    but is reported like an error.
    """

    relays_exception_event = False


#: How deep arrays and structs may nest in a call, by default.
DEFAULT_MAX_NESTING = 100


class _TooDeep(Exception):
    """Raised from inside the parser: a value nests deeper than the limit."""


class _BoundedUnmarshaller(Unmarshaller):
    """The standard library's unmarshaller, refusing values nested past *max_nesting*."""

    def __init__(self, max_nesting: int) -> None:
        super().__init__(use_datetime=False, use_builtin_types=True)
        self._max_nesting = max_nesting
        self._depth = 0

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag in ("array", "struct"):
            self._depth += 1
            if self._depth > self._max_nesting:
                raise _TooDeep
        super().start(tag, attrs)

    def end(self, tag: str) -> None:
        if tag in ("array", "struct"):
            self._depth -= 1
        super().end(tag)


class DocumentTooLarge(ValueError):
    """The request document (after decompression) is over the size limit."""


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress a gzip body, never producing more than *limit* bytes.

    Raises :class:`DocumentTooLarge` past the limit and :class:`ValueError` for data
    that is not gzip.
    """
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        output = decompressor.decompress(data, limit + 1)
    except zlib.error as error:
        raise ValueError(f"the body is not valid gzip: {error}") from None
    if len(output) > limit:
        raise DocumentTooLarge(f"the decompressed request is over {limit} bytes")
    if not decompressor.eof:
        raise ValueError("the gzip body is truncated")
    return output


def gzip_body(data: bytes) -> bytes:
    """Compress a response body (gzip framing, what ``Content-Encoding: gzip`` means)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def decode_call(
    data: bytes, *, max_nesting: int = DEFAULT_MAX_NESTING
) -> tuple[str, tuple[Any, ...]]:
    """``(method name, params)`` of a ``methodCall`` document.

    Raises :class:`~xmlrpc.client.Fault` with :data:`NOT_WELL_FORMED` or
    :data:`INVALID_REQUEST` (also for arrays and structs nested deeper than
    *max_nesting*), whatever the bytes.
    """
    unmarshaller = _BoundedUnmarshaller(max_nesting)
    parser = DefusedExpatParser(unmarshaller, forbid_dtd=True)
    try:
        parser.feed(data)
        parser.close()
    except _TooDeep:
        raise Fault(
            INVALID_REQUEST,
            f"invalid XML-RPC: arrays and structs nest at most {max_nesting} deep here",
        ) from None
    except Exception as error:  # expat, defusedxml and value errors alike: the client's
        raise Fault(NOT_WELL_FORMED, f"parse error, not well formed: {error}") from None
    try:
        params = unmarshaller.close()
    except Exception:  # an incomplete or mismatched document
        raise Fault(INVALID_REQUEST, "invalid XML-RPC: not a complete methodCall") from None
    name = unmarshaller.getmethodname()
    if not isinstance(name, str) or not name:
        raise Fault(INVALID_REQUEST, "invalid XML-RPC: no methodName in a methodCall")
    return name, tuple(params)


def encode_result(result: Any, *, allow_none: bool) -> bytes:
    """A ``methodResponse`` with *result*; raises :class:`Fault` when it cannot be sent."""
    try:
        document = dumps((result,), methodresponse=True, allow_none=allow_none, encoding="utf-8")
        return document.encode("utf-8")
    except (TypeError, OverflowError, ValueError) as error:
        raise Fault(INTERNAL_ERROR, f"the result cannot be sent in XML-RPC: {error}") from None
    except RecursionError:  # a result built by the method, nested past Python's stack
        raise Fault(INTERNAL_ERROR, "the result nests too deep to be sent") from None


def encode_fault(fault: xmlrpc.client.Fault) -> bytes:
    """A ``methodResponse`` holding *fault*."""
    code = fault.faultCode if isinstance(fault.faultCode, int) else APPLICATION_ERROR
    string = str(fault.faultString)
    return dumps(xmlrpc.client.Fault(code, string), methodresponse=True, encoding="utf-8").encode(
        "utf-8"
    )


#: XML-RPC type names for ``system.methodSignature``, by Python type.
TYPE_NAMES: dict[Any, str] = {
    int: "int",
    float: "double",
    str: "string",
    bool: "boolean",
    bytes: "base64",
    bytearray: "base64",
    datetime.datetime: "dateTime.iso8601",
    list: "array",
    tuple: "array",
    dict: "struct",
    type(None): "nil",
}
