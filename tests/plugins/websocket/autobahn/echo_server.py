#!/usr/bin/env python3
"""The relays echo server the Autobahn TestSuite's fuzzing client tests (.ci/autobahn.sh).

Usage: python echo_server.py PORT  (serves ws://127.0.0.1:PORT/; ends on SIGTERM or SIGINT)
"""

from __future__ import annotations

import sys

from relays import Component
from relays_http import Server
from relays_websocket import WebSocket, WebSockets

#: Autobahn's case 9.* sends messages of up to 16 MiB.
LARGEST = 20 * 1024 * 1024


class Echo(Component):
    channel = "ws"

    def read(self, sock: WebSocket, message: str | bytes) -> str | bytes:
        return message


def main() -> None:
    port = int(sys.argv[1])
    app = Server(("127.0.0.1", port)) + WebSockets(
        "/", max_message=LARGEST, max_frame=LARGEST, max_outgoing=4 * LARGEST
    )
    app += Echo()
    app.run()


if __name__ == "__main__":
    main()
