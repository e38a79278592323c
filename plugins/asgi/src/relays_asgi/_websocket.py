"""One WebSocket's ASGI conversation, spoken through relays-websocket.

Theory of operation
-------------------
A request that asks to upgrade to WebSocket is checked as an opening handshake first
(relays-websocket's :func:`~relays_websocket.answer_request`): a bad one is answered
400/426 without calling the app. Otherwise the app is called with the ``websocket``
scope and its first ``receive`` says ``websocket.connect``. The handler waits on the
cycle's *decision*:

* ``websocket.accept`` switches the connection (relays-http's
  :class:`~relays_http.SwitchProtocols`, with the subprotocol and fields the app
  chose); once the ``101`` is written a relays-websocket
  :class:`~relays_websocket.WebSocket` speaks the frames, and ``receive``/``send``
  become its ``receive``/``send`` (so a slow peer pauses the app's ``send``);
* ``websocket.close`` before accepting is a 403;
* the app failing or returning before either is a 500, logged once.

After the switch, the peer's close (or the connection dropping) is
``websocket.disconnect`` with its code; ``send`` after it raises
:class:`~relays_asgi.ClientDisconnected`. An app that fails while the socket is open
has it closed with 1011 (logged once); one that returns closes it with 1000.
Compression (permessage-deflate) is not negotiated.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from relays.transports import Connection
from relays_http import HTTPError, Request
from relays_websocket import (
    ConnectionClosed,
    InvalidHandshake,
    ServerAnswer,
    WebSocket,
    WebSocketLimits,
    WebSocketProtocol,
    answer_request,
)

from ._errors import AsgiProtocolError, ClientDisconnected

__all__ = [
    "Refused",
    "WebSocketCycle",
    "check_handshake",
    "is_websocket_request",
    "offered_subprotocols",
    "refusal",
]

logger = logging.getLogger("relays.asgi")

_ABNORMAL = 1006
_INTERNAL_ERROR = 1011


def is_websocket_request(request: Request) -> bool:
    """Whether *request* asks to switch to WebSocket (its ``Upgrade`` field says so)."""
    upgrade = request.header(b"upgrade")
    return upgrade is not None and b"websocket" in upgrade.lower()


def check_handshake(request: Request, subprotocol: str | None = None) -> ServerAnswer:
    """The handshake's answer; raises :class:`~relays_websocket.InvalidHandshake`."""
    headers = request.headers
    return answer_request(
        request.method,
        headers.getall,
        subprotocols=(subprotocol,) if subprotocol else (),
        compression=False,
    )


def offered_subprotocols(request: Request) -> list[str]:
    return [
        token.strip()
        for value in request.headers.getall("sec-websocket-protocol")
        for token in value.split(",")
        if token.strip()
    ]


class WebSocketCycle:
    """One WebSocket's ``receive`` and ``send``, and the relays-http upgrade handler."""

    def __init__(self, request: Request, limits: WebSocketLimits) -> None:
        self.request = request
        self.limits = limits
        loop = asyncio.get_running_loop()
        #: Settles with ``("accept", subprotocol, fields)`` or ``("close", code)``, or
        #: with the app's failure before either.
        self.decision: asyncio.Future[tuple[Any, ...]] = loop.create_future()
        #: The open socket once the ``101`` is written; None when none will be.
        self._open: asyncio.Future[WebSocket | None] = loop.create_future()
        self._connect_given = False
        self._closed_by_app = False
        self._disconnect_given = False
        self.sock: WebSocket | None = None

    # -- the app's side ----------------------------------------------------------------

    async def receive(self) -> dict[str, Any]:
        if not self._connect_given:
            self._connect_given = True
            return {"type": "websocket.connect"}
        if not self.decision.done():
            await asyncio.wait([self.decision])
        sock = await self._socket()
        if sock is None:
            return self._disconnect(_ABNORMAL, "")
        try:
            message = await sock.receive()
        except ConnectionClosed as closed:
            return self._disconnect(closed.code, closed.reason)
        if isinstance(message, str):
            return {"type": "websocket.receive", "text": message}
        return {"type": "websocket.receive", "bytes": message}

    def _disconnect(self, code: int, reason: str) -> dict[str, Any]:
        self._disconnect_given = True
        return {"type": "websocket.disconnect", "code": code, "reason": reason}

    async def _socket(self) -> WebSocket | None:
        """The open socket, once the switch is done; None when there will be none."""
        if not self.decision.done() or self.decision.exception() is not None:
            return None
        if self.decision.result()[0] != "accept":
            return None
        return await self._open

    async def send(self, message: dict[str, Any]) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "websocket.accept":
            if self.decision.done():
                raise AsgiProtocolError("the app sent 'websocket.accept' twice, or after closing")
            subprotocol = message.get("subprotocol")
            if subprotocol is not None and subprotocol not in offered_subprotocols(self.request):
                raise AsgiProtocolError(
                    f"the app accepted subprotocol {subprotocol!r}, which the client did not"
                    " offer (scope['subprotocols'] lists those it did)"
                )
            fields = [
                (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
                for name, value in message.get("headers", ())
            ]
            self.decision.set_result(("accept", subprotocol, fields))
            return
        if kind == "websocket.close":
            code = int(message.get("code", 1000))
            if not self.decision.done():
                self.decision.set_result(("close", code))
                return
            sock = await self._socket()
            if sock is None:
                raise ClientDisconnected("the WebSocket is closed")
            self._closed_by_app = True
            sock.close(code, str(message.get("reason") or ""))
            return
        if kind == "websocket.send":
            if not self.decision.done():
                raise AsgiProtocolError("the app sent 'websocket.send' before 'websocket.accept'")
            sock = await self._socket()
            if sock is None or self._closed_by_app or self._disconnect_given:
                raise ClientDisconnected("the WebSocket is closed")
            text, data = message.get("text"), message.get("bytes")
            if text is not None:
                payload: str | bytes = str(text)
            elif data is not None:
                payload = bytes(data)
            else:
                raise AsgiProtocolError("'websocket.send' needs 'text' or 'bytes'")
            try:
                await sock.send(payload)
            except ConnectionClosed as closed:
                raise ClientDisconnected(f"the WebSocket is closed ({closed.code})") from None
            return
        raise AsgiProtocolError(
            "a WebSocket app sends 'websocket.accept', 'websocket.send' and"
            f" 'websocket.close' messages, not {message!r}"
        )

    # -- the app's task ends -----------------------------------------------------------

    def app_returned(self) -> None:
        if not self.decision.done():
            self.app_failed(AsgiProtocolError("the app returned without accepting or closing"))
            return
        if self.sock is not None and not self.sock.closed:
            self.sock.close(1000, "")

    def app_failed(self, error: BaseException) -> None:
        if not self.decision.done():
            self._log(error, "before accepting the WebSocket")
            self.decision.set_exception(Refused(error))
            return
        if isinstance(error, ClientDisconnected):
            return
        self._log(error, "while its WebSocket was open")
        if self.sock is not None and not self.sock.closed:
            self.sock.close(_INTERNAL_ERROR, "")

    def give_up(self) -> None:
        if not self.decision.done():
            self.decision.set_exception(Refused(asyncio.CancelledError()))
        if not self._open.done():
            self._open.set_result(None)
        if self.sock is not None and not self.sock.closed:
            self.sock.close(1001, "")

    def _log(self, error: BaseException, when: str) -> None:
        logger.error(
            "the ASGI app failed %s, for %s",
            when,
            self.request.target,
            exc_info=(type(error), error, error.__traceback__),
        )

    # -- relays-http's side: the UpgradeHandler ----------------------------------------

    def connection_made(self, connection: Connection, buffered: bytes) -> None:
        decision = self.decision.result()
        sock = self.sock = WebSocket(
            connection,
            WebSocketProtocol(is_client=False, limits=self.limits),
            on_message=None,
            on_disconnect=self._gone,
            path=self.request.path,
            subprotocol=decision[1],
            request=self.request,
        )
        if not self._open.done():
            self._open.set_result(sock)
        if buffered:
            sock.feed(buffered)

    def data_received(self, data: bytes) -> None:
        if self.sock is not None:
            self.sock.feed(data)

    def eof_received(self) -> None:
        if self.sock is not None:
            self.sock.eof()

    def connection_lost(self, error: BaseException | None) -> None:
        if self.sock is not None:
            self.sock.connection_lost(error)
        elif not self._open.done():
            self._open.set_result(None)

    def _gone(self, sock: WebSocket) -> None:
        """relays-websocket says the connection ended: ``receive`` hears it."""

    def __repr__(self) -> str:
        return f"<ASGI WebSocket {self.request.path}>"


class Refused(Exception):
    """The app failed (or was given up) before deciding: answered 500, already logged."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def refusal(error: InvalidHandshake) -> HTTPError:
    """The HTTP answer to a bad opening handshake, as relays-websocket gives it."""
    extra = None
    if error.status == 426:
        extra = {"Sec-WebSocket-Version": "13", "Upgrade": "websocket"}
    return HTTPError(error.status, str(error), headers=extra)
