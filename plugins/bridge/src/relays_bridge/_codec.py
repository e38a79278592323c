"""The wire format of relays-bridge: sans-IO, bytes in and messages out.

Theory of operation
-------------------
Every broker relays-bridge speaks through (Redis, NATS, a pipe) carries whole frames,
so a message is exactly one frame: the codec never sees a partial message, and bytes
after a complete one make the frame invalid rather than the start of the next. A frame
is a map in JSON or msgpack; the first byte tells which (``{`` is JSON, a msgpack map
starts at 0x80), so processes with and without msgpack installed share a bridge as
long as the senders use JSON.

Two kinds of message travel: an :class:`EventMessage` (an event's registered name
and version, its arguments, where it was fired and, for a request, where to reply)
and a :class:`ReplyMessage` (the handlers' result, or the error's type name, message
and traceback as text). Decoding checks the shape and every field's type, so whatever
comes in is either a message or a :class:`BridgeProtocolError`; what the arguments
mean is the registry's job (:mod:`relays_bridge._registry`).

Only plain data crosses: None, bool, int, float, str, lists and str-keyed dicts
(plus bytes with msgpack). Anything else is refused when encoding, and the error
names the argument, so the mistake shows where the event is fired, not in another
process.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

import attrs

from ._errors import BridgeProtocolError, EventNotSerialisable

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "Codec",
    "EventMessage",
    "ReplyMessage",
    "msgpack_available",
]

#: Frames larger than this are refused both ways (1 MiB; NATS' default payload limit).
DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024
_WIRE_VERSION = 1
_INT64 = (-(1 << 63), (1 << 64) - 1)

try:
    import msgpack  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - the extra is installed in the dev env
    msgpack = None


def msgpack_available() -> bool:
    """True when the ``msgpack`` package is installed (``relays-bridge[msgpack]``)."""
    return msgpack is not None


@attrs.frozen
class EventMessage:
    """An event on its way to another process."""

    id: str
    origin: str
    name: str
    version: int
    channel: str
    args: list[Any]
    kwargs: dict[str, Any]
    #: Where the handlers' outcome goes; None when nobody waits for it.
    reply_to: str | None = None


@attrs.frozen
class ReplyMessage:
    """The outcome of a request: ``result`` when ``ok``, else the error as text."""

    id: str
    ok: bool
    result: Any = None
    error_type: str = ""
    error_message: str = ""
    traceback: str = ""


Message = EventMessage | ReplyMessage


class Codec:
    """Turns messages into frames and frames into messages.

    *format* is ``"json"``, ``"msgpack"`` or ``"auto"`` (msgpack when installed);
    decoding reads both whatever it is. *max_message_size* bounds frames both ways.
    """

    def __init__(
        self,
        format: Literal["auto", "json", "msgpack"] = "auto",
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        if format == "auto":
            format = "msgpack" if msgpack is not None else "json"
        if format == "msgpack" and msgpack is None:
            raise ImportError(
                "the msgpack format needs msgpack: pip install 'relays-bridge[msgpack]'"
            )
        if format not in ("json", "msgpack"):
            raise ValueError(f"format is 'auto', 'json' or 'msgpack', not {format!r}")
        self.format = format
        self.max_message_size = max_message_size
        self._json = json.JSONEncoder(
            ensure_ascii=False, allow_nan=False, separators=(",", ":"), check_circular=True
        )

    # -- encoding ----------------------------------------------------------------------

    def encode_event(self, message: EventMessage) -> bytes:
        """The frame of *message*; :class:`EventNotSerialisable` names a bad argument."""
        data = {
            "r": _WIRE_VERSION,
            "k": "e",
            "i": message.id,
            "o": message.origin,
            "n": message.name,
            "v": message.version,
            "c": message.channel,
            "a": message.args,
            "w": message.kwargs,
            "t": message.reply_to,
        }
        try:
            frame = self._dump(data)
        except (TypeError, ValueError, OverflowError) as error:
            where, reason = self._find_unsendable(message.args, message.kwargs)
            raise EventNotSerialisable(message.name, where, reason or str(error)) from None
        disguised = self._find_disguised(message.args, message.kwargs)
        if disguised is not None:
            raise EventNotSerialisable(message.name, *disguised)
        if len(frame) > self.max_message_size:
            raise EventNotSerialisable(
                message.name,
                "the event",
                f"is {len(frame)} bytes encoded, over max_message_size={self.max_message_size}",
            )
        return frame

    def encode_reply(self, message: ReplyMessage) -> bytes:
        """The frame of *message*. A result that cannot travel becomes an error reply
        (``EventNotSerialisable``), so the caller learns why instead of timing out."""
        if message.ok:
            data: dict[str, Any] = {"r": _WIRE_VERSION, "k": "r", "i": message.id, "ok": True}
            data["x"] = message.result
            try:
                frame = self._dump(data)
                if self._find_disguised([message.result], {}) is None:
                    if len(frame) <= self.max_message_size:
                        return frame
                    reason = f"is {len(frame)} bytes encoded, over max_message_size"
                else:
                    reason = "is a tuple or has non-str keys, which would not come back the same"
            except (TypeError, ValueError, OverflowError) as error:
                reason = self._find_unsendable([message.result], {})[1] or str(error)
            message = ReplyMessage(
                message.id,
                False,
                error_type="EventNotSerialisable",
                error_message=f"the handlers' result {reason}",
            )
        data = {
            "r": _WIRE_VERSION,
            "k": "r",
            "i": message.id,
            "ok": False,
            "et": message.error_type,
            "em": message.error_message,
            "tb": message.traceback[-16384:],
        }
        return self._dump(data)

    def _dump(self, data: dict[str, Any]) -> bytes:
        if self.format == "msgpack":
            frame: bytes = msgpack.packb(data, use_bin_type=True, strict_types=True)
            return frame
        return self._json.encode(data).encode()

    def unsendable(self, args: list[Any], kwargs: dict[str, Any]) -> tuple[str, str] | None:
        """``(argument, reason)`` of the first of *args* and *kwargs* this codec could not
        carry unchanged, or None when all of them can (size is not checked)."""
        where, reason = self._find_unsendable(args, kwargs)
        return (where, reason) if reason else None

    def _find_unsendable(self, args: list[Any], kwargs: dict[str, Any]) -> tuple[str, str]:
        """``(argument, reason)`` of the first value that cannot travel."""
        for index, value in enumerate(args):
            found = self._walk(value, f"args[{index}]", 0)
            if found is not None:
                return found
        for key, value in kwargs.items():
            found = self._walk(value, f"kwargs[{key!r}]", 0)
            if found is not None:
                return found
        return "an argument", ""

    def _find_disguised(self, args: list[Any], kwargs: dict[str, Any]) -> tuple[str, str] | None:
        """A tuple or a non-str key: JSON would send them as a list and a str key, and
        the receiver would get something else than was fired. Checked only for JSON,
        whose encoder accepts them silently (msgpack with strict types refuses them)."""
        if self.format != "json":
            return None
        return None if not _has_disguised(args, kwargs) else self._find_unsendable(args, kwargs)

    def _walk(self, value: Any, where: str, depth: int) -> tuple[str, str] | None:
        if depth > 100:
            return where, "is nested more than 100 levels deep"
        kind = type(value)
        if value is None or kind in (bool, str):
            return None
        if kind is int:
            if self.format == "msgpack" and not _INT64[0] <= value <= _INT64[1]:
                return where, "is an int outside 64 bits"
            return None
        if kind is float:
            if self.format == "json" and not math.isfinite(value):
                return where, f"is {value}, which JSON cannot carry"
            return None
        if kind is bytes:
            return (
                None if self.format == "msgpack" else (where, "is bytes, which JSON cannot carry")
            )
        if kind is list:
            for index, item in enumerate(value):
                found = self._walk(item, f"{where}[{index}]", depth + 1)
                if found is not None:
                    return found
            return None
        if kind is dict:
            for key, item in value.items():
                if type(key) is not str:
                    return f"{where}", f"has the key {key!r}, which is not a str"
                found = self._walk(item, f"{where}[{key!r}]", depth + 1)
                if found is not None:
                    return found
            return None
        if kind is tuple:
            return where, "is a tuple (send a list: it would arrive as one)"
        return where, f"is a {kind.__qualname__}"

    # -- decoding ----------------------------------------------------------------------

    def decode(self, frame: bytes) -> Message:
        """The message in *frame*, or :class:`BridgeProtocolError`."""
        if len(frame) > self.max_message_size:
            raise BridgeProtocolError(
                f"a {len(frame)}-byte frame is over max_message_size={self.max_message_size}"
            )
        data = self._load(frame)
        if not isinstance(data, dict) or data.get("r") != _WIRE_VERSION:
            raise BridgeProtocolError("not a relays-bridge message (or another wire version)")
        kind = data.get("k")
        if kind == "e":
            return self._event(data)
        if kind == "r":
            return self._reply(data)
        raise BridgeProtocolError(f"unknown message kind {kind!r}")

    def _load(self, frame: bytes) -> Any:
        if frame[:1] == b"{":
            try:
                return json.loads(frame)
            except (ValueError, RecursionError) as error:
                raise BridgeProtocolError(f"invalid JSON frame: {error}") from None
        if msgpack is None:
            raise BridgeProtocolError(
                "a msgpack frame arrived and msgpack is not installed: "
                "pip install 'relays-bridge[msgpack]' (or make the senders use format='json')"
            )
        try:
            return msgpack.unpackb(
                frame,
                raw=False,
                strict_map_key=True,
                ext_hook=_refuse_extension,
            )
        except Exception as error:  # msgpack raises many types for bad input
            raise BridgeProtocolError(f"invalid msgpack frame: {error}") from None

    def _event(self, data: dict[str, Any]) -> EventMessage:
        reply_to = data.get("t")
        version = data.get("v")
        fields = (data.get("i"), data.get("o"), data.get("n"), data.get("c"))
        args, kwargs = data.get("a"), data.get("w")
        if (
            not all(type(field) is str for field in fields)
            or type(version) is not int
            or type(args) is not list
            or type(kwargs) is not dict
            or not (reply_to is None or type(reply_to) is str)
        ):
            raise BridgeProtocolError("an event message with missing or mistyped fields")
        return EventMessage(
            data["i"], data["o"], data["n"], version, data["c"], args, kwargs, reply_to
        )

    def _reply(self, data: dict[str, Any]) -> ReplyMessage:
        identifier, ok = data.get("i"), data.get("ok")
        if type(identifier) is not str or type(ok) is not bool:
            raise BridgeProtocolError("a reply message with missing or mistyped fields")
        if ok:
            return ReplyMessage(identifier, True, data.get("x"))
        texts = (data.get("et"), data.get("em"), data.get("tb"))
        if not all(type(text) is str for text in texts):
            raise BridgeProtocolError("an error reply with missing or mistyped fields")
        return ReplyMessage(identifier, False, None, *texts)  # type: ignore[arg-type]


def _has_disguised(args: list[Any], kwargs: dict[str, Any]) -> bool:
    stack: list[Any] = [args, kwargs]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is tuple:
            return True
        if kind is list:
            stack.extend(value)
        elif kind is dict:
            for key, item in value.items():
                if type(key) is not str:
                    return True
                stack.append(item)
    return False


def _refuse_extension(code: int, data: bytes) -> Any:
    raise BridgeProtocolError(f"msgpack extension type {code} is not accepted")
