"""The XML-RPC dispatcher: XML-RPC at one path of a relays-http server.

Theory of operation
-------------------
Claiming. How a request for its path is claimed and checked is relays-http's
:class:`relays_http.rpc.RPCEndpoint`, shared with relays-jsonrpc: ``POST`` only
(405), an XML ``Content-Type`` (415), the body's size (413). XML-RPC adds one
check: a ``Content-Encoding`` of gzip or none (415). Everything else is answered
with status 200 and an XML-RPC document, as the specification says: a bad
document, an unknown method and a failing method are faults, never HTTP errors.

Calling. The call runs in the endpoint's own handler task. ``system.*`` methods are the
dispatcher's own; other methods come from relays-http's shared registry,
:class:`relays_http.rpc.RPCMethods`.
``system.multicall`` runs its calls one after another, in order (later calls may
depend on earlier ones), and refuses to nest.

Answering. A response body of ``gzip_threshold`` bytes or more is gzip-compressed
when the client accepts it (``xmlrpc.client`` does).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import traceback
import typing
import xmlrpc.client
from collections.abc import Callable
from typing import Any

import attrs

from relays_http import HTTPError, PayloadTooLarge, Request, Response, UnsupportedMediaType
from relays_http.rpc import RPCEndpoint, RPCMethod

from ._codec import (
    APPLICATION_ERROR,
    DEFAULT_MAX_NESTING,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    NOT_WELL_FORMED,
    SYSTEM_ERROR,
    TYPE_NAMES,
    DocumentTooLarge,
    Fault,
    decode_call,
    encode_fault,
    encode_result,
    gunzip,
    gzip_body,
)

__all__ = ["XMLRPC", "XMLRPCLimits"]

logger = logging.getLogger("relays.xmlrpc")

GZIP_ENCODINGS = (b"gzip", b"x-gzip")
SYSTEM_METHODS = (
    "system.listMethods",
    "system.methodHelp",
    "system.methodSignature",
    "system.multicall",
)


def _positive(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be positive, not {value!r}")


@attrs.frozen
class XMLRPCLimits:
    """The limits of an XML-RPC endpoint, with safe defaults."""

    #: Largest request document in bytes, after gzip decompression [413].
    max_request_size: int = attrs.field(default=1024 * 1024, validator=_positive)
    #: Most calls in one ``system.multicall`` [fault -32602].
    max_multicall_size: int = attrs.field(default=100, validator=_positive)
    #: Seconds a method may run before the caller gets fault -32400; None: forever.
    call_timeout: float | None = attrs.field(default=60.0, validator=_positive)
    #: Responses this large or larger are gzip-compressed for clients that accept it.
    gzip_threshold: int = attrs.field(default=1400, validator=_positive)
    #: How deep arrays and structs may nest in a call [fault -32600].
    max_nesting: int = attrs.field(default=DEFAULT_MAX_NESTING, validator=_positive)


class XMLRPC(RPCEndpoint):
    """Serve XML-RPC at *path* of the HTTP server whose channel is *channel*.

    ``Server(...) + XMLRPC() + Calculator()``: a call of ``math.add`` fires the event
    ``math.add`` on *rpc_channel* (``"rpc"``) and the handlers' return value is the
    result; or serve a function with :meth:`register_function`. A method raises
    :class:`~relays_xmlrpc.Fault` to answer with a fault of its own; other errors
    become fault -32500 without details unless *debug* is on. ``None`` can be sent
    (``<nil/>``) only with *allow_none*.
    """

    protocol = "XML-RPC"
    media_types = ("text/xml", "application/xml")

    def __init__(
        self,
        path: str = "/RPC2",
        *,
        channel: Any = "web",
        rpc_channel: Any = "rpc",
        allow_none: bool = False,
        limits: XMLRPCLimits | None = None,
        debug: bool = False,
    ) -> None:
        super().__init__(path, channel=channel, rpc_channel=rpc_channel)
        self.allow_none = allow_none
        self.limits = limits or XMLRPCLimits()
        self.debug = debug
        self._system: dict[str, Callable[..., Any]] = {
            "system.listMethods": self._list_methods,
            "system.methodHelp": self._method_help,
            "system.methodSignature": self._method_signature,
        }

    # -- HTTP ------------------------------------------------------------------------

    @property
    def max_request_size(self) -> int:
        """The limits' ``max_request_size`` (the body as sent, and again once gunzipped)."""
        return self.limits.max_request_size

    def check_request(self, request: Request) -> HTTPError | None:
        """415 for a body encoded other than with gzip or not at all."""
        encoding = _content_encoding(request)
        if encoding != b"identity" and encoding not in GZIP_ENCODINGS:
            return UnsupportedMediaType("an XML-RPC call may be gzip-encoded, nothing else")
        return None

    async def answer(self, request: Request) -> Response | HTTPError:
        """The ``methodResponse`` document, gzip-compressed when it is large and may be."""
        data = await request.read()
        if _content_encoding(request) in GZIP_ENCODINGS:
            try:
                data = gunzip(data, self.limits.max_request_size)
            except DocumentTooLarge as error:
                return PayloadTooLarge(str(error))
            except ValueError as error:
                return self._respond(request, encode_fault(Fault(NOT_WELL_FORMED, str(error))))
        return self._respond(request, await self.dispatch(data, request))

    def _respond(self, request: Request, body: bytes) -> Response:
        answer = Response(body, content_type="text/xml; charset=utf-8")
        if len(body) >= self.limits.gzip_threshold:
            answer.headers["vary"] = "Accept-Encoding"
            if b"gzip" in (request.header(b"accept-encoding") or b"").lower():
                answer.body = gzip_body(body)
                answer.headers["content-encoding"] = "gzip"
        return answer

    # -- XML-RPC ---------------------------------------------------------------------

    async def dispatch(self, data: bytes, request: Any = None) -> bytes:
        """The ``methodResponse`` document for the ``methodCall`` document *data*."""
        try:
            name, params = decode_call(data, max_nesting=self.limits.max_nesting)
            result = await self._call(name, params, request)
            return encode_result(result, allow_none=self.allow_none)
        except xmlrpc.client.Fault as fault:
            return encode_fault(fault)

    async def _call(self, name: str, params: tuple[Any, ...], request: Any) -> Any:
        """The result of one call; a :class:`Fault` raised for every kind of failure."""
        if name == "system.multicall":
            if len(params) != 1 or not isinstance(params[0], list):
                raise Fault(INVALID_PARAMS, "system.multicall takes one array of calls")
            return await self._multicall(params[0], request)
        system = self._system.get(name)
        if system is not None:
            try:
                return system(*params)
            except TypeError as error:
                raise Fault(INVALID_PARAMS, f"{name}: {error}") from None
        method = self.methods.find(name)
        if method is None:
            raise Fault(METHOD_NOT_FOUND, f"method {name!r} is not supported")
        mismatch = method.check(params)
        if mismatch is not None:
            raise Fault(INVALID_PARAMS, f"{name}: {mismatch}")
        return await self._run(method, params, request)

    async def _run(self, method: RPCMethod, params: tuple[Any, ...], request: Any) -> Any:
        timeout = self.limits.call_timeout
        try:
            return await asyncio.wait_for(
                self.methods.invoke(method, params, request=request), timeout
            )
        except xmlrpc.client.Fault:
            raise
        except TimeoutError:
            raise Fault(SYSTEM_ERROR, f"{method.name} did not finish within {timeout} s") from None
        except Exception as error:
            lines = traceback.format_exception(type(error), error, error.__traceback__)
            if method.function is not None:  # a handler's error the kernel reports itself
                logger.error("XML-RPC method %r failed:\n%s", method.name, "".join(lines))
            message = f"{method.name} failed"
            if self.debug:
                message = f"{message}: {type(error).__name__}: {error}\n{''.join(lines)}"
            raise Fault(APPLICATION_ERROR, message) from None

    async def _multicall(self, calls: list[Any], request: Any) -> list[Any]:
        if len(calls) > self.limits.max_multicall_size:
            raise Fault(
                INVALID_PARAMS,
                f"system.multicall takes at most {self.limits.max_multicall_size} calls",
            )
        results: list[Any] = []
        for call in calls:
            try:
                if not isinstance(call, dict) or not isinstance(call.get("methodName"), str):
                    raise Fault(INVALID_PARAMS, "each call is a struct with a methodName")
                name, params = call["methodName"], call.get("params", [])
                if not isinstance(params, list):
                    raise Fault(INVALID_PARAMS, "the params of a call are an array")
                if name == "system.multicall":
                    raise Fault(INVALID_PARAMS, "system.multicall cannot be nested")
                result = await self._call(name, tuple(params), request)
                encode_result(result, allow_none=self.allow_none)  # a fault if it cannot be sent
                results.append([result])
            except xmlrpc.client.Fault as fault:
                results.append({"faultCode": fault.faultCode, "faultString": fault.faultString})
        return results

    # -- introspection ---------------------------------------------------------------

    def _list_methods(self) -> list[str]:
        """The names of every method this endpoint serves."""
        return sorted(set(self.methods.names()) | set(SYSTEM_METHODS))

    def _method_help(self, name: str) -> str:
        """The documentation of method *name*."""
        if name in SYSTEM_METHODS:
            return _SYSTEM_HELP[name]
        method = self._method(name)
        return method.help()

    def _method_signature(self, name: str) -> list[list[str]] | str:
        """The signatures of method *name*: ``[[result, param, ...]]`` or ``"undef"``."""
        if name in SYSTEM_METHODS:
            return _SYSTEM_SIGNATURES[name]
        return method_signature(self._method(name))

    def _method(self, name: Any) -> RPCMethod:
        method = self.methods.find(name) if isinstance(name, str) else None
        if method is None:
            raise Fault(METHOD_NOT_FOUND, f"method {name!r} is not supported")
        return method


def _content_encoding(request: Request) -> bytes:
    return (request.header(b"content-encoding") or b"identity").strip().lower()


def _type_name(annotation: Any) -> str | None:
    """The XML-RPC name of an annotation (``list[int]`` is an ``array``), or None."""
    try:
        name = TYPE_NAMES.get(annotation)
        origin = typing.get_origin(annotation)
        if name is None and origin is not None:
            name = TYPE_NAMES.get(origin)
    except TypeError:  # an unhashable annotation
        return None
    return name


def method_signature(method: RPCMethod) -> list[list[str]] | str:
    """``[[return type, parameter types...]]`` in XML-RPC names, or ``"undef"``.

    From the annotations of the callable that describes *method*; ``"undef"`` as soon
    as one of them does not say, as the introspection specification asks.
    """
    signature = method.signatures[0]
    if signature is None:
        return "undef"
    try:
        hints = typing.get_type_hints(method.main)
    except Exception:  # annotations that do not resolve say nothing
        return "undef"
    types = []
    for parameter in signature.parameters.values():
        if parameter.kind not in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            return "undef"
        name = _type_name(hints.get(parameter.name, inspect.Parameter.empty))
        if name is None:
            return "undef"
        types.append(name)
    result = _type_name(hints.get("return", inspect.Parameter.empty))
    if result is None:
        return "undef"
    return [[result, *types]]


_SYSTEM_HELP = {
    "system.listMethods": "The names of every method this server serves.",
    "system.methodHelp": "The documentation of a method, given its name.",
    "system.methodSignature": "A method's signatures: [[result type, parameter types...]].",
    "system.multicall": (
        "Run several calls in one request, in order: each result is [value] "
        "or a fault struct {faultCode, faultString}."
    ),
}
_SYSTEM_SIGNATURES: dict[str, list[list[str]]] = {
    "system.listMethods": [["array"]],
    "system.methodHelp": [["string", "string"]],
    "system.methodSignature": [["array", "string"]],
    "system.multicall": [["array", "array"]],
}
