"""Where each side of a server connection is in the request/response cycle.

The transitions are written once, in :class:`~relays_http._protocol.Connection`'s
methods, which are their source of truth: the few that run for every request are
plain assignments on the hot path, and a table consulted beside them would be a
second copy that could disagree. The diagram, kept in step with that code::

    client (their_state): IDLE -Request-> SEND_BODY -EndOfMessage-> DONE
    server (our_state):   IDLE -(Request received)-> SEND_RESPONSE
                          -InformationalResponse*-> SEND_RESPONSE
                          -Response-> SEND_BODY -Data*-> SEND_BODY
                          -EndOfMessage-> DONE
                          (send_whole: SEND_RESPONSE -> DONE in one step)

* a side in ``DONE`` moves to ``MUST_CLOSE`` as soon as the exchange is known not
  to be keep-alive (either side said ``Connection: close``, the response is
  delimited by closing, ...);
* both sides in ``DONE`` go back to ``IDLE`` on ``start_next_cycle``;
* the client's EOF moves it from ``IDLE``, ``DONE`` or ``MUST_CLOSE`` to
  ``CLOSED`` (elsewhere, EOF in the middle of a message is its protocol error);
  sending ``ConnectionClosed`` moves our side to ``CLOSED`` from any state but
  ``ERROR`` and ``SWITCHED_PROTOCOL``;
* ``switch_protocols`` (a ``101``) moves our side from ``SEND_RESPONSE`` and theirs from
  ``DONE`` to ``SWITCHED_PROTOCOL``, which has no way out: the connection belongs
  to another protocol;
* any protocol error moves the side at fault to ``ERROR``, which has no way out.

An event sent in a state the diagram does not allow is a
:class:`~relays_http._protocol.LocalProtocolError`, with nothing changed.
"""

from __future__ import annotations

import enum

__all__ = ["State"]


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
