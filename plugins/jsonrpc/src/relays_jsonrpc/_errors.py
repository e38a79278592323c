"""JSON-RPC 2.0 errors: the standard codes, and the error a method raises to answer one."""

from __future__ import annotations

from typing import Any

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "SERVER_ERROR",
    "InvalidParams",
    "JSONRPCError",
]

#: The document is not JSON.
PARSE_ERROR = -32700
#: The JSON is not a request object (or a batch of them).
INVALID_REQUEST = -32600
#: No such method.
METHOD_NOT_FOUND = -32601
#: The arguments do not fit the method.
INVALID_PARAMS = -32602
#: The method failed (a bug on the server, never the client's fault).
INTERNAL_ERROR = -32603
#: A limit of this server was hit (the range -32000 to -32099 is the server's own).
SERVER_ERROR = -32000

_MISSING: Any = object()


class JSONRPCError(Exception):
    """An error answer: ``raise JSONRPCError(4001, "no such user", {"id": 7})``.

    Raised in a method, it becomes the response's ``error`` member as it is, and
    nothing is logged: it is an answer, not a failure. *data* (any JSON value) is
    left out of the response when not given.
    """

    #: An answer, not a failure: the kernel fires no ``exception`` event for it.
    relays_exception_event = False

    def __init__(self, code: int, message: str, data: Any = _MISSING) -> None:
        if not isinstance(code, int) or isinstance(code, bool):
            raise TypeError(f"a JSON-RPC error code is an integer, not {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    @property
    def has_data(self) -> bool:
        """Whether the error carries a ``data`` member."""
        return self.data is not _MISSING

    def to_json(self) -> dict[str, Any]:
        """The ``error`` member of a response."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not _MISSING:
            error["data"] = self.data
        return error

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.message!r})"


class InvalidParams(JSONRPCError):
    """``-32602``: raise it when arguments have the right shape but wrong values."""

    def __init__(self, message: str = "Invalid params", data: Any = _MISSING) -> None:
        super().__init__(INVALID_PARAMS, message, data)
