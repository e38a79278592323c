"""JSON-RPC 2.0 documents: bytes in, calls run, bytes (or nothing) out.

Theory of operation
-------------------
Transport-independent: :meth:`Processor.handle` takes one document (an HTTP
body, one line) and returns the response document, or ``None`` when there is
nothing to send (a notification, or a batch of only notifications).

Parsing. The bytes must be UTF-8 JSON (``NaN`` and ``Infinity`` are not JSON and
are refused, so is a number too large for a float, such as ``1e99999``, which
Python would read as infinity, and nesting too deep to parse): else ``-32700``. A JSON array is
a batch; an empty one, or one longer than ``max_batch_size``, is a single
``-32600``. Each request must be an object with ``"jsonrpc": "2.0"``, a string
``method`` and, if present, ``params`` that are an array or an object and an
``id`` that is a string, a number or null: else ``-32600``, whose ``id`` is the
request's when that one was valid, else null. A valid request without ``id`` is a
notification: it runs, and is never answered, not even with an error.

Calling. The method is looked up (``-32601``), its arguments checked against
its signature (``-32602``), then run with ``call_timeout``. A batch's calls run
concurrently, and each answer carries its request's ``id``. A
:class:`~relays_jsonrpc.JSONRPCError` is the answer as raised; any other
exception is logged and answered ``-32603`` without details (with them when
``debug`` is on); a result that is not JSON is ``-32603`` too. (A handler's
error is reported by the kernel, as an ``exception`` event; a registered
function's is logged here, on ``relays.jsonrpc``.)
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import traceback
from typing import Any

import attrs

from relays_http.rpc import RPCMethods

from ._errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_ERROR,
    JSONRPCError,
)

__all__ = ["JSONRPCLimits", "Processor"]

logger = logging.getLogger("relays.jsonrpc")

KiB = 1024
MiB = 1024 * KiB


def _positive(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be positive, not {value!r}")


@attrs.frozen
class JSONRPCLimits:
    """The limits of a JSON-RPC endpoint, with safe defaults."""

    #: Largest request document (an HTTP body, one line) in bytes [HTTP 413; a line
    #: transport answers -32600 and closes the connection].
    max_request_size: int = attrs.field(default=1 * MiB, validator=_positive)
    #: Most requests in one batch [-32600].
    max_batch_size: int = attrs.field(default=100, validator=_positive)
    #: Seconds a method may run before its caller gets -32000; None waits forever.
    call_timeout: float | None = attrs.field(default=60.0, validator=_positive)
    #: Requests one line-transport connection may have running at once; beyond it,
    #: reading from that connection pauses.
    max_pending_per_connection: int = attrs.field(default=16, validator=_positive)


_NO_ID: Any = object()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    """A JSON number with a fraction or exponent; one beyond a float's range is refused
    rather than read as infinity, which no JSON document can carry."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _error(code: int, message: str, request_id: Any, data: Any = _NO_ID) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not _NO_ID:
        error["data"] = data
    return {"jsonrpc": "2.0", "error": error, "id": request_id}


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def _encode(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
        "utf-8"
    )


class Processor:
    """Answers JSON-RPC documents with the methods of *methods*."""

    def __init__(
        self, methods: RPCMethods, *, limits: JSONRPCLimits | None = None, debug: bool = False
    ) -> None:
        self.methods = methods
        self.limits = limits or JSONRPCLimits()
        self.debug = debug

    async def handle(self, data: bytes, request: Any = None) -> bytes | None:
        """The response document to *data*, or None when nothing is to be sent."""
        try:
            document = json.loads(
                data.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float
            )
        except (ValueError, RecursionError) as error:
            detail = str(error) if self.debug else "the request is not valid UTF-8 JSON"
            return _encode(_error(PARSE_ERROR, "Parse error", None, detail))
        if isinstance(document, list):
            if not document:
                return _encode(_error(INVALID_REQUEST, "Invalid Request", None, "empty batch"))
            if len(document) > self.limits.max_batch_size:
                detail = f"a batch holds at most {self.limits.max_batch_size} requests"
                return _encode(_error(INVALID_REQUEST, "Invalid Request", None, detail))
            answers = await asyncio.gather(*(self._answer(item, request) for item in document))
            replies = [answer for answer in answers if answer is not None]
            return b"[" + b",".join(replies) + b"]" if replies else None
        return await self._answer(document, request)

    async def _answer(self, item: Any, request: Any) -> bytes | None:
        """The encoded response to one request object; None for a notification."""
        if not isinstance(item, dict):
            return _encode(
                _error(INVALID_REQUEST, "Invalid Request", None, "a request is an object")
            )
        request_id = item.get("id", _NO_ID)
        reply_id = request_id if request_id is not _NO_ID and _valid_id(request_id) else None
        problem = self._problem(item, request_id)
        if problem is not None:
            return _encode(_error(INVALID_REQUEST, "Invalid Request", reply_id, problem))
        params = item.get("params", [])
        args, kwargs = (params, {}) if isinstance(params, list) else ((), params)
        reply = await self._call(item["method"], args, kwargs, reply_id, request)
        if request_id is _NO_ID:
            return None  # a notification: never answered, not even with an error
        return reply

    @staticmethod
    def _problem(item: dict[str, Any], request_id: Any) -> str | None:
        if item.get("jsonrpc") != "2.0":
            return 'the "jsonrpc" member must be exactly "2.0"'
        if not isinstance(item.get("method"), str):
            return 'the "method" member must be a string'
        if "params" in item and not isinstance(item["params"], list | dict):
            return 'the "params" member must be an array or an object'
        if request_id is not _NO_ID and not _valid_id(request_id):
            return 'the "id" member must be a string, a number or null'
        return None

    async def _call(self, name: str, args: Any, kwargs: Any, reply_id: Any, request: Any) -> bytes:
        method = None if name.startswith("rpc.") else self.methods.find(name)
        if method is None:
            return _encode(_error(METHOD_NOT_FOUND, "Method not found", reply_id, name))
        mismatch = method.check(args, kwargs)
        if mismatch is not None:
            return _encode(_error(INVALID_PARAMS, "Invalid params", reply_id, mismatch))
        timeout = self.limits.call_timeout
        try:
            result = await asyncio.wait_for(
                self.methods.invoke(method, args, kwargs, request), timeout
            )
        except JSONRPCError as error:
            try:
                return _encode({"jsonrpc": "2.0", "error": error.to_json(), "id": reply_id})
            except (TypeError, ValueError, RecursionError) as bad_data:
                return _encode(self._internal(name, bad_data, reply_id))
        except TimeoutError:
            detail = f"the method did not finish within {timeout} s"
            return _encode(_error(SERVER_ERROR, "Server error", reply_id, detail))
        except Exception as error:
            # A handler's failure is reported by the kernel (an ``exception`` event,
            # logged when nobody handles it); a registered function's only by us.
            return _encode(self._internal(name, error, reply_id, log=method.function is not None))
        try:
            return _encode({"jsonrpc": "2.0", "result": result, "id": reply_id})
        except (TypeError, ValueError, RecursionError) as error:
            return _encode(self._internal(name, error, reply_id))

    def _internal(
        self, name: str, error: BaseException, reply_id: Any, *, log: bool = True
    ) -> dict[str, Any]:
        lines = traceback.format_exception(type(error), error, error.__traceback__)
        if log:
            logger.error("JSON-RPC method %r failed:\n%s", name, "".join(lines))
        if self.debug:
            data = {"type": type(error).__name__, "message": str(error), "traceback": lines}
            return _error(INTERNAL_ERROR, "Internal error", reply_id, data)
        return _error(INTERNAL_ERROR, "Internal error", reply_id)
