"""The sans-IO WebSocket protocol (RFC 6455): bytes in, messages out, and back.

Theory of operation. :class:`WebSocketProtocol` owns one connection's state after
the opening handshake. :meth:`~WebSocketProtocol.receive_data` takes whatever bytes
arrived and returns what they completed: data messages as plain ``str`` (text) and
``bytes`` (binary), so the common case costs no wrapper object, and control frames
as :class:`Ping`, :class:`Pong` and :class:`CloseReceived`. Bytes that do not yet
make a whole frame wait for the next call. Answers the protocol owes the peer (a
pong to a ping, the close frame echoed back) are queued for
:meth:`~WebSocketProtocol.data_to_send`; what the application sends
(:meth:`~WebSocketProtocol.send`, :meth:`~WebSocketProtocol.ping`,
:meth:`~WebSocketProtocol.close`) comes back as bytes at once.

A frame's header is checked as soon as it is complete, before its payload is
buffered: a reserved bit or opcode, an unmasked client frame, a fragmented or long
control frame, or a declared length over ``max_frame`` fail at once. A fragmented
message is reassembled with its running size checked against ``max_message``;
text is validated by an incremental UTF-8 decoder fed each fragment, so invalid
text fails on the fragment that holds it, not at the end. Control frames may come
between the fragments of a message and are answered at once.

A broken rule raises :class:`ProtocolError` carrying the close code (1002, 1007,
1009); the close frame with that code is already queued in ``data_to_send`` and
the protocol is closed: the I/O layer sends it and drops the connection.

States: OPEN; CLOSING once we sent a close frame (we still read, awaiting the
peer's); CLOSED once both close frames crossed or the connection failed.
"""

from __future__ import annotations

import codecs
import enum
import os
import struct

import attrs

from ._deflate import Deflate
from ._errors import LocalProtocolError, MessageTooLarge, ProtocolError
from ._limits import WebSocketLimits
from ._masking import fastest_apply_mask as apply_mask

__all__ = [
    "CloseReceived",
    "Ping",
    "Pong",
    "State",
    "WebSocketProtocol",
    "close_payload",
    "valid_close_code",
]

CONTINUATION, TEXT, BINARY = 0x0, 0x1, 0x2
CLOSE, PING, PONG = 0x8, 0x9, 0xA
_KNOWN_OPCODES = frozenset({CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG})
_HEADER_16 = struct.Struct("!BBH")
_HEADER_64 = struct.Struct("!BBQ")
_MAX_CONTROL_PAYLOAD = 125
#: Payloads shorter than this are sliced out of the read before unmasking (a short copy is
#: cheaper than a memoryview); longer ones are unmasked through a memoryview, in place.
_SLICE_BELOW = 1024


class State(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


_OPEN = State.OPEN
#: The 2-byte headers of a server's unmasked, final text and binary frames under 126
#: bytes, by opcode and length: sending a short message looks its header up.
_SHORT_HEADERS = {
    opcode: tuple(bytes((0x80 | opcode, length)) for length in range(126))
    for opcode in (TEXT, BINARY)
}


@attrs.frozen
class Ping:
    """The peer pinged; the pong is already queued."""

    payload: bytes


@attrs.frozen
class Pong:
    """The peer answered a ping (or sent an unsolicited pong, which is allowed)."""

    payload: bytes


@attrs.frozen
class CloseReceived:
    """The peer's close frame: code 1005 means it gave none."""

    code: int
    reason: str


Event = str | bytes | Ping | Pong | CloseReceived


def valid_close_code(code: int) -> bool:
    """Whether *code* may travel in a close frame (RFC 6455 7.4, IANA registry)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def close_payload(code: int, reason: str) -> bytes:
    """The payload of a close frame; raise :class:`LocalProtocolError` if it cannot be sent."""
    if code == 1005:
        return b""
    if not valid_close_code(code):
        raise LocalProtocolError(f"close code {code} may not be sent: use 1000 or 3000-4999")
    encoded = reason.encode()
    if len(encoded) > _MAX_CONTROL_PAYLOAD - 2:
        raise LocalProtocolError("a close reason is at most 123 bytes of UTF-8")
    return code.to_bytes(2, "big") + encoded


def _parse_close(payload: bytes) -> CloseReceived:
    if not payload:
        return CloseReceived(1005, "")
    if len(payload) == 1:
        raise ProtocolError("a close frame's payload is one byte: no room for a code")
    code = int.from_bytes(payload[:2], "big")
    if not valid_close_code(code):
        raise ProtocolError(f"close code {code} is not allowed on the wire")
    try:
        reason = payload[2:].decode()
    except UnicodeDecodeError:
        raise ProtocolError("a close reason is not valid UTF-8", 1007) from None
    return CloseReceived(code, reason)


class WebSocketProtocol:
    """One WebSocket connection after the handshake, without any I/O.

    *is_client* decides masking: a client masks what it sends and requires unmasked
    frames, a server the other way round. *deflate* is the permessage-deflate codec
    when the handshake agreed on it.
    """

    def __init__(
        self,
        *,
        is_client: bool,
        limits: WebSocketLimits | None = None,
        deflate: Deflate | None = None,
    ) -> None:
        self.is_client = is_client
        self.limits = limits or WebSocketLimits()
        self._deflate = deflate
        self._state = State.OPEN
        # Bytes received that do not make a whole frame yet, kept as the reads that brought
        # them and joined once the frame is complete (one copy, however many reads).
        self._pending: list[bytes] = []
        self._pending_size = 0
        # Bytes the pending reads must add up to before their first frame is complete (0:
        # not known yet). A read that does not complete a large frame is only appended: its
        # header was checked once already.
        self._needed = 0
        self._outgoing = bytearray()
        # The message being reassembled from fragments (opcode is None between messages).
        self._opcode: int | None = None
        self._compressed = False
        self._fragments: list[bytes] = []
        self._size = 0
        self._text: codecs.IncrementalDecoder | None = None
        #: The close frame the peer sent, once it did.
        self.close_received: CloseReceived | None = None
        #: The code we sent in our close frame, once we did.
        self.close_sent: int | None = None

    @property
    def state(self) -> State:
        return self._state

    # -- receiving --------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the peer; return the messages and control frames they complete.

        Raises :class:`ProtocolError` when the peer broke the protocol (the close
        frame that says so is then queued in :meth:`data_to_send`); what came before
        the bad frame is in the error's ``events``.
        """
        if self._state is State.CLOSED or (self.close_received is not None):
            return []
        pending = self._pending
        if pending:
            pending.append(data)
            self._pending_size += len(data)
            if self._pending_size < self._needed:
                return []
            data = b"".join(pending)
            self._pending = []
        events: list[Event] = []
        try:
            position = self._parse(data, events)
        except ProtocolError as error:
            self._fail(error.code, str(error))
            error.events = list(events)
            raise
        if position < len(data):
            rest = data[position:] if position else data
            self._pending = [rest]
            self._pending_size = len(rest)
        return events

    def _parse(self, view: bytes, events: list[Event]) -> int:
        masked_expected = 0 if self.is_client else 0x80
        max_frame = self.limits.max_frame
        max_whole = min(max_frame, self.limits.max_message)  # a one-frame message
        self._needed = 0
        position = 0
        end = len(view)
        memory: memoryview | None = None
        while end - position >= 2:
            first = view[position]
            second = view[position + 1]
            length = second & 0x7F
            header = 2
            if length == 126:
                if end - position < 4:
                    break
                length = (view[position + 2] << 8) | view[position + 3]
                header = 4
            elif length == 127:
                if end - position < 10:
                    break
                length = int.from_bytes(view[position + 2 : position + 10], "big")
                header = 10
            opcode = first & 0x0F
            # The common case, checked in one step: a whole text or binary message in one
            # frame, no extension bits, between messages (a new message in the middle of
            # a fragmented one is an error the general path raises).
            whole = (first == 0x82 or first == 0x81) and self._opcode is None
            if whole:
                if second & 0x80 != masked_expected:
                    raise ProtocolError(self._mask_error())
                if length > max_whole:
                    raise self._too_large(length)
            else:
                if (first & 0x70 and not (first & 0x40 and self._deflate)) or first & 0x30:
                    raise ProtocolError("a frame sets a reserved bit no extension negotiated")
                if opcode not in _KNOWN_OPCODES:
                    raise ProtocolError(f"opcode {opcode:#x} is reserved")
                if second & 0x80 != masked_expected:
                    raise ProtocolError(self._mask_error())
                if opcode >= CLOSE:
                    if not first & 0x80:
                        raise ProtocolError("a control frame must not be fragmented")
                    if length > _MAX_CONTROL_PAYLOAD:
                        raise ProtocolError("a control frame's payload is over 125 bytes")
                    if first & 0x40:
                        raise ProtocolError("a control frame must not be compressed")
                elif length > max_frame:
                    raise MessageTooLarge(
                        f"a frame of {length} bytes is over max_frame={max_frame}"
                    )
            if masked_expected:
                header += 4
            stop = position + header + length
            if stop > end:
                self._needed = stop - position
                break
            if masked_expected:
                start = stop - length
                if length < _SLICE_BELOW:
                    payload = apply_mask(view[start:stop], view[start - 4 : start])
                else:
                    # Masking reads the payload where it lies: one copy (the unmasked
                    # bytes), not two (a slice, then its unmasked copy).
                    if memory is None:
                        memory = memoryview(view)
                    payload = apply_mask(memory[start:stop], view[start - 4 : start])
            else:
                payload = bytes(view[position + header : stop])
            position = stop
            if whole:
                if first == 0x82:
                    events.append(payload)
                else:
                    try:
                        events.append(payload.decode())
                    except UnicodeDecodeError:
                        raise ProtocolError("a text message is not valid UTF-8", 1007) from None
            elif opcode >= CLOSE:
                self._control(opcode, payload, events)
                if self.close_received is not None:
                    break  # nothing after a close frame is read
            else:
                self._data(first, opcode, payload, events)
        return position

    def _mask_error(self) -> str:
        return (
            "a server must not mask its frames"
            if self.is_client
            else "a client must mask every frame"
        )

    def _too_large(self, length: int) -> MessageTooLarge:
        """The error for a one-frame message of *length* bytes over a limit."""
        max_frame = self.limits.max_frame
        if length > max_frame:
            return MessageTooLarge(f"a frame of {length} bytes is over max_frame={max_frame}")
        return MessageTooLarge(
            f"a message of {length} bytes is over max_message={self.limits.max_message}"
        )

    def _control(self, opcode: int, payload: bytes, events: list[Event]) -> None:
        if opcode == PING:
            if self._state is State.OPEN:
                self._outgoing += self._frame(PONG, payload)
            events.append(Ping(payload))
        elif opcode == PONG:
            events.append(Pong(payload))
        else:
            received = _parse_close(payload)
            self.close_received = received
            if self._state is State.OPEN:
                code = 1000 if received.code == 1005 else received.code
                self._outgoing += self._frame(CLOSE, code.to_bytes(2, "big"))
                self.close_sent = code
            self._state = State.CLOSED
            events.append(received)

    def _data(self, first: int, opcode: int, payload: bytes, events: list[Event]) -> None:
        final = first & 0x80
        if opcode == CONTINUATION:
            if self._opcode is None:
                raise ProtocolError("a continuation frame without a message to continue")
        elif self._opcode is not None:
            raise ProtocolError("a new message began before the last one was finished")
        else:
            self._opcode = opcode
            self._compressed = bool(first & 0x40)
            self._fragments = []
            self._size = 0
            self._text = codecs.getincrementaldecoder("utf-8")() if opcode == TEXT else None
            if self._compressed:
                assert self._deflate is not None
                self._deflate.start_message()
        if first & 0x40 and opcode == CONTINUATION:
            raise ProtocolError("only a message's first frame may set RSV1")
        room = self.limits.max_message - self._size
        if self._compressed:
            assert self._deflate is not None
            payload = self._deflate.decompress(payload, room, bool(final))
        elif len(payload) > room:
            raise MessageTooLarge(f"a message is over max_message={self.limits.max_message}")
        self._size += len(payload)
        if self._text is not None:
            try:
                self._fragments.append(self._text.decode(payload, bool(final)))  # type: ignore[arg-type]
            except UnicodeDecodeError:
                raise ProtocolError("a text message is not valid UTF-8", 1007) from None
        else:
            self._fragments.append(payload)
        if final:
            if self._text is not None:
                events.append("".join(self._fragments))  # type: ignore[arg-type]
            else:
                events.append(b"".join(self._fragments))
            self._opcode = None
            self._fragments = []
            self._text = None

    def _fail(self, code: int, reason: str) -> None:
        if self._state is State.OPEN:
            self._outgoing += self._frame(CLOSE, close_payload(code, reason[:100]))
            self.close_sent = code
        self._state = State.CLOSED
        self._pending = []
        self._needed = 0

    def data_to_send(self) -> bytes:
        """The bytes the protocol owes the peer (pongs, close answers), then forgotten."""
        if not self._outgoing:
            return b""
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    # -- sending ----------------------------------------------------------------

    def send(self, message: str | bytes | bytearray | memoryview) -> bytes:
        """The frame(s) of one message: ``str`` goes as text, bytes-like as binary."""
        if self._state is not _OPEN:
            raise LocalProtocolError("cannot send on a WebSocket that is closing or closed")
        if type(message) is bytes:
            opcode, payload = BINARY, message
        elif isinstance(message, str):
            opcode, payload = TEXT, message.encode()
        else:
            opcode, payload = BINARY, bytes(message)
        if self._deflate is not None:
            return self._frame(opcode, self._deflate.compress(payload), compressed=True)
        length = len(payload)
        if length < 126 and not self.is_client:
            # A server's short frame, the most common of all: its header is a constant.
            return _SHORT_HEADERS[opcode][length] + payload
        return self._frame(opcode, payload)

    def ping(self, payload: bytes = b"") -> bytes:
        """A ping frame (at most 125 bytes of payload)."""
        return self._control_frame(PING, payload)

    def pong(self, payload: bytes = b"") -> bytes:
        """An unsolicited pong frame (a heartbeat that wants no answer)."""
        return self._control_frame(PONG, payload)

    def _control_frame(self, opcode: int, payload: bytes) -> bytes:
        if self._state is not State.OPEN:
            raise LocalProtocolError("cannot send on a WebSocket that is closing or closed")
        if len(payload) > _MAX_CONTROL_PAYLOAD:
            raise LocalProtocolError("a ping or pong payload is at most 125 bytes")
        return self._frame(opcode, payload)

    def close(self, code: int = 1000, reason: str = "") -> bytes:
        """Our close frame; then we only wait for the peer's (state CLOSING).

        Returns ``b""`` when a close frame was already sent.
        """
        if self._state is not State.OPEN:
            return b""
        payload = close_payload(code, reason)
        self._state = State.CLOSING
        self.close_sent = code
        return self._frame(CLOSE, payload)

    def _frame(self, opcode: int, payload: bytes, compressed: bool = False) -> bytes:
        first = 0xC0 | opcode if compressed else 0x80 | opcode
        length = len(payload)
        mask_bit = 0x80 if self.is_client else 0
        if length < 126:
            header = bytes((first, length | mask_bit))
        elif length < 65536:
            header = _HEADER_16.pack(first, 126 | mask_bit, length)
        else:
            header = _HEADER_64.pack(first, 127 | mask_bit, length)
        if self.is_client:
            mask = os.urandom(4)
            return header + mask + apply_mask(payload, mask)
        return header + payload
