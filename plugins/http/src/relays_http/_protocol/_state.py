"""The per-side state machines of a server connection, as data tables.

Each side of the connection (the client that sends requests, the server that
sends responses) has its own :class:`State`. Legal transitions for events are
listed in :data:`CLIENT_TRANSITIONS` and :data:`SERVER_TRANSITIONS`; anything
missing from a table is illegal in that state. Two transitions are not driven by
an event and live in :class:`Connection` code instead:

* a side in ``DONE`` moves to ``MUST_CLOSE`` as soon as the exchange is known not
  to be keep-alive (either side said ``Connection: close``, the response is
  delimited by closing, ...);
* both sides in ``DONE`` go back to ``IDLE`` on :meth:`Connection.start_next_cycle`.

Any protocol error moves the side at fault to ``ERROR``, which has no way out.

Switching protocols. A ``101 Switching Protocols`` is not an ordinary interim
response: after it the bytes on the connection are no longer HTTP. It is sent
only through :meth:`Connection.switch_protocols`, the one step keyed
:data:`SWITCH` in the server table, and both sides then rest in
``SWITCHED_PROTOCOL``, which has no way out either: the connection belongs to
the new protocol.
"""

from __future__ import annotations

import enum

from ._events import (
    ConnectionClosed,
    Data,
    EndOfMessage,
    InformationalResponse,
    Request,
    Response,
)

__all__ = ["CLIENT_TRANSITIONS", "SERVER_TRANSITIONS", "SWITCH", "State"]


class State(enum.Enum):
    """Where one side of the connection is in the request/response cycle."""

    #: Waiting for a request head (client) / for a request to answer (server).
    IDLE = "IDLE"
    #: Server only: a request arrived; 1xx responses may be sent, then the final head.
    SEND_RESPONSE = "SEND_RESPONSE"
    #: The head is out; body :class:`Data` follows until :class:`EndOfMessage`.
    SEND_BODY = "SEND_BODY"
    #: The message is complete and the connection may be reused.
    DONE = "DONE"
    #: The message is complete and the connection must close afterwards.
    MUST_CLOSE = "MUST_CLOSE"
    #: This side has closed.
    CLOSED = "CLOSED"
    #: This side broke the protocol; the connection is unusable.
    ERROR = "ERROR"
    #: A ``101 Switching Protocols`` went out: the connection speaks another protocol.
    SWITCHED_PROTOCOL = "SWITCHED_PROTOCOL"


IDLE = State.IDLE
SEND_RESPONSE = State.SEND_RESPONSE
SEND_BODY = State.SEND_BODY
DONE = State.DONE
MUST_CLOSE = State.MUST_CLOSE
CLOSED = State.CLOSED
SWITCHED_PROTOCOL = State.SWITCHED_PROTOCOL

#: The key of the ``101 Switching Protocols`` step in :data:`SERVER_TRANSITIONS`
#: (not an event type: the step is :meth:`Connection.switch_protocols`).
SWITCH = "switch protocols"

#: (client state, received event type) -> next client state.
CLIENT_TRANSITIONS: dict[tuple[State, type], State] = {
    (IDLE, Request): SEND_BODY,
    (SEND_BODY, Data): SEND_BODY,
    (SEND_BODY, EndOfMessage): DONE,
    (IDLE, ConnectionClosed): CLOSED,
    (DONE, ConnectionClosed): CLOSED,
    (MUST_CLOSE, ConnectionClosed): CLOSED,
}

#: (server state, sent event type) -> next server state. The server leaves
#: ``IDLE`` for ``SEND_RESPONSE`` when the client's :class:`Request` arrives.
SERVER_TRANSITIONS: dict[tuple[State, type | str], State] = {
    (SEND_RESPONSE, InformationalResponse): SEND_RESPONSE,
    (SEND_RESPONSE, SWITCH): SWITCHED_PROTOCOL,
    (SEND_RESPONSE, Response): SEND_BODY,
    (SEND_BODY, Data): SEND_BODY,
    (SEND_BODY, EndOfMessage): DONE,
    **{
        (state, ConnectionClosed): CLOSED
        for state in (IDLE, SEND_RESPONSE, SEND_BODY, DONE, MUST_CLOSE, CLOSED)
    },
}
