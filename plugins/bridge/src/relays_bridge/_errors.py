"""The errors of relays-bridge, named by whose fault they are.

A local mistake (an argument that cannot travel, an event class nobody registered)
is refused before anything is sent. A bad peer (bytes that are no message of ours, an
event nobody registered here) is a :class:`BridgeProtocolError` and never reaches a
handler. A remote handler's failure comes back as a :class:`RemoteError`: its type
name, message and traceback as text; nothing from the network is ever executed or
unpickled.
"""

from __future__ import annotations

import builtins
from typing import Any

__all__ = [
    "BridgeError",
    "BridgeOverflowError",
    "BridgeProtocolError",
    "BridgeTimeout",
    "EngineNotInstalled",
    "EventNotRegistered",
    "EventNotSerialisable",
    "RemoteError",
    "remote_error",
]


class BridgeError(Exception):
    """Base class of every error relays-bridge raises."""


class EventNotSerialisable(BridgeError, TypeError):
    """An argument of an event fired on a bridged channel cannot be sent.

    ``argument`` names it (``"args[1]"``, ``"kwargs['when']"``, ``"kwargs['items'][3]"``).
    """

    def __init__(self, event_name: str, argument: str, reason: str) -> None:
        self.event_name = event_name
        self.argument = argument
        super().__init__(
            f"cannot send {event_name!r} across the bridge: {argument} {reason}; "
            "send only None, bool, int, float, str, bytes (msgpack only), "
            "lists and dicts with str keys"
        )


class EventNotRegistered(BridgeError, LookupError):
    """An event fired on a bridged channel has a class the bridge does not know."""


class BridgeProtocolError(BridgeError, ValueError):
    """Bytes from the network that are not a valid message; nothing handled them."""


class BridgeOverflowError(BridgeError):
    """The outgoing buffer is full (the broker is unreachable): the event was refused."""


class BridgeTimeout(BridgeError, TimeoutError):
    """No reply came back in time for an event sent as a request."""


class EngineNotInstalled(BridgeError, ImportError):
    """The client library for a URL's scheme is missing (the message says what to install)."""


class RemoteError(BridgeError):
    """A handler in another process raised; this is its report, not its exception.

    ``type_name`` is the remote exception's class name, ``remote_message`` its message
    and ``remote_traceback`` its formatted traceback (text only). When the remote type
    is a builtin exception (``ValueError``, ``KeyError``, ...) the raised object is
    also an instance of it, so ``except ValueError`` works across processes.
    """

    def __init__(self, type_name: str, message: str, traceback: str = "") -> None:
        self.type_name = type_name
        self.remote_message = message
        self.remote_traceback = traceback
        super().__init__(f"{type_name}: {message}" if message else type_name)

    def __str__(self) -> str:
        return (
            f"{self.type_name}: {self.remote_message}" if self.remote_message else (self.type_name)
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (remote_error, (self.type_name, self.remote_message, self.remote_traceback))


_REMOTE_BUILTINS: dict[str, type[RemoteError]] = {}


def remote_error(type_name: str, message: str, traceback: str = "") -> RemoteError:
    """The :class:`RemoteError` for a remote failure, also an instance of the builtin
    exception of that name when there is one (made once per name, never from data
    beyond the name itself)."""
    error_class = _REMOTE_BUILTINS.get(type_name)
    if error_class is None:
        error_class = RemoteError
        builtin = getattr(builtins, type_name, None)
        if (
            isinstance(builtin, type)
            and issubclass(builtin, Exception)
            and not issubclass(builtin, (OSError, UnicodeError))  # constructors with fields
        ):
            try:
                error_class = type(f"Remote{type_name}", (RemoteError, builtin), {})
            except TypeError:  # an incompatible layout: the plain report will do
                error_class = RemoteError
        _REMOTE_BUILTINS[type_name] = error_class
    return error_class(type_name, message, traceback)
